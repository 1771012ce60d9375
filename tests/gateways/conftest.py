"""One gateway simulator process, speaking WAHA's and Evolution API's subsets on a free port.

The adapters run against it over real HTTP; each test starts from the simulator's startup
state (``POST /_sim/reset``) and drives it through ``/_sim`` (session statuses, fault modes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from herald_devstack.stack import lone_simulator

API_KEY = "contract-key"
SESSIONS = "noweb:NOWEB,webjs:WEBJS,evo"
"""WAHA sessions of each engine, and an Evolution instance (``evo``)."""


@dataclass(frozen=True)
class Simulator:
    url: str
    control: httpx.AsyncClient

    async def put_session(self, name: str, status: str) -> None:
        answer = await self.control.put(f"/_sim/sessions/{name}", json={"status": status})
        assert answer.status_code == 200, answer.text

    async def put_config(self, **changes: Any) -> None:
        answer = await self.control.put("/_sim/config", json=changes)
        assert answer.status_code == 200, answer.text

    async def sends_for(self, herald_message_id: str) -> list[dict[str, Any]]:
        answer = await self.control.get(f"/_sim/sends/{herald_message_id}")
        assert answer.status_code == 200, answer.text
        records: list[dict[str, Any]] = answer.json()
        return records


@pytest.fixture(scope="package")
def simulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with lone_simulator(
        tmp_path_factory.mktemp("gateway-simulator"),
        API_KEY,
        *("--sessions", SESSIONS, "--seed", "7", "--timeout-seconds", "5"),
    ) as url:
        yield url


@pytest.fixture
async def simulator(simulator_url: str) -> AsyncIterator[Simulator]:
    async with httpx.AsyncClient(
        base_url=simulator_url, headers={"X-Api-Key": API_KEY}, timeout=10
    ) as control:
        reset = await control.post("/_sim/reset")
        assert reset.status_code == 200, reset.text
        yield Simulator(simulator_url, control)
