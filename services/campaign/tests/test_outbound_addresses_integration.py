"""Tenants' URLs that Herald's pods fetch (accounts' gateway base URLs, notification
endpoints), against the real Kafka broker and MongoDB-wire server, with real HTTP servers on
loopback and the machine's own resolver: addresses that are not public are refused when given
(422 naming the field) unless HERALD_OUTBOUND_ALLOW allows them, refused again at every
connection, redirects are not followed, and nothing a gateway's address answered reaches the
tenant."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from herald_campaign.adapters.notification_delivery import DeliveryWorker
from herald_campaign.adapters.notification_repositories import (
    DeliveryRepository,
    EndpointRepository,
)
from herald_campaign.domain.notifications.backoff import RetrySchedule
from herald_campaign.domain.notifications.payloads import NotificationType
from herald_campaign.service_layer.notifications import NotificationService
from herald_core.attempt_plan import Route
from herald_core.contracts.events import CampaignCompleted
from herald_devstack.waiting import eventually
from herald_infra.outbound.public_addresses import OutboundAllow
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.gateway_directory import GatewayDirectory
from herald_sender.session_polling import SessionHealthPoller

from .conftest import RunningService, campaign_settings, running_service

pytestmark = pytest.mark.integration

SECRET = "internal-secret-page"
WAIT = 30.0


@dataclass
class LoopbackServer:
    """A real HTTP server on a loopback address that answers every request the same way and
    counts them."""

    host: str
    answer: bytes
    port: int = 0
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head.decode("latin-1").split("\r\n", 1)[0])
            length = next(
                (
                    int(line.split(":", 1)[1])
                    for line in head.decode("latin-1").split("\r\n")
                    if line.lower().startswith("content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            writer.write(self.answer)
            await writer.drain()
        writer.close()


def http_answer(status: str, body: str = "", headers: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
    ).encode()


@contextlib.asynccontextmanager
async def loopback_server(host: str, answer: bytes) -> AsyncIterator[LoopbackServer]:
    server = LoopbackServer(host, answer)
    listening = await asyncio.start_server(server._serve, host, 0)
    server.port = listening.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listening.close()
        await listening.wait_closed()


@pytest.fixture(scope="module")
async def strict(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    """The service as deployed by default: public addresses only."""
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "outbound_strict").model_copy(
        update={"outbound_allow": "", "gateway_timeout_seconds": 5.0}
    )
    async with running_service(settings) as svc:
        yield svc


@pytest.fixture(scope="module")
async def allowing(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    """An operator who allows 127.0.0.1 (the local simulators), and nothing else."""
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "outbound_allowing").model_copy(
        update={
            "outbound_allow": "127.0.0.1/32",
            "gateway_timeout_seconds": 5.0,
            "public_url": "http://herald.example",
        }
    )
    async with running_service(settings) as svc:
        yield svc


@pytest.fixture
async def listening() -> AsyncIterator[LoopbackServer]:
    """What a tenant's URL would reach on this machine: it must never be asked anything."""
    answer = http_answer("200 OK", '{"version": "2024.10.8", "tier": "PLUS"}')
    async with loopback_server("127.0.0.1", answer) as server:
        yield server


def session(base_url: str) -> dict[str, Any]:
    return {"gateway": "waha", "baseUrl": base_url, "session": f"s-{uuid.uuid4().hex[:6]}"}


def account_body(primary: str, fallback: str) -> dict[str, Any]:
    return {
        "phone": f"+9198{uuid.uuid4().int % 10**8:08d}",
        "primary": session(primary),
        "fallback": session(fallback),
    }


def refused_field(answer: httpx.Response) -> str:
    assert answer.status_code == 422, answer.text
    fields = answer.json()["fields"]
    assert len(fields) == 1, fields
    assert "not public" in fields[0]["message"], fields
    return str(fields[0]["field"])


NOT_PUBLIC = [
    "http://127.0.0.1:{port}",
    "http://169.254.169.254",  # cloud metadata
    "http://2130706433:{port}",  # 127.0.0.1 as one number
    "http://10.0.0.1",
    "http://localhost:{port}",  # a name resolving to 127.0.0.1 (/etc/hosts)
    "http://[::ffff:127.0.0.1]:{port}",
]


# Accounts


@pytest.mark.parametrize("url", NOT_PUBLIC)
async def test_an_account_at_an_address_that_is_not_public_is_refused_naming_the_field(
    strict: RunningService, listening: LoopbackServer, url: str
) -> None:
    base_url = url.format(port=listening.port)
    public = "https://93.184.215.14"  # resolves to itself; not asked (vetting never gets there)
    created = await strict.client.post("/api/accounts", json=account_body(base_url, public))
    assert refused_field(created) == "primary.baseUrl"
    created = await strict.client.post("/api/accounts", json=account_body(public, base_url))
    assert refused_field(created) == "fallback.baseUrl"
    assert listening.requests == []


