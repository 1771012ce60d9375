"""What deploy/, k8s/ and docker-compose.yml hold is valid for the tools that read it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return ["docker", "compose"]


def test_docker_compose_file_is_valid() -> None:
    result = subprocess.run(
        [*compose_command(), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        env={**os.environ, "HERALD_API_TOKEN": "validation-only"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_the_five_services_kafka_and_mongodb() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    expected = {"campaign", "dispatcher", "primary-sender", "fallback-sender", "scheduler"}
    assert expected | {"kafka", "mongo"} <= set(services)
    for name in expected:
        assert services[name]["command"] == [f"herald-{name}"]


def test_kustomize_base_builds_a_deployment_per_service() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s" / "base")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    deployments = {d["metadata"]["name"] for d in documents if d["kind"] == "Deployment"}
    assert deployments == {
        "campaign",
        "dispatcher",
        "primary-sender",
        "fallback-sender",
        "scheduler",
    }
