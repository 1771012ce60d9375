"""Caps and warm-up of sender accounts against the real Kafka broker and MongoDB-wire server.

The fan-out and the release of deferred messages are called with the moment they count caps
at, so an hour (or a day) passes without anyone waiting for it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from herald_core.accounts.model import AccountStatus
from herald_core.accounts.shared_gateway import SharedGateway
from herald_core.contracts.events import CampaignLaunched, SendMessage
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_devstack.topic_reader import TopicReader
from herald_dispatcher.account_assignment import release_deferred_messages
from herald_dispatcher.fan_out import fan_out_campaign
from herald_infra.accounts.repository import read_usage
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_infra.mongo.client import ensure_indexes
from herald_infra.runtime.settings import HeraldSettings

from .conftest import (
    add_account,
    add_running_campaign,
    counts_of,
    messages_of,
    new_tenant,
    phones,
    today_at,
)

pytestmark = pytest.mark.integration

DAY_ONE = today_at(0)
MORNING = today_at(10.25)  # 10:15 on day one
ELEVEN = today_at(11)
MIDNIGHT = DAY_ONE + timedelta(days=1)


@pytest.fixture
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    # A database per test: a release serves every tenant of its database.
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_caps_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
async def broker(settings: HeraldSettings, db: Any) -> AsyncIterator[KafkaBroker]:
    await ensure_indexes(db)
    await ensure_topics(settings)
    broker = build_broker(settings, client_id="it-caps")
    await broker.start()
    yield broker
    await broker.stop()


async def fan_out(
    db: Any,
    broker: KafkaBroker,
    tenant_id: str,
    campaign_id: str,
    at: datetime | Callable[[], datetime],
    *,
    shared_gateway: SharedGateway | None = None,
) -> int:
    """Fan the campaign out counting caps at ``at`` (a moment, or a clock it asks per batch);
    a tenant without accounts gets ``shared_gateway`` (None: off)."""
    clock = at if callable(at) else (lambda: at)
    return await fan_out_campaign(
        db,
        broker,
        CampaignLaunched(tenant_id=tenant_id, campaign_id=campaign_id),
        shared_gateway=shared_gateway,
        batch_size=10,
        send_topic=MESSAGE_SEND_PRIMARY,
        clock=clock,
    )


async def release(
    db: Any, broker: KafkaBroker, at: datetime, *, shared_gateway: SharedGateway | None = None
) -> int:
    return await release_deferred_messages(
        db, broker, at, topic=MESSAGE_SEND_PRIMARY, shared_gateway=shared_gateway, batch_size=10
    )


def by_status(messages: list[dict[str, Any]]) -> Counter[str]:
    return Counter(m["status"] for m in messages)


async def test_an_account_at_its_cap_gets_nothing_more_until_its_window_opens(
    settings: HeraldSettings, broker: KafkaBroker, db: Any
) -> None:
    tenant = new_tenant()
    # Day one of its warm-up: 8 today, 20 tomorrow; never more than 5 an hour.
    account = await add_account(
        db, tenant, hourly_cap=5, daily_cap=1_000, warmup=(8, 20), activated_at=MORNING
    )
    spare = await add_account(db, tenant, status=AccountStatus.DISABLED)
    campaign_id = await add_running_campaign(db, tenant, phones(30))

    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_PRIMARY) as sends:
        # 10:15: the hour's cap lets 5 go; the other 25 wait for 11:00, unpublished.
        assert await fan_out(db, broker, tenant, campaign_id, MORNING) == 5
        messages = await messages_of(db, campaign_id)
        assert by_status(messages) == {"queued": 5, "pending": 25}
        assert {m["accountId"] for m in messages if m["status"] == "queued"} == {account.id}
        deferred = [m for m in messages if m["status"] == "pending"]
        assert {m["accountId"] for m in deferred} == {None}
        assert {m["notBefore"] for m in deferred} == {ELEVEN}
        assert await counts_of(db, campaign_id) == {"total": 30, "queued": 5, "pending": 25}
        usage = (await read_usage(db, [account.id], MORNING))[account.id]
        assert (usage.today, usage.this_hour) == (5, 5)

        # The launch delivered again: nothing new, nothing counted twice, nothing moved.
        assert await fan_out(db, broker, tenant, campaign_id, MORNING + timedelta(minutes=1)) == 0
        assert await messages_of(db, campaign_id) == messages
        assert await counts_of(db, campaign_id) == {"total": 30, "queued": 5, "pending": 25}
        assert (await read_usage(db, [account.id], MORNING))[account.id] == usage

        # Before the hour ends nothing is released; at 11:00 the day's warm-up allowance (8)
        # leaves room for 3 more, then the rest wait for midnight.
        assert await release(db, broker, ELEVEN - timedelta(seconds=1)) == 0
        assert await release(db, broker, ELEVEN) == 3
        deferred = [m for m in await messages_of(db, campaign_id) if m["accountId"] is None]
        assert len(deferred) == 22
        assert {m["notBefore"] for m in deferred} == {MIDNIGHT}
        assert await release(db, broker, MIDNIGHT - timedelta(minutes=1)) == 0

        # Day two: 20 allowed, 5 an hour.
        assert await release(db, broker, MIDNIGHT) == 5
        messages = await messages_of(db, campaign_id)
        assert by_status(messages) == {"queued": 13, "pending": 17}
        assert {m["notBefore"] for m in messages if m["accountId"] is None} == {
            MIDNIGHT + timedelta(hours=1)
        }
        assert await counts_of(db, campaign_id) == {"total": 30, "queued": 13, "pending": 17}

        records = await sends.read_to_end()
    published = [
        (r.key.decode(), SendMessage.model_validate_json(r.value))
        for r in records
        if b'"campaign_id":"' + campaign_id.encode() in r.value
    ]
    assert len(published) == 13
    assert {key for key, _ in published} == {account.id}
    assert {event.account_id for _, event in published} == {account.id}
    assert len({event.message_id for _, event in published}) == 13
    assert not [m for m in messages if m["accountId"] == spare.id]


async def test_warm_up_holds_back_a_new_number_and_not_a_seasoned_one(
    broker: KafkaBroker, db: Any
) -> None:
    tenant = new_tenant()
    seasoned = await add_account(
        db, tenant, daily_cap=10, warmup=(3, 6), activated_at=MORNING - timedelta(days=30)
    )
    new = await add_account(db, tenant, daily_cap=10, warmup=(3, 6), activated_at=MORNING)
    campaign_id = await add_running_campaign(db, tenant, phones(20))

    assert await fan_out(db, broker, tenant, campaign_id, MORNING) == 13
    given = Counter(m["accountId"] for m in await messages_of(db, campaign_id))
    assert given == {seasoned.id: 10, new.id: 3, None: 7}

    # Tomorrow the new number may take 6, the seasoned one its 10 again.
    assert await release(db, broker, MIDNIGHT) == 7
    given = Counter(m["accountId"] for m in await messages_of(db, campaign_id))
    assert given[None] == 0
    assert given[new.id] <= 3 + 6


async def test_messages_wait_while_every_account_is_disabled(broker: KafkaBroker, db: Any) -> None:
    tenant = new_tenant()
    account = await add_account(db, tenant, status=AccountStatus.DISABLED)
    campaign_id = await add_running_campaign(db, tenant, phones(4))

    assert await fan_out(db, broker, tenant, campaign_id, MORNING) == 0
    assert by_status(await messages_of(db, campaign_id)) == {"pending": 4}
    assert await release(db, broker, MORNING + timedelta(minutes=5)) == 0

    await db["accounts"].update_one({"_id": account.id}, {"$set": {"status": "enabled"}})
    assert await release(db, broker, MORNING + timedelta(minutes=10)) == 4
    messages = await messages_of(db, campaign_id)
    assert {(m["status"], m["accountId"]) for m in messages} == {("queued", account.id)}
    assert not any("notBefore" in m for m in messages)


async def test_tenants_without_accounts_share_the_shared_gateways_caps(
    broker: KafkaBroker, db: Any
) -> None:
    # Two tenants without accounts of their own: one shared number, one hourly cap for both.
    shared = SharedGateway("default", hourly_cap=10, daily_cap=15)
    first, second = new_tenant(), new_tenant()
    first_campaign = await add_running_campaign(db, first, phones(8))
    second_campaign = await add_running_campaign(db, second, phones(8, start=100))
    assert await fan_out(db, broker, first, first_campaign, MORNING, shared_gateway=shared) == 8
    assert await fan_out(db, broker, second, second_campaign, MORNING, shared_gateway=shared) == 2
    waiting = await messages_of(db, second_campaign)
    assert by_status(waiting) == Counter({"queued": 2, "pending": 6})
    assert {m["accountId"] for m in waiting if m["status"] == "queued"} == {"default"}
    assert {m["notBefore"] for m in waiting if m["status"] == "pending"} == {ELEVEN}
    usage = (await read_usage(db, ["default"], MORNING))["default"]
    assert (usage.today, usage.this_hour) == (10, 10)
    assert await db["recipients"].count_documents({}) == 0

    # The next hour has room for what is left of the day's cap (15): 5 of the 6.
    assert await release(db, broker, ELEVEN, shared_gateway=shared) == 5
    assert by_status(await messages_of(db, second_campaign)) == Counter({"queued": 7, "pending": 1})


async def test_with_the_shared_gateway_off_a_tenant_without_accounts_waits_for_one(
    broker: KafkaBroker, db: Any
) -> None:
    tenant = new_tenant()
    campaign_id = await add_running_campaign(db, tenant, phones(4))
    assert await fan_out(db, broker, tenant, campaign_id, MORNING, shared_gateway=None) == 0
    messages = await messages_of(db, campaign_id)
    assert {(m["status"], m["accountId"]) for m in messages} == {("pending", None)}

    account = await add_account(db, tenant)
    assert await release(db, broker, MORNING + timedelta(minutes=1)) == 4
    messages = await messages_of(db, campaign_id)
    assert {(m["status"], m["accountId"]) for m in messages} == {("queued", account.id)}


async def test_once_a_fan_out_ended_each_account_counts_exactly_the_messages_it_was_given(
    broker: KafkaBroker, db: Any
) -> None:
    # The fan-out takes slots ahead of its batches; what it did not use goes back at its end.
    tenant = new_tenant()
    accounts = [await add_account(db, tenant) for _ in range(3)]
    campaign_id = await add_running_campaign(db, tenant, phones(95))

    assert await fan_out(db, broker, tenant, campaign_id, MORNING) == 95
    given = Counter(m["accountId"] for m in await messages_of(db, campaign_id))
    usage = await read_usage(db, [a.id for a in accounts], MORNING)
    assert {a.id: (usage[a.id].today, usage[a.id].this_hour) for a in accounts} == {
        a.id: (given[a.id], given[a.id]) for a in accounts
    }
    assert sum(given.values()) == 95


async def test_a_fan_out_that_crosses_the_hour_counts_each_message_in_its_own_hour(
    broker: KafkaBroker, db: Any
) -> None:
    tenant = new_tenant()
    accounts = [await add_account(db, tenant) for _ in range(2)]
    campaign_id = await add_running_campaign(db, tenant, phones(60))
    # Batches of 10, 10, 10 …: the first two are made at 10:59:59, the rest at 11:00.
    moments = iter([ELEVEN - timedelta(seconds=1)] * 2)

    def clock() -> datetime:
        return next(moments, ELEVEN)

    await fan_out(db, broker, tenant, campaign_id, clock)
    messages = await messages_of(db, campaign_id)
    for hour, moment in ((10, ELEVEN - timedelta(minutes=30)), (11, ELEVEN)):
        made = Counter(m["accountId"] for m in messages if m["createdAt"].hour == hour)
        usage = await read_usage(db, [a.id for a in accounts], moment)
        assert {a.id: usage[a.id].this_hour for a in accounts} == {
            a.id: made[a.id] for a in accounts
        }
    assert sum(usage[a.id].today for a in accounts) == 60


async def test_fan_outs_of_one_tenant_at_once_never_give_an_account_more_than_its_cap(
    broker: KafkaBroker, db: Any
) -> None:
    tenant = new_tenant()
    account = await add_account(db, tenant, hourly_cap=30)
    first, second = [
        await add_running_campaign(db, tenant, phones(25, start)) for start in (0, 100)
    ]

    queued = await asyncio.gather(
        *(fan_out(db, broker, tenant, c, MORNING) for c in (first, second))
    )

    assert sum(queued) == 30
    created = await messages_of(db, first) + await messages_of(db, second)
    assert Counter(m["accountId"] for m in created) == {account.id: 30, None: 20}
    usage = (await read_usage(db, [account.id], MORNING))[account.id]
    assert (usage.today, usage.this_hour) == (30, 30)
