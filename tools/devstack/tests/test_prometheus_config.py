"""The local Prometheus configuration is the deployed one with the stack's addresses: each
process's metrics listener, never its HTTP port."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from herald_devstack import prometheus
from herald_devstack.stack import StackConfig

DEPLOYED = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "prometheus.yml"


def stack(tmp_path: Path) -> StackConfig:
    names = ["campaign", "dispatcher", "primary-sender", "fallback-sender"]
    names += ["scheduler", "scheduler-2"]
    return StackConfig(
        "k:9092",
        "mongodb://m",
        tmp_path,
        "t",
        service_ports={name: 4000 + n for n, name in enumerate(names)},
        metrics_ports={name: 5000 + n for n, name in enumerate(names)},
        scheduler_replicas=2,
    )


def targets(config: prometheus.Config) -> dict[str, list[str]]:
    return {
        job["job_name"]: [t for s in job["static_configs"] for t in s["targets"]]
        for job in config["scrape_configs"]
    }


def test_each_job_scrapes_its_service_s_local_processes(tmp_path: Path) -> None:
    config = prometheus.local_config(DEPLOYED, stack(tmp_path))
    assert targets(config) == {
        "campaign": ["127.0.0.1:5000"],
        "dispatcher": ["127.0.0.1:5001"],
        "primary-sender": ["127.0.0.1:5002"],
        "fallback-sender": ["127.0.0.1:5003"],
        "scheduler": ["127.0.0.1:5004", "127.0.0.1:5005"],
    }
    deployed = yaml.safe_load(DEPLOYED.read_text())
    # Intervals and rule files as deployed; the rule files found from anywhere.
    assert config["global"] == deployed["global"]
    assert config["rule_files"] == [str(DEPLOYED.parent / name) for name in deployed["rule_files"]]
    assert all(Path(path).is_file() for path in config["rule_files"])


def test_an_interval_and_rule_files_can_be_given(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    config = prometheus.local_config(DEPLOYED, stack(tmp_path), interval="1s", rule_files=[rules])
    assert config["global"] == {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "evaluation_interval": "1s",
    }
    assert config["rule_files"] == [str(rules)]
    written = prometheus.write(config, tmp_path / "out" / "prometheus.yml")
    assert yaml.safe_load(written.read_text()) == config


def test_a_job_that_is_no_service_is_refused(tmp_path: Path) -> None:
    deployed = yaml.safe_load(DEPLOYED.read_text())
    deployed["scrape_configs"].append({"job_name": "worker", "static_configs": []})
    strange = tmp_path / "prometheus.yml"
    strange.write_text(yaml.safe_dump(deployed))
    with pytest.raises(ValueError, match="worker"):
        prometheus.local_config(strange, stack(tmp_path))
