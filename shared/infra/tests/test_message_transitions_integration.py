"""Compare-and-set transitions against the real MongoDB-wire server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from herald_core.messages.states import IllegalTransition, MessageStatus
from herald_infra.messages.transitions import transition, transition_from_any, transition_many
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration
S = MessageStatus


@pytest.fixture(scope="module")
def settings(mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_transitions_{uuid.uuid4().hex[:8]}"
    )


async def seed(db: Any, statuses: list[MessageStatus]) -> tuple[str, list[str]]:
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


async def counts(db: Any, campaign_id: str) -> dict[str, int]:
    campaign = await db["campaigns"].find_one({"_id": campaign_id})
    return {k: v for k, v in campaign["counts"].items() if v}


async def test_an_applied_transition_moves_the_counters(db: Any) -> None:
    campaign_id, [mid] = await seed(db, [S.QUEUED])
    moved = await transition(
        db, message_id=mid, campaign_id=campaign_id, source=S.QUEUED, target=S.SENDING, attempt=1
    )
    assert moved
    assert (await db["messages"].find_one({"_id": mid}))["status"] == "sending"
    assert await counts(db, campaign_id) == {"sending": 1}


async def test_a_transition_that_did_not_apply_changes_nothing(db: Any) -> None:
    campaign_id, [mid] = await seed(db, [S.SENT])
    for source, attempt in [(S.QUEUED, 1), (S.SENT, 2)]:
        moved = await transition(
            db,
            message_id=mid,
            campaign_id=campaign_id,
            source=source,
            target=S.SENDING if source is S.QUEUED else S.DELIVERED,
            attempt=attempt,
        )
        assert not moved
    assert (await db["messages"].find_one({"_id": mid}))["status"] == "sent"
    assert await counts(db, campaign_id) == {"sent": 1}


async def test_a_forbidden_transition_raises_before_touching_the_database(db: Any) -> None:
    campaign_id, [mid] = await seed(db, [S.SENT])
    with pytest.raises(IllegalTransition):
        await transition(
            db, message_id=mid, campaign_id=campaign_id, source=S.SENT, target=S.SENDING
        )
    assert await counts(db, campaign_id) == {"sent": 1}


async def test_transition_from_any_follows_the_status_it_finds(db: Any) -> None:
    # The likely source is "queued", but the message is still "pending" (the dispatcher has
    # not marked it yet): the claim must still happen, from "pending".
    campaign_id, [mid] = await seed(db, [S.PENDING])
    source = await transition_from_any(
        db,
        message_id=mid,
        campaign_id=campaign_id,
        sources=(S.QUEUED, S.PENDING),
        target=S.SENDING,
        attempt=1,
    )
    assert source is S.PENDING
    assert await counts(db, campaign_id) == {"sending": 1}
    again = await transition_from_any(
        db,
        message_id=mid,
        campaign_id=campaign_id,
        sources=(S.QUEUED, S.PENDING),
        target=S.SENDING,
        attempt=1,
    )
    assert again is None
    assert await counts(db, campaign_id) == {"sending": 1}


async def test_transition_many_moves_only_the_messages_still_in_the_source(db: Any) -> None:
    campaign_id, ids = await seed(db, [S.PENDING, S.PENDING, S.SENDING])
    moved = await transition_many(
        db, campaign_id=campaign_id, message_ids=ids, source=S.PENDING, target=S.QUEUED
    )
    assert moved == 2
    assert await counts(db, campaign_id) == {"queued": 2, "sending": 1}
