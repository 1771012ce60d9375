"""The whole system as real processes: gateway simulators and the five services.

Kafka and the MongoDB-wire server come from the root conftest's fixtures; every run gets its
own database and free ports, so it never touches what `make up` runs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_campaign.api.auth import register_api_key
from herald_devstack.processes import ManagedProcess, free_port, wait_ready
from herald_devstack.stack import SERVICES, StackConfig, services, simulators


@dataclass
class RunningStack:
    config: StackConfig
    processes: dict[str, ManagedProcess]

    @property
    def api(self) -> str:
        return self.config.api_url

    @property
    def token(self) -> str:
        return self.config.api_token

    @property
    def primary_gateway(self) -> str:
        return self.config.url(self.config.primary_gateway_port)


# Package scope: the processes stop when the end-to-end tests are done, so that tests after
# them can join the same consumer groups without these processes taking their partitions.
@pytest.fixture(scope="package")
def stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    run_dir: Path = tmp_path_factory.mktemp("herald-stack")
    config = StackConfig(
        kafka_bootstrap=kafka_bootstrap,
        mongodb_url=mongodb_url,
        run_dir=run_dir,
        api_token=f"e2e-{uuid.uuid4().hex}",
        database=f"herald_e2e_{uuid.uuid4().hex[:8]}",
        service_ports={name: free_port() for name in SERVICES},
        primary_gateway_port=free_port(),
        fallback_gateway_port=free_port(),
        service_env={"HERALD_SEND_TOPIC_PARTITIONS": "48"},
    )
    processes = [*simulators(config), *services(config)]
    try:
        for process in processes:
            process.start()
        wait_ready(processes, timeout=120)
        yield RunningStack(config, {p.name: p for p in processes})
    finally:
        for process in reversed(processes):
            process.stop(timeout=20)


def gateway_client(stack: RunningStack, base_url: str) -> httpx.AsyncClient:
    """A client of a gateway simulator's API and its ``/_sim`` test endpoints."""
    return httpx.AsyncClient(
        base_url=base_url, headers={"X-Api-Key": stack.config.gateway_api_key}, timeout=30
    )


@pytest.fixture
async def api(stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with httpx.AsyncClient(base_url=stack.api, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
async def mongo(stack: RunningStack) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.config.mongodb_url)
    yield client
    await client.close()


async def add_tenant_token(
    client: AsyncMongoClient[dict[str, object]], stack: RunningStack, tenant: str
) -> str:
    """A bearer token for another tenant, registered as an operator would."""
    token = f"{tenant}-{uuid.uuid4().hex}"
    await register_api_key(client[stack.config.database], token, tenant, tenant)
    return token
