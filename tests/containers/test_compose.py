"""docker-compose.yml's Herald services run for real from the built image: `docker-compose up`
with the CI override (deploy/compose/ci-host-network.yml: the host's network, the suite's local
Kafka and MongoDB-wire server behind stand-ins, free ports) starts the five services and the
two gateway simulators in the order their depends_on conditions say, each becomes healthy by
its own healthcheck, and together they send a campaign.

Compose 1 cannot drop a list in an override, and the engine refuses published ports on the
host's network; so `up` runs on the two files as `docker-compose config` merges them, less
their `ports` (which the host's network makes needless), and nothing else changed."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from herald_devstack.processes import free_ports
from herald_devstack.stack import SERVICES
from herald_devstack.waiting import eventually
from tests.containers.engine import DockerEngine
from tests.containers.herald_containers import docker_client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = ("docker-compose.yml", "deploy/compose/ci-host-network.yml")
SIMULATORS = ("gateway-primary", "gateway-fallback")
STAND_INS = ("kafka", "mongo")
HEALTHY_WITHIN_S = 240.0
PORT_VARIABLES = {
    "campaign": "CI_CAMPAIGN_PORT",
    "dispatcher": "CI_DISPATCHER_PORT",
    "primary-sender": "CI_PRIMARY_SENDER_PORT",
    "fallback-sender": "CI_FALLBACK_SENDER_PORT",
    "scheduler": "CI_SCHEDULER_PORT",
    "gateway-primary": "CI_PRIMARY_GATEWAY_PORT",
    "gateway-fallback": "CI_FALLBACK_GATEWAY_PORT",
}
METRICS_PORT_VARIABLES = {
    "campaign": "CI_CAMPAIGN_METRICS_PORT",
    "dispatcher": "CI_DISPATCHER_METRICS_PORT",
    "primary-sender": "CI_PRIMARY_SENDER_METRICS_PORT",
    "fallback-sender": "CI_FALLBACK_SENDER_METRICS_PORT",
    "scheduler": "CI_SCHEDULER_METRICS_PORT",
}


class Compose:
    """docker-compose on the test's engine, with the base file and the CI override."""

    def __init__(self, docker_host: str, variables: dict[str, str], folder: Path) -> None:
        self.project = f"herald-ci-{uuid.uuid4().hex[:8]}"
        self.files = [option for name in COMPOSE_FILES for option in ("-f", name)]
        self.folder = folder
        self.env = {**os.environ, "DOCKER_HOST": docker_host, **variables}
        self.ports = {name: int(variables[var]) for name, var in PORT_VARIABLES.items()}
        self.metrics_ports = {
            name: int(variables[var]) for name, var in METRICS_PORT_VARIABLES.items()
        }

    def run(self, *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker-compose", "-p", self.project, *self.files, *arguments],
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def config(self) -> dict[str, Any]:
        resolved = self.run("config")
        assert resolved.returncode == 0, resolved.stderr
        config: dict[str, Any] = yaml.safe_load(resolved.stdout)
        return config

    def use_merged_without_ports(self) -> dict[str, Any]:
        """From now on, run on the merged file less its published ports; returns it."""
        config = self.config()
        for service in config["services"].values():
            service.pop("ports", None)
        merged = self.folder / "docker-compose.ci-merged.yml"
        merged.write_text(yaml.safe_dump(config, sort_keys=False))
        # The project directory stays the repository's (relative paths, volume names).
        self.files = ["-f", str(merged), "--project-directory", str(ROOT)]
        return config


@pytest.fixture(scope="module")
def compose(
    engine: DockerEngine,
    herald_image: str,
    kafka_bootstrap: str,
    mongodb_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Compose]:
    wanted = [*PORT_VARIABLES.values(), *METRICS_PORT_VARIABLES.values()]
    ports = free_ports(len(wanted))
    variables = {
        "HERALD_IMAGE": herald_image,
        "HERALD_API_TOKEN": f"compose-{uuid.uuid4().hex}",
        "HERALD_WEBHOOK_HMAC_KEY": uuid.uuid4().hex,
        "CI_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CI_MONGODB_URL": mongodb_url,
        "CI_MONGODB_DATABASE": f"herald_compose_{uuid.uuid4().hex[:8]}",
        **{var: str(port) for var, port in zip(wanted, ports, strict=True)},
    }
    project = Compose(engine.docker_host, variables, tmp_path_factory.mktemp("compose"))
    # Never a Docker network: a user-defined one is a bridge on the host. Every service of the
    # merged file must use the host's network before anything is started.
    not_host = {
        name: service.get("network_mode")
        for name, service in project.use_merged_without_ports()["services"].items()
        if service.get("network_mode") != "host"
    }
    assert not_host == {}, f"services that would need a Docker network: {not_host}"
    up = project.run("up", "-d", "--no-build", *SERVICES, timeout=HEALTHY_WITHIN_S)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield project
    finally:
        down = project.run("down", "--volumes", "--remove-orphans", "--timeout", "30")
        assert down.returncode == 0, down.stdout + down.stderr


def containers_of(compose: Compose, docker_host: str) -> dict[str, Any]:
    client = docker_client(docker_host)
    try:
        found = client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={compose.project}"}
        )
        return {c.labels["com.docker.compose.service"]: c for c in found}
    finally:
        client.close()


