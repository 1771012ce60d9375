"""Fixtures of the cross-service integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.retention_stack import Stack, retention_stack


@pytest.fixture
async def stack(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[Stack]:
    """The campaign service's API and a broker, on a database of the test's own."""
    async with retention_stack(kafka_bootstrap, mongodb_url) as running:
        yield running
