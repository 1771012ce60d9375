"""The queue of unsent messages to end in the background, against the real MongoDB-wire server:
each round gives every tenant one batch, a worker that stopped mid-way is followed by the next
with exact counters, and a cancel takes over an expiry queued before it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from herald_core.messages.states import MessageStatus
from herald_infra.messages.counters import recount
from herald_infra.messages.unsent_endings import (
    UnsentEndings,
    one_per_tenant,
    queue_unsent_ending,
)
from herald_infra.mongo.client import Database, ensure_indexes
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration
S = MessageStatus
NOW = datetime.now(UTC).replace(microsecond=0)
PAST = NOW - timedelta(minutes=1)


@pytest.fixture
def settings(mongodb_url: str) -> HeraldSettings:
    # A database per test: each test's rounds see only its own queue.
    return HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_endings_{uuid.uuid4().hex[:8]}"
    )


@pytest.fixture(autouse=True)
async def indexes(db: Database) -> None:
    await ensure_indexes(db)


async def seed(
    db: Database, tenant: str, statuses: list[str], *, status: str = "cancelled", **fields: Any
) -> str:
    """A campaign of ``tenant`` in ``status`` with one message per entry of ``statuses``, its
    counters matching them."""
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    documents = [
        {
            "_id": f"{campaign_id}-m{n:05d}",
            "tenantId": tenant,
            "campaignId": campaign_id,
            "status": message_status,
            "attempt": 1,
            **fields,
        }
        for n, message_status in enumerate(statuses)
    ]
    await db["messages"].insert_many(documents)
    counts: dict[str, int] = {"total": len(documents)}
    for doc in documents:
        counts[doc["status"]] = counts.get(doc["status"], 0) + 1
    await db["campaigns"].insert_one(
        {"_id": campaign_id, "tenantId": tenant, "status": status, "counts": counts}
    )
    return campaign_id


async def count(db: Database, campaign_id: str, status: str) -> int:
    return int(await db["messages"].count_documents({"campaignId": campaign_id, "status": status}))


async def counters(db: Database, campaign_id: str) -> dict[str, int]:
    campaign = await db["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None
    return {k: v for k, v in campaign["counts"].items() if v}


async def recounted(db: Database, campaign_id: str) -> dict[str, int]:
    return {k: v for k, v in (await recount(db, campaign_id)).items() if v}


async def cancel(db: Database, tenant: str, campaign_id: str, *, at: datetime = NOW) -> None:
    await queue_unsent_ending(
        db, tenant_id=tenant, campaign_id=campaign_id, target=S.CANCELLED, at=at
    )


def test_a_round_serves_each_tenants_oldest_entry_tenants_in_order_of_waiting() -> None:
    def entry(campaign: str, tenant: str, minutes: int) -> dict[str, Any]:
        return {"_id": campaign, "tenantId": tenant, "since": NOW + timedelta(minutes=minutes)}

    entries = [entry("a2", "a", 2), entry("b1", "b", 1), entry("a0", "a", 0), entry("c5", "c", 5)]
    assert [e["_id"] for e in one_per_tenant(entries)] == ["a0", "b1", "c5"]
    assert one_per_tenant([]) == []


async def test_each_round_gives_every_tenant_one_batch_however_big_anothers_cancel(
    db: Database,
) -> None:
    big = await seed(db, "t-big", ["queued"] * 9 + ["sent"])
    small = await seed(db, "t-small", ["pending", "retrying", "sending"])
    second_of_big = await seed(db, "t-big", ["queued"])
    cancels = [("t-big", big), ("t-small", small), ("t-big", second_of_big)]
    for n, (tenant, campaign_id) in enumerate(cancels):
        await cancel(db, tenant, campaign_id, at=NOW + timedelta(seconds=n))
    endings = UnsentEndings(db, batch_size=2)

    first = await endings.run_round()
    # One batch each for the two tenants: the small one is not queued behind the big one.
    assert (first.served, first.moved) == (2, {"cancelled": 4})
    assert (await count(db, big, "cancelled"), await count(db, small, "cancelled")) == (2, 2)

    second = await endings.run_round()
    # The small tenant's campaign has none left: its entry goes, its counters are exact.
    assert second.finished == [small]
    assert await counters(db, small) == {"total": 3, "cancelled": 2, "sending": 1}

    await endings.run_until_done()
    assert await count(db, big, "cancelled") == 9
    assert await count(db, second_of_big, "cancelled") == 1
    assert await counters(db, big) == {"total": 10, "cancelled": 9, "sent": 1}
    assert await db["unsent_endings"].count_documents({}) == 0


async def test_a_worker_stopped_mid_way_is_followed_by_the_next_with_exact_counters(
    db: Database,
) -> None:
    size = 1200
    campaign_id = await seed(db, "t-crash", ["queued"] * (size - 200) + ["pending"] * 200)
    await cancel(db, "t-crash", campaign_id)
    stopped = UnsentEndings(db, batch_size=100)
    for _ in range(3):
        await stopped.run_round()
    assert await count(db, campaign_id, "cancelled") == 300
    # It died between a batch's messages and their counters: 50 moved, no counter did.
    left = [
        d["_id"]
        async for d in db["messages"]
        .find({"campaignId": campaign_id, "status": "queued"})
        .limit(50)
    ]
    await db["messages"].update_many({"_id": {"$in": left}}, {"$set": {"status": "cancelled"}})
    assert await counters(db, campaign_id) != await recounted(db, campaign_id)
    assert await db["unsent_endings"].find_one({"_id": campaign_id}) is not None

    done = await UnsentEndings(db, batch_size=100).run_until_done()

    assert done.finished == [campaign_id]
    assert done.moved == {"cancelled": size - 350}
    assert await count(db, campaign_id, "cancelled") == size
    assert await counters(db, campaign_id) == {"total": size, "cancelled": size}
    assert await counters(db, campaign_id) == await recounted(db, campaign_id)


async def test_a_cancel_takes_over_an_expiry_and_an_expiry_leaves_a_cancel_as_it_is(
    db: Database,
) -> None:
    running = await seed(db, "t-window", ["queued", "queued"], status="running", expiresAt=PAST)
    await db["messages"].update_one(
        {"_id": f"{running}-m00001"}, {"$set": {"expiresAt": NOW + timedelta(hours=1)}}
    )
    await queue_unsent_ending(
        db, tenant_id="t-window", campaign_id=running, target=S.EXPIRED, at=NOW
    )
    await UnsentEndings(db).run_until_done()
    # Only the message out of its window expired; the campaign goes on.
    assert (await count(db, running, "expired"), await count(db, running, "queued")) == (1, 1)

    cancelled = await seed(db, "t-window", ["queued", "queued"], expiresAt=PAST)
    await queue_unsent_ending(
        db, tenant_id="t-window", campaign_id=cancelled, target=S.EXPIRED, at=NOW
    )
    await cancel(db, "t-window", cancelled)
    await queue_unsent_ending(
        db, tenant_id="t-window", campaign_id=cancelled, target=S.EXPIRED, at=NOW
    )
    entry = await db["unsent_endings"].find_one({"_id": cancelled})
    assert entry is not None and entry["target"] == "cancelled"
    await UnsentEndings(db).run_until_done()
    assert await count(db, cancelled, "cancelled") == 2


async def test_a_cancel_queued_for_a_campaign_that_is_not_cancelled_ends_nothing(
    db: Database,
) -> None:
    running = await seed(db, "t-stale", ["queued", "pending"], status="running")
    await cancel(db, "t-stale", running)

    report = await UnsentEndings(db).run_until_done()

    assert report.finished == [running] and report.moved == {}
    assert await count(db, running, "queued") == 1
    assert await db["unsent_endings"].count_documents({}) == 0
