"""A sender process killed with SIGKILL in the middle of a campaign, and restarted.

Claims carry a lease: what the dead process claimed stays ``sending`` until the lease runs out,
then the sweep resolves it by policy (default: failed, "outcome unknown"; never a blind resend).
Nothing is lost, nothing is sent twice, and the counters agree with the messages.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.processes import wait_ready
from herald_devstack.waiting import eventually
from herald_infra.messages.counters import recount
from tests.system import (
    RunningStack,
    launch_campaign,
    messages_of,
    no_duplicate_sends,
    phones,
    sweeper,
)

pytestmark = pytest.mark.e2e

CAMPAIGN_SIZE = 2000


async def count_status(
    mongo: AsyncMongoClient[dict[str, Any]], stack: RunningStack, campaign_id: str, status: str
) -> int:
    return await mongo[stack.config.database]["messages"].count_documents(
        {"campaignId": campaign_id, "status": status}
    )


async def test_a_sender_killed_mid_campaign_loses_nothing_and_sends_nothing_twice(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    campaign_id = await launch_campaign(api, phones(CAMPAIGN_SIZE, prefix="+1310"))
    sender = stack.processes["primary-sender"]

    sent_before_kill = await eventually(
        lambda: count_status(mongo, stack, campaign_id, "sent"),
        lambda sent: sent >= 200,
        timeout=120,
        interval=0.05,
        what="the campaign well under way",
    )
    sender.kill()
    assert sent_before_kill < CAMPAIGN_SIZE
    sender.start()
    wait_ready([sender], timeout=60)

    async with sweeper(stack) as sweep:
        await eventually(
            lambda: sweep(campaign_id),
            lambda busy: busy == 0,
            timeout=300,
            interval=1.0,
            what="every message terminal",
        )

    messages = await messages_of(mongo, stack, campaign_id)
    assert len(messages) == CAMPAIGN_SIZE
    by_status: dict[str, int] = {}
    for message in messages:
        by_status[message["status"]] = by_status.get(message["status"], 0) + 1
    assert set(by_status) <= {"sent", "failed"}, by_status
    # Only what the dead process had claimed can be unknown; everything else was sent.
    unknown = [m for m in messages if m["status"] == "failed"]
    assert all(m["failedReason"] == "outcome-unknown" for m in unknown), unknown[:3]
    in_hand = 1  # one sender account: its lane works on one message at a time
    assert len(unknown) <= in_hand, len(unknown)

    # A process killed between a message's compare-and-set and its campaign's counter update
    # leaves a counter off; only the messages it had in hand can be, and the sweep's
    # reconciliation puts them right.
    assert all(abs(delta) <= in_hand for delta in sweep.corrections.values()), sweep.corrections
    actual = await recount(mongo[stack.config.database], campaign_id)
    stats = (await api.get(f"/api/messages/campaign/{campaign_id}/stats")).json()
    assert (stats["total"], stats["sent"], stats["failed"]) == (
        actual["total"],
        actual["sent"],
        actual["failed"],
    )

    accepted = await no_duplicate_sends(primary, fallback)
    sent_ids = {m["_id"] for m in messages if m["status"] == "sent"}
    accepted_here = {m["_id"] for m in messages} & set(accepted)
    assert sent_ids <= accepted_here
    # A message the gateway took but whose sender died before recording it is "unknown".
    assert accepted_here - sent_ids <= {m["_id"] for m in unknown}
