"""A Prometheus configuration for a local stack, made from the deployed one
(``deploy/prometheus/prometheus.yml``): the same jobs and rule files, each job's targets the
local processes of its service, and the intervals a caller asks for (the tests scrape every
second). Kept as a derivation, not a copy, so the two cannot drift apart."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from herald_devstack.stack import SCHEDULER, SERVICES, StackConfig, replica_names

Config = dict[str, Any]


def load(path: Path) -> Config:
    config: Config = yaml.safe_load(path.read_text())
    return config


def local_config(
    deployed: Path,
    cfg: StackConfig,
    *,
    interval: str | None = None,
    rule_files: list[Path] | None = None,
) -> Config:
    """``deployed`` with each job scraping its service's local processes on their metrics
    ports (every scheduler replica for ``scheduler``). ``interval`` sets the scrape and
    evaluation interval (and a timeout that fits in it); ``rule_files`` replaces the rule
    files, which are otherwise the deployed ones, made absolute (Prometheus reads them relative
    to its configuration file).
    ValueError when a job is not a Herald service or a service has no job."""
    config = copy.deepcopy(load(deployed))
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    if sorted(jobs) != sorted(SERVICES):
        raise ValueError(f"{deployed} scrapes {sorted(jobs)}, not the services {sorted(SERVICES)}")
    for job in config["scrape_configs"]:
        service = job["job_name"]
        replicas = cfg.scheduler_replicas if service == SCHEDULER else 1
        targets = [f"{cfg.host}:{cfg.metrics_ports[n]}" for n in replica_names(service, replicas)]
        job["static_configs"] = [{"targets": targets}]
    if interval is not None:
        config.setdefault("global", {}).update(
            scrape_interval=interval, evaluation_interval=interval, scrape_timeout=interval
        )
    if rule_files is None:
        rule_files = [deployed.parent / name for name in config.get("rule_files", [])]
    config["rule_files"] = [str(path.resolve()) for path in rule_files]
    return config


def write(config: Config, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
