"""Every service process is alive, ready, and exports its Prometheus metrics on its metrics
listener only: its HTTP port (the campaign service's: the API) serves none."""

from __future__ import annotations

import httpx
import pytest

from herald_devstack.stack import SERVICES
from tests.system import RunningStack

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("service", SERVICES)
async def test_service_is_alive_ready_and_exports_metrics(
    stack: RunningStack, service: str
) -> None:
    port = stack.config.service_ports[service]
    async with httpx.AsyncClient(base_url=stack.config.url(port), timeout=10) as client:
        alive = await client.get("/healthz")
        ready = await client.get("/readyz")
        not_here = await client.get("/metrics")
        metrics = await client.get(stack.metrics_url(service))
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok", "service": service}
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "service": service,
        "checks": {"mongodb": "ok", "kafka": "ok"},
    }
    assert not_here.status_code == 404, not_here.text
    assert "herald_" not in not_here.text
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "herald_message_transitions_total" in metrics.text


@pytest.mark.parametrize("service", SERVICES)
async def test_the_metrics_listener_serves_metrics_and_nothing_else(
    stack: RunningStack, service: str
) -> None:
    port = stack.config.metrics_ports[service]
    async with httpx.AsyncClient(base_url=stack.config.url(port), timeout=10) as client:
        health = await client.get("/healthz")
        api = await client.get("/api/campaigns")
        docs = await client.get("/openapi.json")
    assert [health.status_code, api.status_code, docs.status_code] == [404, 404, 404]


async def test_the_api_documents_every_route_of_the_seed_design(stack: RunningStack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        paths = set((await client.get("/openapi.json")).json()["paths"])
    assert {
        "/api/campaigns",
        "/api/campaigns/{campaign_id}",
        "/api/campaigns/{campaign_id}/contacts",
        "/api/campaigns/{campaign_id}/send",
        "/api/messages/campaign/{campaign_id}/stats",
        "/api/messages/process-queue",
        "/api/messages/retry-failed",
        "/api/messages/queue-stats",
    } <= paths
