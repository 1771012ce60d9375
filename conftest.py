"""Session fixtures shared by the whole suite: a Kafka broker and a MongoDB-wire server.

Both are started lazily, only when a test (or a fixture) asks for them, and at most once per
session; unit tests start nothing. Where they come from (environment, Docker, or the local
servers of deploy/local/) is decided in tests/infra.py.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

# --import-mode=importlib leaves sys.path alone; put the repository root on it so that
# `tests.infra` (and other shared test helpers) can be imported by conftests and tests.
_ROOT = str(Path(__file__).resolve().parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from herald_infra.mongo.client import Database, connect, database  # noqa: E402
from herald_infra.runtime.settings import HeraldSettings  # noqa: E402
from tests import infra  # noqa: E402


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address (``host:port``) of a Kafka broker for this test session."""
    with infra.kafka_bootstrap() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    """Connection URL of a MongoDB-wire server for this test session."""
    with infra.mongodb_url() as url:
        yield url


@pytest.fixture
async def db(settings: HeraldSettings) -> AsyncIterator[Database]:
    """The database named by the ``settings`` fixture of the requesting test module."""
    client = connect(settings)
    try:
        yield database(client, settings)
    finally:
        await client.close()
