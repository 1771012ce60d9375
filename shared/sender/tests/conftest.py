"""What the sender engine's integration tests against a gateway share: one gateway simulator
(WAHA, NOWEB) per module, settings whose configured gateway it is (a database of the module's
own), a started broker, and a client of the simulator's ledger. A module that needs otherwise
defines its own ``settings``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from faststream.kafka import KafkaBroker

from herald_devstack.stack import lone_simulator
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_infra.runtime.settings import HeraldSettings

SIMULATOR_API_KEY = "it-sender-key"


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a gateway simulator speaking WAHA with a NOWEB (Baileys) session."""
    with lone_simulator(
        tmp_path_factory.mktemp("sim"), SIMULATOR_API_KEY, "--engine", "NOWEB"
    ) as url:
        yield url


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str, simulator: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_sender_{uuid.uuid4().hex[:8]}",
        gateway_url=simulator,
        gateway_api_key=SIMULATOR_API_KEY,
        gateway_timeout_seconds=5,
        # Accounts' gateways in these tests are simulators on loopback.
        outbound_allow="127.0.0.0/8",
    )


@pytest.fixture(scope="module")
async def broker(settings: HeraldSettings) -> AsyncIterator[KafkaBroker]:
    await ensure_topics(settings)
    kafka = build_broker(settings, client_id=f"it-sender-{uuid.uuid4().hex[:6]}")
    await kafka.start()
    yield kafka
    await kafka.stop()


@pytest.fixture
async def gateway(simulator: str) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's API, its ledger of sends included (``/_sim/sends/{message id}``)."""
    headers = {"X-Api-Key": SIMULATOR_API_KEY}
    async with httpx.AsyncClient(base_url=simulator, headers=headers) as client:
        yield client
