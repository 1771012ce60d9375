"""What a fan-out reads per batch, against the real Kafka broker and MongoDB-wire server: the
tenant's accounts and their usage are read for the fan-out, not for every batch (reads that
grow with accounts times batches); the suppression list is looked up only when the tenant has one.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient, monitoring

from herald_core.accounts.model import AccountStatus
from herald_core.contracts.events import CampaignLaunched
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_core.recipients.suppression import SuppressionReason, SuppressionScope
from herald_dispatcher import account_roster
from herald_dispatcher.account_roster import AccountRoster
from herald_dispatcher.fan_out import fan_out_campaign
from herald_infra.accounts.repository import read_usage
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_infra.mongo.client import ensure_indexes
from herald_infra.recipients.suppressions import lift, may_have_suppressions, suppress
from herald_infra.runtime.settings import HeraldSettings

from .conftest import (
    add_account,
    add_running_campaign,
    messages_of,
    new_tenant,
    phones,
    today_at,
)

pytestmark = pytest.mark.integration
MORNING = today_at(10.25)


class FindsOf(monitoring.CommandListener):
    """Counts the ``find`` commands sent to each collection, and those of them that look
    documents up by ``_id``."""

    def __init__(self) -> None:
        self.finds: Counter[str] = Counter()
        self.by_id: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            collection = str(event.command["find"])
            self.finds[collection] += 1
            if "_id" in event.command.get("filter", {}):
                self.by_id[collection] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_fan_out_reads_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def listener() -> Iterator[FindsOf]:
    yield FindsOf()


@pytest.fixture
async def watched_db(settings: HeraldSettings, listener: FindsOf) -> AsyncIterator[Any]:
    """The test's database through a client whose ``find`` commands ``listener`` counts."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, event_listeners=[listener]
    )
    try:
        yield client[settings.mongodb_database]
    finally:
        await client.close()


@pytest.fixture
async def broker(settings: HeraldSettings, db: Any) -> AsyncIterator[KafkaBroker]:
    await ensure_indexes(db)
    await ensure_topics(settings)
    kafka = build_broker(settings, client_id="it-fan-out-reads")
    await kafka.start()
    yield kafka
    await kafka.stop()


async def test_a_fan_out_reads_its_accounts_and_their_usage_once_not_per_batch(
    broker: KafkaBroker,
    db: Any,
    watched_db: Any,
    listener: FindsOf,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # However slow the machine, the fan-out's copy of the accounts stays fresh meanwhile.
    monkeypatch.setattr(account_roster, "ACCOUNTS_FRESH_FOR", 3600.0)
    tenant = new_tenant()
    accounts = [await add_account(db, tenant) for _ in range(4)]
    # Batches of 10 (the first ones 10 too): 40 batches.
    campaign_id = await add_running_campaign(db, tenant, phones(400))

    queued = await fan_out_campaign(
        watched_db,
        broker,
        CampaignLaunched(tenant_id=tenant, campaign_id=campaign_id),
        shared_gateway=None,
        batch_size=10,
        send_topic=MESSAGE_SEND_PRIMARY,
        clock=lambda: MORNING,
    )

    assert queued == 400
    # The accounts: once (the copy is read again only once it is old, see the next test).
    assert listener.finds["accounts"] == 1
    # Their usage: in the first batch, whose slots taken ahead cover the next ones, and again
    # only in the last few, once an account holds less than a batch may ask of it.
    assert 1 <= listener.finds["account_usage"] <= 10
    # The caps still count exactly what each account was given.
    given = Counter(m["accountId"] for m in await messages_of(db, campaign_id))
    usage = await read_usage(db, [a.id for a in accounts], MORNING)
    assert {a.id: usage[a.id].today for a in accounts} == {a.id: given[a.id] for a in accounts}
    assert sorted(given.values()) == [100, 100, 100, 100]
    # The tenant has no list: no number was looked up in one.
    assert listener.by_id["suppressions"] == 0


async def test_an_account_disabled_during_a_fan_out_is_seen_once_the_copy_is_old(
    db: Any,
) -> None:
    tenant = new_tenant()
    first = await add_account(db, tenant)
    seconds = iter(range(1000))
    roster = AccountRoster(db, tenant, fresh_for=5, clock=lambda: float(next(seconds)))
    assert [a.id for a in await roster.accounts()] == [first.id]  # read at 0 s
    await db["accounts"].update_one(
        {"_id": first.id}, {"$set": {"status": AccountStatus.DISABLED.value}}
    )
    second = await add_account(db, tenant)
    for _ in range(4):  # 1 … 4 s: the copy
        assert [(a.id, a.enabled) for a in await roster.accounts()] == [(first.id, True)]
    # 5 s: read again.
    assert [(a.id, a.enabled) for a in await roster.accounts()] == [
        (first.id, False),
        (second.id, True),
    ]


async def test_only_a_tenant_with_a_list_needs_its_numbers_looked_up(db: Any) -> None:
    tenant, other = new_tenant(), new_tenant()
    assert not await may_have_suppressions(db, tenant, SuppressionScope.TENANT)

    await suppress(db, other, "+919800000001", SuppressionReason.MANUAL, {"test": True})
    assert not await may_have_suppressions(db, tenant, SuppressionScope.TENANT)
    # The global scope checks every tenant's list.
    assert await may_have_suppressions(db, tenant, SuppressionScope.GLOBAL)

    await suppress(db, tenant, "+919800000002", SuppressionReason.MANUAL, {"test": True})
    await lift(db, tenant, "+919800000002")
    # Lifted entries stay; the look-up then says which numbers are on the list now.
    assert await may_have_suppressions(db, tenant, SuppressionScope.TENANT)
