"""The docker-compose stack is valid for Docker Compose and says what Herald needs: Kafka and a
MongoDB replica set that initiates itself, the five services and two gateway simulators started
in order (healthchecks and depends_on conditions), Prometheus scraping every service, Grafana
provisioned with Prometheus and Herald's dashboards, and the "waha" profile with WAHA for each
engine. Checked with `docker-compose config` (Debian's docker-compose, or `docker compose`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from tests.herald_services import DEFAULT_METRICS_PORTS, DEFAULT_PORTS, SENDERS, command
from tests.promtool import promtool

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
WAHA_ENV = ROOT / "deploy" / "compose" / "waha.env"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana"
GATEWAYS = {"primary-sender": "gateway-primary", "fallback-sender": "gateway-fallback"}
WAHA = {"primary-sender": ("waha-noweb", "NOWEB"), "fallback-sender": ("waha-webjs", "WEBJS")}


REQUIRED_VARIABLES = {
    "HERALD_API_TOKEN": "validation-only",
    "HERALD_WEBHOOK_HMAC_KEY": "validation-only-key",
}
"""What compose refuses to start without: secrets it has no default for."""


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return ["docker", "compose"]


def compose_config(*options: str) -> dict[str, Any]:
    """The compose file as Compose resolves it (variables, anchors, defaults)."""
    result = subprocess.run(
        [*compose_command(), *options, "-f", str(COMPOSE), "config"],
        env={**os.environ, **REQUIRED_VARIABLES},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def raw_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """A service's files and folders of this repository → where they are mounted; from the
    short form (``src:target[:mode]``, docker-compose 1) or the long one (docker compose 2)."""
    mounts: dict[str, str] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = str(volume.get("source", "")), volume["target"]
        if source.startswith(str(ROOT)):
            mounts[Path(source).relative_to(ROOT).as_posix()] = target
    return mounts


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    resolved: dict[str, Any] = compose_config()["services"]
    return resolved


def test_docker_compose_file_is_valid() -> None:
    result = subprocess.run(
        [*compose_command(), "-f", str(COMPOSE), "config", "-q"],
        env={**os.environ, **REQUIRED_VARIABLES},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(REQUIRED_VARIABLES))
def test_compose_refuses_to_start_without_a_secret(missing: str) -> None:
    """No published default stands in for the API token or the webhook key."""
    given = {k: v for k, v in REQUIRED_VARIABLES.items() if k != missing}
    result = subprocess.run(
        [*compose_command(), "-f", str(COMPOSE), "config", "-q"],
        env={**{k: v for k, v in os.environ.items() if k not in REQUIRED_VARIABLES}, **given},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert missing in result.stderr


def test_compose_runs_the_five_services_on_kafka_and_the_mongodb_replica_set(
    services: dict[str, Any],
) -> None:
    assert set(DEFAULT_PORTS) | {"kafka", "mongo"} <= set(services)
    replica_set = services["mongo"]["command"][services["mongo"]["command"].index("--replSet") + 1]
    for name, port in DEFAULT_PORTS.items():
        service = services[name]
        assert service["command"] == [command(name)]
        env = service["environment"]
        assert env["HERALD_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        mongodb = urlparse(env["HERALD_MONGODB_URL"])
        assert (mongodb.hostname, mongodb.port) == ("mongo", 27017)
        assert parse_qs(mongodb.query)["replicaSet"] == [replica_set]
        assert env["HERALD_HTTP_PORT"] == str(port)
        assert env["HERALD_HTTP_HOST"] == "0.0.0.0"
    assert services["campaign"]["environment"]["HERALD_API_TOKEN"] == "validation-only"


def test_the_mongodb_healthcheck_initiates_the_replica_set_the_services_use(
    services: dict[str, Any],
) -> None:
    check = " ".join(services["mongo"]["healthcheck"]["test"])
    assert "rs.initiate" in check and "_id: 'rs0'" in check
    assert "host: 'mongo:27017'" in check  # the address the services connect to
    assert "isWritablePrimary" in check  # healthy only once this node can take writes


def test_every_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"}, name
    for name, port in DEFAULT_PORTS.items():
        # Herald's services are healthy once ready: Kafka and MongoDB answer them.
        assert "/readyz" in " ".join(services[name]["healthcheck"]["test"]), name
        assert services[name]["environment"]["HERALD_HTTP_PORT"] == str(port)


def test_services_start_once_what_they_need_is_healthy(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
    for name in DEFAULT_PORTS:
        assert {"kafka", "mongo"} <= set(services[name]["depends_on"]), name
    for sender, gateway in GATEWAYS.items():
        assert gateway in services[sender]["depends_on"]
        assert services[sender]["environment"]["HERALD_GATEWAY_URL"].startswith(
            f"http://{gateway}:"
        )
    assert set(services["grafana"]["depends_on"]) == {"prometheus"}


def test_senders_get_time_to_stop_gracefully(services: dict[str, Any]) -> None:
    for sender in SENDERS:
        assert services[sender]["stop_grace_period"] == "90s"


def test_the_waha_profile_adds_waha_per_engine_and_points_the_senders_at_it() -> None:
    raw = raw_services()
    profiled = {name for name, service in raw.items() if service.get("profiles")}
    assert profiled == {"waha-noweb", "waha-webjs"}  # a plain `up` is unchanged
    env_file = dict(
        line.split("=", 1)
        for line in WAHA_ENV.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert env_file["COMPOSE_PROFILES"] == "waha"
    services = compose_config("--env-file", str(WAHA_ENV))["services"]
    campaign_env = services["campaign"]["environment"]
    for sender, (waha, engine) in WAHA.items():
        assert services[waha]["profiles"] == ["waha"]
        waha_env = services[waha]["environment"]
        assert waha_env["WHATSAPP_DEFAULT_ENGINE"] == engine
        assert services[sender]["environment"]["HERALD_GATEWAY_URL"] == f"http://{waha}:3000"
        # The senders authenticate with WAHA's key; receipts reach the campaign's webhook,
        # signed with the key it verifies.
        assert waha_env["WAHA_API_KEY"] == services[sender]["environment"]["HERALD_GATEWAY_API_KEY"]
        assert waha_env["WHATSAPP_HOOK_URL"] == "http://campaign:3000/api/webhooks/waha"
        assert "message.ack" in waha_env["WHATSAPP_HOOK_EVENTS"].split(",")
        assert waha_env["WHATSAPP_HOOK_HMAC_KEY"] == campaign_env["HERALD_WAHA_WEBHOOK_HMAC_KEY"]
        assert any(v.endswith(":/app/.sessions") for v in raw[waha]["volumes"])


def test_metrics_listen_on_their_own_port_which_is_never_published(
    services: dict[str, Any],
) -> None:
    for name, port in DEFAULT_METRICS_PORTS.items():
        env = services[name]["environment"]
        assert env["HERALD_METRICS_PORT"] == str(port), name
        assert env["HERALD_METRICS_PORT"] != env["HERALD_HTTP_PORT"], name
        for mapping in services[name].get("ports", []):
            # Resolved as {target, published} or kept as "host:container".
            if isinstance(mapping, dict):
                ends = {str(mapping.get("target")), str(mapping.get("published"))}
            else:
                ends = set(str(mapping).split(":"))
            assert str(port) not in ends, (name, mapping)


def test_prometheus_scrapes_every_service_on_its_metrics_port(services: dict[str, Any]) -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    scraped = {
        job["job_name"]: [t for s in job["static_configs"] for t in s["targets"]]
        for job in config["scrape_configs"]
    }
    expected = {
        name: [f"{name}:{services[name]['environment']['HERALD_METRICS_PORT']}"]
        for name in DEFAULT_PORTS
    }
    assert scraped == expected
    mounts = bind_mounts(services["prometheus"])
    assert mounts["deploy/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    # prometheus.yml names its rule file relative to itself: the alerts must sit beside it.
    assert config["rule_files"] == ["alerts.yml"]
    assert mounts["deploy/prometheus/alerts.yml"] == "/etc/prometheus/alerts.yml"


def test_the_prometheus_configuration_passes_promtool() -> None:
    result = subprocess.run(
        [promtool(), "check", "config", "--syntax-only", str(PROMETHEUS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_is_provisioned_with_prometheus_and_the_dashboards(
    services: dict[str, Any],
) -> None:
    mounts = bind_mounts(services["grafana"])
    assert mounts["deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (prometheus,) = datasources["datasources"]
    assert (prometheus["type"], prometheus["uid"]) == ("prometheus", "prometheus")
    url = urlparse(prometheus["url"])
    assert url.hostname == "prometheus" and url.hostname in services
    assert any(str(url.port) in p for p in map(str, services["prometheus"]["ports"]))
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/herald.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert mounts["deploy/grafana/dashboards"] == provider["options"]["path"]
    assert (GRAFANA / "dashboards").is_dir()
