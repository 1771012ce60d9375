from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from herald_simulator import SimulatorConfig, create_app

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@asynccontextmanager
async def _sim_client(
    headers: dict[str, str] | None = None, **config: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SimulatorConfig(**config))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://simulator", headers=headers
    ) as client:
        yield client


@pytest.fixture
def sim_client() -> ClientFactory:
    """``async with sim_client(engine=Engine.WEBJS, ...) as client:`` — an in-process simulator."""
    return _sim_client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A simulator with the defaults (NOWEB, session ``default``, no key, no faults)."""
    async with _sim_client(seed=1) as c:
        yield c
