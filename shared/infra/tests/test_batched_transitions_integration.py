"""Batched compare-and-set transitions against the real MongoDB-wire server: transitions asked
at once are written together, and each caller still learns whether its own applied."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from herald_core.messages.states import IllegalTransition, MessageStatus
from herald_infra.messages.batched_transitions import TransitionBatcher
from herald_infra.mongo.client import Database, Document

pytestmark = pytest.mark.integration
S = MessageStatus


class Writes(monitoring.CommandListener):
    """Counts the ``update`` commands sent to ``messages``."""

    def __init__(self) -> None:
        self.updates = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update" and event.command.get("update") == "messages":
            self.updates += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def watched(mongodb_url: str) -> AsyncIterator[tuple[Database, Writes]]:
    writes = Writes()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongodb_url, tz_aware=True, event_listeners=[writes]
    )
    name = f"it_batched_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name], writes
    finally:
        await client.drop_database(name)
        await client.close()


async def seed(db: Database, statuses: list[MessageStatus]) -> tuple[str, list[str]]:
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status.value] = counts.get(status.value, 0) + 1
    await db["campaigns"].insert_one({"_id": campaign_id, "counts": counts})
    ids = [f"m-{i}-{uuid.uuid4().hex[:6]}" for i in range(len(statuses))]
    await db["messages"].insert_many(
        [
            {"_id": i, "campaignId": campaign_id, "status": s.value, "attempt": 1}
            for i, s in zip(ids, statuses, strict=True)
        ]
    )
    return campaign_id, ids


async def counts(db: Database, campaign_id: str) -> dict[str, int]:
    campaign = await db["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None
    return {k: v for k, v in campaign["counts"].items() if v}


async def statuses(db: Database, ids: list[str]) -> list[str]:
    found = {d["_id"]: d["status"] async for d in db["messages"].find({"_id": {"$in": ids}})}
    return [found[i] for i in ids]


async def test_transitions_asked_at_once_are_written_in_one_command(
    watched: tuple[Database, Writes],
) -> None:
    db, writes = watched
    campaign_id, ids = await seed(db, [S.QUEUED] * 100)
    batcher = TransitionBatcher(db)

    moved = await asyncio.gather(
        *(
            batcher.transition(
                message_id=mid,
                campaign_id=campaign_id,
                source=S.QUEUED,
                target=S.SENDING,
                attempt=1,
                fields={"claim": {"owner": "test"}},
            )
            for mid in ids
        )
    )

    assert moved == [True] * 100
    assert writes.updates == 1
    assert await statuses(db, ids) == ["sending"] * 100
    assert await counts(db, campaign_id) == {"sending": 100}


async def test_each_caller_learns_whether_its_own_transition_applied(
    watched: tuple[Database, Writes],
) -> None:
    db, _ = watched
    campaign_id, ids = await seed(db, [S.QUEUED, S.SENT, S.QUEUED, S.CANCELLED])
    other_campaign, [other] = await seed(db, [S.SENDING])
    batcher = TransitionBatcher(db)

    async def claim(mid: str, attempt: int = 1) -> bool:
        return await batcher.transition(
            message_id=mid,
            campaign_id=campaign_id,
            source=S.QUEUED,
            target=S.SENDING,
            attempt=attempt,
        )

    moved = await asyncio.gather(
        claim(ids[0]),
        claim(ids[1]),  # already sent
        claim(ids[2], attempt=2),  # at another attempt
        claim(ids[3]),  # cancelled
        batcher.transition(
            message_id=other,
            campaign_id=other_campaign,
            source=S.SENDING,
            target=S.SENT,
            push={"attempts": {"outcome": "sent"}},
        ),
    )

    assert list(moved) == [True, False, False, False, True]
    assert await statuses(db, ids) == ["sending", "sent", "queued", "cancelled"]
    # Counters moved for the transitions that applied only, each in its own campaign.
    assert await counts(db, campaign_id) == {"sending": 1, "sent": 1, "queued": 1, "cancelled": 1}
    assert await counts(db, other_campaign) == {"sent": 1}
    message = await db["messages"].find_one({"_id": other})
    assert message is not None and message["attempts"] == [{"outcome": "sent"}]


async def test_a_message_claimed_twice_at_once_is_claimed_once(
    watched: tuple[Database, Writes],
) -> None:
    db, _ = watched
    campaign_id, [mid] = await seed(db, [S.QUEUED])
    batcher = TransitionBatcher(db)

    moved = await asyncio.gather(
        *(
            batcher.transition(
                message_id=mid,
                campaign_id=campaign_id,
                source=S.QUEUED,
                target=S.SENDING,
                attempt=1,
            )
            for _ in range(3)
        )
    )

    assert sorted(moved) == [False, False, True]
    assert await counts(db, campaign_id) == {"sending": 1}


async def test_a_claim_follows_the_status_it_finds(watched: tuple[Database, Writes]) -> None:
    db, _ = watched
    campaign_id, [pending, sent] = await seed(db, [S.PENDING, S.SENT])
    batcher = TransitionBatcher(db)
    sources = (S.QUEUED, S.PENDING, S.RETRYING)

    async def claim(mid: str) -> MessageStatus | None:
        return await batcher.transition_from_any(
            message_id=mid, campaign_id=campaign_id, sources=sources, target=S.SENDING, attempt=1
        )

    assert await claim(pending) is S.PENDING
    assert await claim(sent) is None
    assert await counts(db, campaign_id) == {"sending": 1, "sent": 1}


async def test_a_forbidden_transition_is_refused_before_anything_is_written(
    watched: tuple[Database, Writes],
) -> None:
    db, writes = watched
    campaign_id, [mid] = await seed(db, [S.SENT])
    with pytest.raises(IllegalTransition):
        await TransitionBatcher(db).transition(
            message_id=mid, campaign_id=campaign_id, source=S.SENT, target=S.QUEUED
        )
    assert writes.updates == 0


async def test_when_the_write_fails_every_caller_of_the_batch_gets_the_error(
    mongodb_url: str,
) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_url)
    db: Any = client["it_batched_closed"]
    await client.close()
    batcher = TransitionBatcher(db)
    results = await asyncio.gather(
        *(
            batcher.transition(
                message_id=f"m-{n}", campaign_id="c", source=S.QUEUED, target=S.SENDING
            )
            for n in range(3)
        ),
        return_exceptions=True,
    )
    assert all(isinstance(result, Exception) for result in results), results