async def test_changing_an_accounts_url_to_an_address_that_is_not_public_is_refused(
    strict: RunningService, listening: LoopbackServer
) -> None:
    # A host that does not resolve yet is accepted: its gateway may not be deployed yet.
    created = await strict.client.post(
        "/api/accounts",
        json=account_body("http://waha-later.invalid:3000", "http://waha-later.invalid:3000"),
    )
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]
    for url in NOT_PUBLIC:
        changed = await strict.client.patch(
            f"/api/accounts/{account_id}",
            json={"fallback": {"baseUrl": url.format(port=listening.port)}},
        )
        assert refused_field(changed) == "fallback.baseUrl"
    # Other changes of the account go through.
    renamed = await strict.client.patch(f"/api/accounts/{account_id}", json={"name": "Ops"})
    assert renamed.status_code == 200, renamed.text
    assert listening.requests == []


async def test_an_allowed_network_may_hold_the_gateway(
    allowing: RunningService, listening: LoopbackServer
) -> None:
    created = await allowing.client.post(
        "/api/accounts", json=account_body(listening.url, listening.url)
    )
    assert created.status_code == 201, created.text
    assert listening.requests  # vetted: its gateways were asked what they are
    # 127.0.0.2 is loopback too, and not allowed.
    refused = await allowing.client.post(
        "/api/accounts",
        json=account_body(listening.url, f"http://127.0.0.2:{listening.port}"),
    )
    assert refused_field(refused) == "fallback.baseUrl"


async def test_a_stored_account_whose_address_is_refused_is_never_asked(
    strict: RunningService, allowing: RunningService, listening: LoopbackServer
) -> None:
    """An account stored where its address was allowed (or before Herald checked): each request
    checks again, and its gateway is not connected to."""
    created = await allowing.client.post(
        "/api/accounts", json=account_body(listening.url, listening.url)
    )
    assert created.status_code == 201, created.text
    document = await allowing.db["accounts"].find_one({"_id": created.json()["id"]})
    assert document is not None
    await strict.db["accounts"].insert_one({**document, "tenantId": document["tenantId"]})
    asked = len(listening.requests)

    qr = await strict.client.get(f"/api/accounts/{document['_id']}/sessions/primary/qr")
    assert qr.status_code == 422, qr.text
    assert qr.json()["fields"][0]["field"] == "primary.baseUrl"

    # The senders' health check of it: FAILED, misconfigured, the gateway not connected to.
    settings = HeraldSettings(outbound_allow="", gateway_url="http://127.0.0.1:9")
    directory = GatewayDirectory.for_route(strict.db, settings, Route.PRIMARY)
    try:
        checked = await SessionHealthPoller(strict.db, directory, interval_seconds=30).poll_once()
    finally:
        await directory.close()
    health = next(c.health for c in checked if document["_id"] in c.account_ids)
    assert health.misconfigured
    assert "not public" in (health.detail or "")
    assert len(listening.requests) == asked


# What a gateway answered never reaches the tenant


async def test_the_qr_route_and_the_health_detail_do_not_echo_a_gateways_answer(
    allowing: RunningService,
) -> None:
    body = f'{{"error": "{SECRET}", "statusCode": 500}}'
    async with loopback_server("127.0.0.1", http_answer("500 Internal Server Error", body)) as gw:
        created = await allowing.client.post("/api/accounts", json=account_body(gw.url, gw.url))
        assert created.status_code == 201, created.text
        account = created.json()
        assert SECRET not in created.text  # the vetting warnings and the webhook set-up
        assert account["primary"]["webhook"]["detail"].startswith(
            "gateway-error: the gateway answered 500"
        )

        qr = await allowing.client.get(f"/api/accounts/{account['id']}/sessions/primary/qr")
        assert qr.status_code == 502, qr.text
        assert SECRET not in qr.text
        assert qr.json()["error"] == (
            f"the primary session's gateway at {gw.url} answered with an error: "
            "gateway-error: the gateway answered 500"
        )

        settings = HeraldSettings(outbound_allow="127.0.0.1/32", gateway_url="http://127.0.0.1:9")
        directory = GatewayDirectory.for_route(allowing.db, settings, Route.PRIMARY)
        try:
            await SessionHealthPoller(allowing.db, directory, interval_seconds=30).poll_once()
        finally:
            await directory.close()
        assert gw.requests

    shown = await allowing.client.get(f"/api/accounts/{account['id']}")
    health = shown.json()["primary"]["health"]
    assert health["status"] == "FAILED"
    assert health["detail"] == "health check failed: gateway-error: the gateway answered 500"
    assert SECRET not in shown.text


