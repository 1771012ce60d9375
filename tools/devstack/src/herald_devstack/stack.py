"""The processes of Herald's system and their wiring (ports, environment)."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from herald_devstack.processes import ManagedProcess, free_port, free_ports, wait_ready

SERVICES = ("campaign", "dispatcher", "primary-sender", "fallback-sender", "scheduler")
SCHEDULER = "scheduler"


def replica_names(service: str, replicas: int) -> list[str]:
    """The process names of a service's replicas: ``scheduler``, ``scheduler-2``, …"""
    return [service, *(f"{service}-{n}" for n in range(2, replicas + 1))]


def process_names(scheduler_replicas: int = 1) -> list[str]:
    """Every service process of a stack (the scheduler may run several replicas)."""
    names: list[str] = []
    for service in SERVICES:
        names += replica_names(service, scheduler_replicas if service == SCHEDULER else 1)
    return names


def venv_program(name: str) -> str:
    """A console script installed next to the running interpreter (the project's venv)."""
    return str(Path(sys.executable).parent / name)


@dataclass(frozen=True)
class StackConfig:
    """Where everything listens and what it connects to."""

    kafka_bootstrap: str
    mongodb_url: str
    run_dir: Path
    api_token: str
    database: str = "herald"
    gateway_api_key: str = "herald-simulator-key"
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    """The operator credential (HERALD_ADMIN_TOKEN): the /api/admin routes, nothing else."""
    webhook_hmac_key: str = field(default_factory=lambda: secrets.token_hex(24))
    """Signs the simulators' delivery receipts to the campaign service's deployment-wide webhook
    (WAHA Plus's HMAC); random for each stack, never a published default."""
    evolution_webhook_token: str = field(default_factory=lambda: secrets.token_hex(24))
    """What an Evolution API gateway would send the campaign service with its receipts."""
    receipt_delay_ms: float | None = None
    """Receipts from both simulators this long after each accepted send. None: off at start;
    the simulators still know where to send them (``PUT /_sim/config {"receipts": true}``)."""
    read_receipt_delay_ms: float | None = None
    """A read receipt this long after the delivered one; None: none."""
    host: str = "127.0.0.1"
    service_ports: Mapping[str, int] = field(
        default_factory=lambda: {
            "campaign": 3000,
            "dispatcher": 9102,
            "primary-sender": 9103,
            "fallback-sender": 9104,
            "scheduler": 9105,
        }
    )
    metrics_ports: Mapping[str, int] = field(
        default_factory=lambda: {
            "campaign": 9401,
            "dispatcher": 9402,
            "primary-sender": 9403,
            "fallback-sender": 9404,
            "scheduler": 9405,
        }
    )
    """Each process's metrics listener (``/metrics``; the services' default ports), keyed as
    ``service_ports``."""
    primary_gateway_port: int = 3100
    fallback_gateway_port: int = 3101
    service_env: Mapping[str, str] = field(default_factory=dict)
    """Extra HERALD_* settings for every service (tests tune partitions, leases …)."""
    scheduler_replicas: int = 1
    """Scheduler processes (one fires at a time; the others stand by): ``scheduler``,
    ``scheduler-2`` …, each on its ports in ``service_ports`` and ``metrics_ports``."""
    simulator_args: tuple[str, ...] = ()

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def metrics_url(self, name: str) -> str:
        """Where Prometheus scrapes one process: its metrics listener's ``/metrics``."""
        return f"{self.url(self.metrics_ports[name])}/metrics"

    @property
    def api_url(self) -> str:
        return self.url(self.service_ports["campaign"])

    @property
    def archive_dir(self) -> Path:
        """Where the scheduler's retention job archives runs' messages: ``archive`` beside the
        processes' directory (``.local/archive`` under ``make up``)."""
        return self.run_dir.parent / "archive"

    @property
    def receipts_url(self) -> str:
        """Where WAHA-shaped delivery receipts go: the campaign service's webhook."""
        return f"{self.api_url}/api/webhooks/waha"


def receipt_args(cfg: StackConfig) -> list[str]:
    """The simulator options that send delivery receipts to the campaign service."""
    # One argument each (--option=value): a value may not be mistaken for an option.
    args = [f"--webhook-url={cfg.receipts_url}", f"--webhook-hmac-key={cfg.webhook_hmac_key}"]
    if cfg.receipt_delay_ms is None:
        return [*args, "--receipts", "off"]
    args += ["--receipts", "on", "--receipt-delay-ms", f"{cfg.receipt_delay_ms:g}"]
    if cfg.read_receipt_delay_ms is not None:
        args += ["--read-receipt-delay-ms", f"{cfg.read_receipt_delay_ms:g}"]
    return args


def simulators(cfg: StackConfig) -> list[ManagedProcess]:
    """One gateway simulator per engine: NOWEB (Baileys) for primary, WEBJS for fallback."""
    result = []
    for name, port, engine in (
        ("gateway-primary", cfg.primary_gateway_port, "NOWEB"),
        ("gateway-fallback", cfg.fallback_gateway_port, "WEBJS"),
    ):
        argv = [
            venv_program("herald-gateway-simulator"),
            "--host",
            cfg.host,
            "--port",
            str(port),
            "--engine",
            engine,
            "--api-key",
            cfg.gateway_api_key,
            *receipt_args(cfg),
            *cfg.simulator_args,
        ]
        result.append(
            ManagedProcess(name, argv, {}, cfg.run_dir, ready_url=f"{cfg.url(port)}/healthz")
        )
    return result