def health(compose: Compose, docker_host: str) -> dict[str, str]:
    return {
        name: container.attrs["State"].get("Health", {}).get("Status", "none")
        for name, container in containers_of(compose, docker_host).items()
    }


async def test_compose_starts_herald_services_healthy_and_they_send(
    compose: Compose, engine: DockerEngine
) -> None:
    async def statuses() -> dict[str, str]:
        return health(compose, engine.docker_host)

    expected = {*SERVICES, *SIMULATORS, *STAND_INS}
    await eventually(
        statuses,
        lambda found: set(found) == expected and set(found.values()) == {"healthy"},
        timeout=HEALTHY_WITHIN_S,
        interval=1.0,
        what="every Herald service of docker-compose.yml healthy",
    )
    client = docker_client(engine.docker_host)
    try:
        assert {n.name for n in client.networks.list()} <= {"host", "none"}
    finally:
        client.close()

    async with httpx.AsyncClient(timeout=30) as http:
        for service in SERVICES:
            ready = await http.get(f"http://127.0.0.1:{compose.ports[service]}/readyz")
            assert ready.status_code == 200 and ready.json()["service"] == service, ready.text
            # Metrics only on the metrics listener, never on the service's own port.
            hidden = await http.get(f"http://127.0.0.1:{compose.ports[service]}/metrics")
            assert hidden.status_code == 404, (service, hidden.text)
            metrics = await http.get(f"http://127.0.0.1:{compose.metrics_ports[service]}/metrics")
            assert metrics.status_code == 200, (service, metrics.text)
            assert "herald_message_transitions_total" in metrics.text, service

    token = compose.env["HERALD_API_TOKEN"]
    api = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{compose.ports['campaign']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    async with api:
        created = await api.post(
            "/api/campaigns",
            json={"name": "compose", "messageBody": "Hi {{name}}", "delayType": "fast"},
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        contacts = [{"phone": "+14155550100", "name": "Ada"}, {"phone": "+14155550101"}]
        added = await api.post(
            f"/api/campaigns/{campaign_id}/contacts", json={"contacts": contacts}
        )
        assert added.status_code == 200 and added.json()["accepted"] == 2, added.text
        sent = await api.post(f"/api/campaigns/{campaign_id}/send")
        assert sent.status_code == 202, sent.text

        async def stats() -> dict[str, Any]:
            answer = await api.get(f"/api/messages/campaign/{campaign_id}/stats")
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        await eventually(
            stats,
            lambda s: s["sent"] == 2,
            timeout=120,
            what="the campaign sent through the compose services",
        )