async def test_a_gateways_redirect_is_not_followed(allowing: RunningService) -> None:
    async with loopback_server("127.0.0.1", http_answer("200 OK", "{}")) as target:
        moved = http_answer("302 Found", headers=f"Location: {target.url}/api/server/version\r\n")
        async with loopback_server("127.0.0.1", moved) as redirecting:
            created = await allowing.client.post(
                "/api/accounts", json=account_body(redirecting.url, redirecting.url)
            )
            assert created.status_code == 201, created.text
            qr = await allowing.client.get(
                f"/api/accounts/{created.json()['id']}/sessions/primary/qr"
            )
            assert qr.status_code == 502, qr.text
            assert "the gateway answered 302" in qr.json()["error"]
            assert redirecting.requests
        assert target.requests == []


# Notification endpoints


@pytest.mark.parametrize("url", NOT_PUBLIC)
async def test_a_notification_endpoint_at_an_address_that_is_not_public_is_refused(
    strict: RunningService, listening: LoopbackServer, url: str
) -> None:
    registered = await strict.client.post(
        "/api/notification-endpoints",
        json={"url": f"{url.format(port=listening.port)}/hook", "events": ["campaign.completed"]},
    )
    assert refused_field(registered) == "url"
    assert listening.requests == []


async def test_an_allowed_network_may_hold_a_notification_endpoint(
    allowing: RunningService, listening: LoopbackServer
) -> None:
    registered = await allowing.client.post(
        "/api/notification-endpoints",
        json={"url": f"{listening.url}/hook", "events": ["campaign.completed"]},
    )
    assert registered.status_code == 201, registered.text
    refused = await allowing.client.post(
        "/api/notification-endpoints",
        json={"url": f"http://127.0.0.2:{listening.port}/hook", "events": ["campaign.completed"]},
    )
    assert refused_field(refused) == "url"


async def deliver_once(
    service: RunningService, allow: OutboundAllow, url: str
) -> Callable[[], Awaitable[dict[str, Any]]]:
    """An endpoint at ``url`` stored as it is (registered where it was allowed, or before Herald
    checked), one notification queued to it, and a delivery worker that allows ``allow``
    running until the delivery's first attempt is recorded (the service's own worker, which
    allows the same, may take it); returns a reader of the delivery and the endpoint's health
    as the tenant sees them."""
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    endpoints, deliveries = EndpointRepository(service.db), DeliveryRepository(service.db)
    endpoint = await endpoints.insert(
        endpoint_id=f"ne_{uuid.uuid4().hex[:24]}",
        tenant_id=tenant,
        url=url,
        events=(NotificationType.CAMPAIGN_COMPLETED,),
        description=None,
        secret="s" * 32,
        created_at=datetime.now(UTC),
    )
    worker = DeliveryWorker(
        endpoints,
        deliveries,
        schedule=RetrySchedule(first_delay_seconds=60, max_attempts=3),
        timeout_seconds=5,
        poll_seconds=0.05,
        outbound_allow=allow,
    )
    notifications = NotificationService(endpoints, deliveries, on_queued=worker.wake)
    event = CampaignCompleted(
        tenant_id=tenant,
        campaign_id=f"cmp-{uuid.uuid4().hex[:8]}",
        counts={"total": 1, "sent": 1},
    )
    await worker.start()
    try:
        assert await notifications.notify(event) == 1

        async def delivery() -> dict[str, Any]:
            found = await notifications.deliveries_of(tenant, endpoint.id, 10)
            return vars(found[0]) if found else {}

        await eventually(
            delivery, lambda d: d.get("attempts") == 1, timeout=WAIT, what="one attempt"
        )
    finally:
        await worker.stop()

    async def endpoint_health() -> dict[str, Any]:
        stored = await endpoints.by_id(endpoint.id)
        assert stored is not None
        return {"delivery": await delivery(), "health": vars(stored.health)}

    return endpoint_health


async def test_a_delivery_to_a_refused_address_records_a_fixed_reason_and_no_status_code(
    strict: RunningService,
) -> None:
    answer = http_answer("404 Not Found", "{}")  # a port scanner would read this 404
    async with loopback_server("127.0.0.1", answer) as open_port:
        read = await deliver_once(strict, OutboundAllow(), f"{open_port.url}/hook")
        found = await read()
        assert open_port.requests == []
    delivery, health = found["delivery"], found["health"]
    assert delivery["last_status_code"] is None
    assert health["last_status_code"] is None
    assert delivery["last_error"] == (
        "not sent: the host '127.0.0.1' resolves to an address that is not public; Herald only "
        "lets the deployment fetch public addresses"
    )
    assert health["last_error"] == delivery["last_error"]


async def test_a_notification_redirect_is_not_followed(allowing: RunningService) -> None:
    async with loopback_server("127.0.0.1", http_answer("200 OK")) as target:
        moved = http_answer("302 Found", headers=f"Location: {target.url}/elsewhere\r\n")
        async with loopback_server("127.0.0.1", moved) as redirecting:
            read = await deliver_once(
                allowing, OutboundAllow.parse("127.0.0.1/32"), f"{redirecting.url}/hook"
            )
            found = await read()
            assert len(redirecting.requests) == 1
        assert target.requests == []
    assert found["delivery"]["last_status_code"] == 302