QUIET_CRON = "0 0 29 2 *"
"""Midnight on 29 February: a system job that practically never fires."""

UNPACED_QUIET_ENV: Mapping[str, str] = {
    "HERALD_PACE_SCALE": "0",
    "HERALD_SWEEP_CRON": QUIET_CRON,
    "HERALD_REDRIVE_CRON": QUIET_CRON,
    "HERALD_RETENTION_CRON": QUIET_CRON,
}
"""Services for tests and benchmarks: no anti-ban gaps, and the scheduler's sweep, redrive and
retention quiet (at their production times a run would meet them only if it straddled their
time)."""


@dataclass(frozen=True)
class StackPorts:
    """Distinct free ports for a stack's processes (an HTTP port and a metrics port each) and
    its two gateway simulators."""

    services: dict[str, int]
    metrics: dict[str, int]
    primary_gateway: int
    fallback_gateway: int

    @classmethod
    def free(cls, names: Sequence[str]) -> StackPorts:
        *ports, primary, fallback = free_ports(2 * len(names) + 2)
        http, metrics = ports[: len(names)], ports[len(names) :]
        return cls(
            dict(zip(names, http, strict=True)),
            dict(zip(names, metrics, strict=True)),
            primary,
            fallback,
        )


def services(cfg: StackConfig) -> list[ManagedProcess]:
    """The five services, each its own process, wired to Kafka, MongoDB and its gateway."""
    common = {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": cfg.kafka_bootstrap,
        "HERALD_MONGODB_URL": cfg.mongodb_url,
        "HERALD_MONGODB_DATABASE": cfg.database,
        "HERALD_HTTP_HOST": cfg.host,
        "HERALD_API_TOKEN": cfg.api_token,
        "HERALD_ADMIN_TOKEN": cfg.admin_token,
        # Sender accounts' gateways are told to post receipts here (the simulators, locally).
        "HERALD_PUBLIC_URL": cfg.api_url,
        "HERALD_GATEWAY_API_KEY": cfg.gateway_api_key,
        "HERALD_WAHA_WEBHOOK_HMAC_KEY": cfg.webhook_hmac_key,
        "HERALD_EVOLUTION_WEBHOOK_TOKEN": cfg.evolution_webhook_token,
        # Accounts' gateways (the simulators) and notification receivers listen on loopback,
        # both families: `localhost` may resolve to ::1 as well as 127.0.0.1.
        "HERALD_OUTBOUND_ALLOW": "127.0.0.0/8,::1/128",
        # The shared gateway is a simulator here, not a number WhatsApp could ban, and tests
        # and benchmarks launch campaign after campaign on the default tenant: room for them.
        "HERALD_SHARED_GATEWAY_HOURLY_CAP": "10000000",
        "HERALD_SHARED_GATEWAY_DAILY_CAP": "10000000",
        "HERALD_QUOTA_RUNNING_CAMPAIGNS": "10000",
        "HERALD_ARCHIVE_URL": str(cfg.archive_dir.resolve()),
        **cfg.service_env,
    }
    gateways = {
        "primary-sender": cfg.url(cfg.primary_gateway_port),
        "fallback-sender": cfg.url(cfg.fallback_gateway_port),
    }
    result = []
    for service in SERVICES:
        replicas = cfg.scheduler_replicas if service == SCHEDULER else 1
        for name in replica_names(service, replicas):
            port = cfg.service_ports[name]
            env = {
                **common,
                "HERALD_HTTP_PORT": str(port),
                "HERALD_METRICS_PORT": str(cfg.metrics_ports[name]),
            }
            if service in gateways:
                env["HERALD_GATEWAY_URL"] = gateways[service]
            result.append(
                ManagedProcess(
                    name,
                    [venv_program(f"herald-{service}")],
                    env,
                    cfg.run_dir,
                    ready_url=f"{cfg.url(port)}/readyz",
                    ready_service=service,
                )
            )
    return result


def metrics_addresses(cfg: StackConfig) -> dict[str, str]:
    """Each process's ``/metrics`` (on its metrics listener, not its HTTP port)."""
    return {name: cfg.metrics_url(name) for name in cfg.metrics_ports}


@contextmanager
def lone_simulator(run_dir: Path, api_key: str, *options: str) -> Iterator[str]:
    """One gateway simulator on a free port, for tests that need a gateway and nothing else;
    ``options`` are its command-line options (``--engine WEBJS``, ``--sessions a,b``…). Yields
    its URL; stops it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        venv_program("herald-gateway-simulator"),
        *("--port", str(port), "--api-key", api_key, *options),
    ]
    process = ManagedProcess("gateway-simulator", argv, {}, run_dir, ready_url=f"{url}/healthz")
    process.start()
    try:
        wait_ready([process], timeout=30)
        yield url
    finally:
        process.stop()
