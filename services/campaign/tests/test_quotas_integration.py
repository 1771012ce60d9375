"""Tenants' quotas on the real app, Kafka and MongoDB: each quota refuses one more than its
value and says which quota and its value; an operator raises or lowers a tenant's quotas and
the tenant sees them; two launches at once at the last place: one runs; a command a quota
refuses is a dead letter saying why; a deployment without a shared gateway refuses to send for
a tenant without accounts."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from herald_campaign.adapters.api_keys import register_api_key
from herald_core.contracts.topics import MESSAGE_DLT
from herald_devstack.topic_reader import TopicReader

from .conftest import (
    RunningService,
    by_key,
    campaign_settings,
    create_campaign,
    running_service,
)
from .test_accounts_api_integration import account_body
from .test_commands_integration import handled_after, produce

pytestmark = pytest.mark.integration

ADMIN_TOKEN = f"admin-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "quotas").model_copy(
        update={"admin_token": SecretStr(ADMIN_TOKEN)}
    )
    async with running_service(settings) as svc:
        yield svc


@pytest.fixture
async def admin(service: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with service.client_for(ADMIN_TOKEN) as client:
        yield client


@pytest.fixture(scope="module")
async def producer(service: RunningService) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=service.kafka, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


class Tenant:
    def __init__(self, tenant_id: str, api: httpx.AsyncClient) -> None:
        self.id = tenant_id
        self.api = api


@pytest.fixture
async def tenant(service: RunningService, admin: httpx.AsyncClient) -> AsyncIterator[Tenant]:
    """A tenant of its own for each test (created by the operator), with a key."""
    tenant_id = f"q-{uuid.uuid4().hex[:10]}"
    created = await admin.post("/api/admin/tenants", json={"id": tenant_id, "name": tenant_id})
    assert created.status_code == 201, created.text
    token = f"key-{uuid.uuid4().hex}"
    await register_api_key(service.db, token, tenant_id, "quota tests")
    async with service.client_for(token) as api:
        yield Tenant(tenant_id, api)


async def set_quotas(admin: httpx.AsyncClient, tenant_id: str, **quotas: int | None) -> Any:
    response = await admin.put(f"/api/admin/tenants/{tenant_id}/quotas", json=quotas)
    assert response.status_code == 200, response.text
    return response.json()


async def draft_with_contacts(api: httpx.AsyncClient, phones: list[str]) -> str:
    campaign_id: str = (await create_campaign(api))["id"]
    added = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": p} for p in phones]}
    )
    assert added.status_code == 200, added.text
    return campaign_id


def assert_refused(response: httpx.Response, quota: str, limit: int, used: int | None) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert (body["quota"], body["limit"], body["used"]) == (quota, limit, used)
    assert f"quota {quota} is {limit}" in body["error"]


async def test_a_tenant_reads_its_quotas_and_an_operator_sets_them(
    service: RunningService, admin: httpx.AsyncClient, tenant: Tenant
) -> None:
    defaults = {
        "contactsPerCampaign": 1_000_000,
        "runningCampaigns": 20,
        "accounts": 50,
        "schedules": 100,
        "minCronIntervalSeconds": 300,
        "messageRetentionDays": 90,
    }
    read = await tenant.api.get("/api/quotas")
    assert read.status_code == 200, read.text
    assert read.json() == {
        "quotas": defaults,
        "usage": {"runningCampaigns": 0, "accounts": 0, "schedules": 0},
        "sharedGateway": True,
    }

    changed = await set_quotas(admin, tenant.id, accounts=2, minCronIntervalSeconds=60)
    assert changed["overrides"] == {"accounts": 2, "minCronIntervalSeconds": 60}
    assert changed["defaults"] == defaults
    own = (await tenant.api.get("/api/quotas")).json()["quotas"]
    assert own == {**defaults, "accounts": 2, "minCronIntervalSeconds": 60}

    # Partial: what is left out stays; null goes back to the default.
    changed = await set_quotas(admin, tenant.id, accounts=None, schedules=7)
    assert changed["overrides"] == {"minCronIntervalSeconds": 60, "schedules": 7}
    assert changed["quotas"] == {**defaults, "minCronIntervalSeconds": 60, "schedules": 7}
    read_back = await admin.get(f"/api/admin/tenants/{tenant.id}/quotas")
    assert read_back.status_code == 200 and read_back.json() == changed


async def test_quotas_are_the_operators(
    service: RunningService, admin: httpx.AsyncClient, tenant: Tenant
) -> None:
    path = f"/api/admin/tenants/{tenant.id}/quotas"
    assert (await tenant.api.put(path, json={"accounts": 500})).status_code == 403
    assert (await tenant.api.get(path)).status_code == 403
    assert (await admin.get("/api/quotas")).status_code == 403
    # The default tenant's token is a tenant key too: it cannot raise its own quotas.
    assert (await service.client.put(path, json={"accounts": 500})).status_code == 403
    assert (await admin.get("/api/admin/tenants/nobody-here/quotas")).status_code == 404
    refused = await admin.put(path, json={"runningCampaigns": -1, "colour": 3})
    assert refused.status_code == 422
    assert {f["field"] for f in refused.json()["fields"]} == {"runningCampaigns", "colour"}
    assert (await tenant.api.get("/api/quotas")).json()["quotas"]["accounts"] == 50


async def test_contacts_per_campaign(admin: httpx.AsyncClient, tenant: Tenant) -> None:
    await set_quotas(admin, tenant.id, contactsPerCampaign=3)
    numbers = ["+919876500001", "+919876500002", "+919876500003"]
    campaign_id = await draft_with_contacts(tenant.api, numbers)
    path = f"/api/campaigns/{campaign_id}/contacts"

    one_more = await tenant.api.post(path, json={"contacts": [{"phone": "+919876500004"}]})
    assert_refused(one_more, "contactsPerCampaign", 3, 3)
    # The same list again adds nothing, so it passes no quota.
    again = await tenant.api.post(path, json={"contacts": [{"phone": p} for p in numbers]})
    assert again.status_code == 200, again.text
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 3)
    csv = "phone\n+919876500005\n+919876500006\n"
    imported = await tenant.api.post(
        path, content=csv.encode(), headers={"Content-Type": "text/csv"}
    )
    assert_refused(imported, "contactsPerCampaign", 3, 3)
    assert "the import stopped at line 2" in imported.json()["error"]
    campaign = (await tenant.api.get(f"/api/campaigns/{campaign_id}")).json()
    assert campaign["contactCount"] == 3

    await set_quotas(admin, tenant.id, contactsPerCampaign=5)
    imported = await tenant.api.post(
        path, content=csv.encode(), headers={"Content-Type": "text/csv"}
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["total"] == 5


async def test_two_imports_at_once_the_one_that_would_pass_the_quota_is_refused(
    service: RunningService, admin: httpx.AsyncClient, tenant: Tenant
) -> None:
    await set_quotas(admin, tenant.id, contactsPerCampaign=5)
    campaign_id: str = (await create_campaign(tenant.api))["id"]
    path = f"/api/campaigns/{campaign_id}/contacts"

    def csv(first: int) -> bytes:
        return "".join(
            ["phone\n", *(f"+9198765{n:05d}\n" for n in range(first, first + 4))]
        ).encode()

    answers = await asyncio.gather(
        *(
            tenant.api.post(path, content=csv(first), headers={"Content-Type": "text/csv"})
            for first in (100, 200)
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409)
    assert_refused(refused, "contactsPerCampaign", 5, 4)
    # The campaign's count is the guard's, handed on from import to import: it is the truth.
    stored = await service.db["contacts"].count_documents({"campaignId": campaign_id})
    campaign = (await tenant.api.get(f"/api/campaigns/{campaign_id}")).json()
    assert campaign["contactCount"] == stored == 4

    one_more = await tenant.api.post(
        path, content=b"phone\n+919876500300\n", headers={"Content-Type": "text/csv"}
    )
    assert one_more.status_code == 200, one_more.text
    assert one_more.json()["total"] == 5
    full = await tenant.api.post(
        path, content=b"phone\n+919876500301\n", headers={"Content-Type": "text/csv"}
    )
    assert_refused(full, "contactsPerCampaign", 5, 5)


async def test_accounts(admin: httpx.AsyncClient, tenant: Tenant) -> None:
    await set_quotas(admin, tenant.id, accounts=1)
    first = await tenant.api.post("/api/accounts", json=account_body())
    assert first.status_code == 201, first.text
    second = await tenant.api.post("/api/accounts", json=account_body())
    assert_refused(second, "accounts", 1, 1)
    usage = (await tenant.api.get("/api/quotas")).json()["usage"]
    assert usage["accounts"] == 1


async def test_running_campaigns_two_launches_at_once_one_runs(
    admin: httpx.AsyncClient, tenant: Tenant
) -> None:
    await set_quotas(admin, tenant.id, runningCampaigns=1)
    first = await draft_with_contacts(tenant.api, ["+919876500011"])
    second = await draft_with_contacts(tenant.api, ["+919876500012"])
    answers = await asyncio.gather(
        tenant.api.post(f"/api/campaigns/{first}/send"),
        tenant.api.post(f"/api/campaigns/{second}/send"),
    )
    assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409)
    assert_refused(refused, "runningCampaigns", 1, 1)
    running = first if answers[0].status_code == 202 else second
    waiting = second if running == first else first
    assert (await tenant.api.get("/api/quotas")).json()["usage"]["runningCampaigns"] == 1

    # Paused, it leaves its place; resuming it while another runs is refused.
    assert (await tenant.api.post(f"/api/campaigns/{running}/pause")).status_code == 200
    assert (await tenant.api.post(f"/api/campaigns/{waiting}/send")).status_code == 202
    resumed = await tenant.api.post(f"/api/campaigns/{running}/resume")
    assert_refused(resumed, "runningCampaigns", 1, 1)
    paused = (await tenant.api.get(f"/api/campaigns/{running}")).json()
    assert paused["status"] == "paused"


async def test_schedules_and_the_shortest_cron_interval(
    admin: httpx.AsyncClient, tenant: Tenant
) -> None:
    campaign_id = await draft_with_contacts(tenant.api, ["+919876500021"])
    send = f"/api/campaigns/{campaign_id}/send"
    for cron, seconds in (("* * * * * *", 1), ("*/1 * * * *", 60), ("*/4 * * * *", 240)):
        refused = await tenant.api.post(send, json={"cron": cron})
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert (body["quota"], body["limit"]) == ("minCronIntervalSeconds", 300)
        assert [f["field"] for f in body["fields"]] == ["cron"]
        assert (
            f"{seconds} s apart" in body["error"] or f"{seconds // 60} min apart" in body["error"]
        )
    assert (await tenant.api.get(f"/api/campaigns/{campaign_id}")).json()["status"] == "draft"
    accepted = await tenant.api.post(send, json={"cron": "*/5 * * * *"})
    assert accepted.status_code == 202, accepted.text

    await set_quotas(admin, tenant.id, schedules=1, minCronIntervalSeconds=60)
    other = await draft_with_contacts(tenant.api, ["+919876500022"])
    refused = await tenant.api.post(f"/api/campaigns/{other}/send", json={"cron": "*/1 * * * *"})
    assert_refused(refused, "schedules", 1, 1)
    assert (await tenant.api.get("/api/quotas")).json()["usage"]["schedules"] == 1

    # One place more: a cron every minute is now within the tenant's interval.
    await set_quotas(admin, tenant.id, schedules=2)
    every_minute = await tenant.api.post(
        f"/api/campaigns/{other}/send", json={"cron": "*/1 * * * *"}
    )
    assert every_minute.status_code == 202, every_minute.text


async def test_a_command_a_quota_refuses_is_a_dead_letter_saying_which(
    service: RunningService, admin: httpx.AsyncClient, producer: AIOKafkaProducer
) -> None:
    # Commands act for the tenant they name; this one is the default tenant of the service.
    tenant_id = service.settings.default_tenant
    await set_quotas(admin, tenant_id, runningCampaigns=0)
    try:
        campaign_id = await draft_with_contacts(service.client, ["+919876500031"])
        send = {
            "type": "campaign.send",
            "event_id": uuid.uuid4().hex,
            "tenant_id": tenant_id,
            "campaign_id": campaign_id,
        }
        async with TopicReader(service.kafka, MESSAGE_DLT) as dead_letters:
            await produce(producer, campaign_id, send)
            await handled_after(service, producer, campaign_id)
            found = by_key(await dead_letters.read_to_end(), campaign_id)
        assert [json.loads(r.value)["event_id"] for r in found] == [send["event_id"]]
        headers = {k: v.decode() for k, v in found[0].headers}
        assert headers["herald-dlt-reason"] == "quota-exceeded"
        assert "quota runningCampaigns is 0" in headers["kafka_dlt-exception-message"]
        campaign = await service.db["campaigns"].find_one({"_id": campaign_id})
        assert campaign is not None and campaign["status"] == "draft"
    finally:
        await set_quotas(admin, tenant_id, runningCampaigns=None)


async def test_without_a_shared_gateway_a_tenant_needs_an_account_to_send(
    kafka_bootstrap: str, mongodb_url: str
) -> None:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "no_shared").model_copy(
        update={"shared_gateway": False}
    )
    async with running_service(settings) as service:
        api = service.client
        assert (await api.get("/api/quotas")).json()["sharedGateway"] is False
        campaign_id = await draft_with_contacts(api, ["+919876500041"])
        refused = await api.post(f"/api/campaigns/{campaign_id}/send")
        assert refused.status_code == 409, refused.text
        assert "no sender account (quota accounts)" in refused.json()["error"]
        scheduled = await api.post(
            f"/api/campaigns/{campaign_id}/send", json={"cron": "0 9 * * MON"}
        )
        assert scheduled.status_code == 409, scheduled.text

        assert (await api.post("/api/accounts", json=account_body())).status_code == 201
        sent = await api.post(f"/api/campaigns/{campaign_id}/send")
        assert sent.status_code == 202, sent.text


async def test_a_guard_its_holder_left_behind_lapses_and_its_count_is_not_trusted(
    service: RunningService, admin: httpx.AsyncClient, tenant: Tenant
) -> None:
    await set_quotas(admin, tenant.id, contactsPerCampaign=2)
    campaign_id = await draft_with_contacts(tenant.api, ["+919876500051"])
    # A process died inside the guard: its lease has run out, its count (0) is wrong.
    await service.db["quota_locks"].update_one(
        {"_id": f"contacts|{campaign_id}"},
        {"$set": {"holder": "died", "expiresAt": datetime.now(UTC) - timedelta(seconds=1)}},
    )
    await service.db["quota_locks"].update_one(
        {"_id": f"contacts|{campaign_id}"}, {"$set": {"count": 0}}
    )
    two_more = {"contacts": [{"phone": "+919876500052"}, {"phone": "+919876500053"}]}
    refused = await tenant.api.post(f"/api/campaigns/{campaign_id}/contacts", json=two_more)
    assert_refused(refused, "contactsPerCampaign", 2, 1)
