"""The campaign service as its own process on the real Kafka broker and MongoDB-wire server,
for the API fuzzer: a database of its own, an API token registered for its default tenant
(``HERALD_API_TOKEN``), and no way to reach anything but this machine's loopback.

A fuzzed sender account or notification endpoint names URLs that the service will fetch (an
account's gateways are asked what they are before it is stored). The test points every URL
of a request at a closed loopback port, which the service is allowed to call
(``HERALD_OUTBOUND_ALLOW``); anything that slipped through would go to a proxy on that closed
port (``HTTP_PROXY`` and its kin), never to another host."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis

from herald_devstack.processes import ManagedProcess, free_port, wait_ready
from herald_devstack.stack import venv_program

CLOSED_PORT = "127.0.0.1:9"
"""The discard port, which nothing serves here: a call to it is refused at once."""
SEED = 15
"""The fuzzer's seed: every run sends the same cases (issue 15 asked for the fuzzer)."""


@dataclass(frozen=True)
class FuzzedService:
    process: ManagedProcess
    url: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="package")
def fuzzed_service(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzedService]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token = f"fuzz-{uuid.uuid4().hex}"
    closed = f"http://{CLOSED_PORT}"
    env = {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HERALD_MONGODB_URL": mongodb_url,
        "HERALD_MONGODB_DATABASE": f"herald_fuzz_{uuid.uuid4().hex[:8]}",
        "HERALD_HTTP_HOST": "127.0.0.1",
        "HERALD_HTTP_PORT": str(port),
        "HERALD_METRICS_PORT": str(free_port()),
        "HERALD_API_TOKEN": token,
        "HERALD_PUBLIC_URL": url,
        "HERALD_GATEWAY_URL": closed,
        "HERALD_GATEWAY_TIMEOUT_SECONDS": "2",
        "HERALD_OUTBOUND_ALLOW": "127.0.0.1/32",
        "HERALD_WAHA_WEBHOOK_HMAC_KEY": f"fuzz-hmac-{uuid.uuid4().hex}",
        "HERALD_EVOLUTION_WEBHOOK_TOKEN": f"fuzz-evolution-{uuid.uuid4().hex}",
        "HERALD_LOG_LEVEL": os.environ.get("HERALD_LOG_LEVEL", "WARNING"),
        "HTTP_PROXY": closed,
        "HTTPS_PROXY": closed,
        "ALL_PROXY": closed,
        "NO_PROXY": "127.0.0.1",
    }
    process = ManagedProcess(
        "campaign-fuzzed",
        [venv_program("herald-campaign")],
        env,
        tmp_path_factory.mktemp("campaign-fuzzed"),
        ready_url=f"{url}/readyz",
        ready_service="campaign",
    )
    process.start()
    try:
        wait_ready([process], timeout=120)
        yield FuzzedService(process, url, token)
    finally:
        process.stop(timeout=20)


@pytest.fixture(scope="package")
def campaign_api_schema(fuzzed_service: FuzzedService) -> schemathesis.BaseSchema:
    """The live service's own OpenAPI document, as schemathesis reads it: the examples the
    document gives and generated cases, valid and invalid (no coverage or stateful phase, to
    keep the run bounded), from a fixed seed."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": fuzzed_service.url,
            "headers": fuzzed_service.auth,
            "request-timeout": 30,
            "phases": {
                "examples": {"enabled": True},
                "fuzzing": {"enabled": True},
                "coverage": {"enabled": False},
                "stateful": {"enabled": False},
            },
            "generation": {"mode": "all"},
        }
    )
    return schemathesis.openapi.from_url(
        f"{fuzzed_service.url}/openapi.json", config=config, timeout=30
    )
