"""The running dispatcher spreading campaigns over sender accounts, against the real Kafka broker
and MongoDB-wire server: launches arrive on ``campaign.events``, the periodic release runs on
its own, and the test moves the dispatcher's clock instead of waiting an hour."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from herald_core.contracts.events import CampaignLaunched, SendMessage
from herald_core.contracts.topics import CAMPAIGN_EVENTS, MESSAGE_SEND_PRIMARY
from herald_devstack.asgi import running
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from herald_dispatcher.main import create_app
from herald_infra.runtime.settings import HeraldSettings

from .conftest import (
    MovableClock,
    add_account,
    add_running_campaign,
    counts_of,
    messages_of,
    new_tenant,
    phones,
    today_at,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_accounts_{uuid.uuid4().hex[:8]}",
        dispatch_batch_size=7,  # several batches per campaign
        deferred_release_interval_seconds=0.2,
    )


@pytest.fixture(scope="module")
def clock() -> MovableClock:
    return MovableClock(today_at(9))


@pytest.fixture(scope="module")
async def dispatcher(settings: HeraldSettings, clock: MovableClock) -> AsyncIterator[None]:
    async with running(create_app(settings, clock=clock)):
        yield


async def launch(settings: HeraldSettings, tenant_id: str, campaign_id: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        event = CampaignLaunched(tenant_id=tenant_id, campaign_id=campaign_id)
        await producer.send_and_wait(
            CAMPAIGN_EVENTS, event.model_dump_json().encode(), key=campaign_id.encode()
        )
    finally:
        await producer.stop()


async def queued(db: Any, campaign_id: str, count: int) -> dict[str, int]:
    return await eventually(
        lambda: counts_of(db, campaign_id),
        lambda c: c.get("queued") == count,
        timeout=60,
        what=f"{count} messages of {campaign_id} queued",
    )


def send_events(records: list[Any], campaign_id: str) -> list[tuple[str, SendMessage]]:
    """(key, event) of the campaign's send events among ``records``."""
    marker = f'"campaign_id":"{campaign_id}"'.encode()
    return [
        (r.key.decode(), SendMessage.model_validate_json(r.value))
        for r in records
        if marker in r.value
    ]


async def all_send_events(
    sends: TopicReader, campaign_id: str, expected: int
) -> list[tuple[str, SendMessage]]:
    """The campaign's send events once ``expected`` were published, and any published past them
    by then (a fan-out marks its messages queued before it publishes them)."""
    records = await sends.read_until(
        lambda records: len(send_events(records, campaign_id)) >= expected
    )
    records += await sends.read_to_end()
    return send_events(records, campaign_id)


async def test_a_recipient_keeps_its_sender_across_two_campaigns(
    dispatcher: None, settings: HeraldSettings, clock: MovableClock, db: Any
) -> None:
    clock.at = today_at(9)
    tenant = new_tenant()
    first_accounts = [await add_account(db, tenant) for _ in range(2)]
    regulars = phones(20)
    first = await add_running_campaign(db, tenant, regulars)
    await launch(settings, tenant, first)
    await queued(db, first, 20)
    before = {m["phone"]: m["accountId"] for m in await messages_of(db, first)}
    # Spread over both accounts, turn and turn about.
    assert Counter(before.values()) == {a.id: 10 for a in first_accounts}

    # A new number joins with the most room of all: without the memory of who sent to whom,
    # it would take everyone. The regulars stay with their sender; newcomers go to it.
    newcomer_account = await add_account(db, tenant, daily_cap=100_000)
    newcomers = phones(6, start=100)
    second = await add_running_campaign(db, tenant, [*regulars, *newcomers])
    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_PRIMARY) as sends:
        await launch(settings, tenant, second)
        await queued(db, second, 26)
        published = await all_send_events(sends, second, 26)

    after = {m["phone"]: m["accountId"] for m in await messages_of(db, second)}
    assert {phone: after[phone] for phone in regulars} == before
    assert {after[phone] for phone in newcomers} == {newcomer_account.id}
    # Published keyed by the account, so one account's messages keep their order.
    assert len(published) == 26
    assert all(key == event.account_id == after[event.phone] for key, event in published)


async def test_deferred_messages_go_out_when_their_window_opens(
    dispatcher: None, settings: HeraldSettings, clock: MovableClock, db: Any
) -> None:
    clock.at = today_at(10.5)
    tenant = new_tenant()
    account = await add_account(db, tenant, hourly_cap=3)
    campaign_id = await add_running_campaign(db, tenant, phones(8))
    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_PRIMARY) as sends:
        await launch(settings, tenant, campaign_id)
        # The fan-out counts its messages batch by batch: the 3 may be queued before the last
        # batch (held back) is counted.
        await eventually(
            lambda: counts_of(db, campaign_id),
            lambda counts: counts == {"total": 8, "queued": 3, "pending": 5},
            timeout=60,
            what="3 messages queued and 5 held back",
        )

        # The release runs every 0.2 s: when the next hour comes, 3 more go out, and the last
        # 2 the hour after (exactly when is the caps tests' business).
        clock.at = today_at(11)
        await queued(db, campaign_id, 6)
        clock.at = today_at(12)
        await queued(db, campaign_id, 8)
        published = await all_send_events(sends, campaign_id, 8)

    messages = await messages_of(db, campaign_id)
    assert {(m["status"], m["accountId"]) for m in messages} == {("queued", account.id)}
    assert sorted(event.message_id for _, event in published) == sorted(m["_id"] for m in messages)
    assert {key for key, _ in published} == {account.id}
