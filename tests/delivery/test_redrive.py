"""Redriving what failed, once the gateways work again: one dead letter, a campaign's dead
letters, and every retryable failure of a campaign. A redriven message gets a fresh attempt plan
(so the primary engine first), keeps its id and its history, and is sent once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from herald_devstack.waiting import eventually
from tests.system import (
    RunningStack,
    launch_campaign,
    messages_of,
    no_duplicate_sends,
    phones,
    set_gateway_mode,
    wait_for_statuses,
)

pytestmark = pytest.mark.e2e

FAILED_PLAN = [("baileys", "failed"), ("web-js", "failed"), ("web-js", "failed")]


async def dead_letters_of(api: httpx.AsyncClient, campaign_id: str, **params: Any) -> list[Any]:
    response = await api.get("/api/dead-letters", params={"campaignId": campaign_id, **params})
    assert response.status_code == 200, response.text
    letters: list[Any] = response.json()["deadLetters"]
    return letters


async def failed_campaign(
    api: httpx.AsyncClient, stack: RunningStack, mongo: Any, size: int, prefix: str
) -> tuple[str, list[dict[str, Any]]]:
    """A campaign whose every message exhausted its plan, with its dead letters recorded."""
    campaign_id = await launch_campaign(api, phones(size, prefix=prefix))
    failed = await wait_for_statuses(mongo, stack, campaign_id, size, {"failed"})
    await eventually(
        lambda: dead_letters_of(api, campaign_id),
        lambda letters: len(letters) == size,
        what=f"{size} dead letters recorded",
    )
    return campaign_id, failed


def attempt_history(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["engine"], a["outcome"]) for a in message["attempts"]]


async def test_redriven_dead_letters_and_failed_messages_are_sent_once_with_a_fresh_plan(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: Any,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    await set_gateway_mode(primary, "fail_5xx")
    await set_gateway_mode(fallback, "fail_5xx")
    (by_letters, _), (by_retry, _) = await asyncio.gather(
        failed_campaign(api, stack, mongo, 3, "+1305"),
        failed_campaign(api, stack, mongo, 2, "+1306"),
    )
    await set_gateway_mode(primary, "ok")
    await set_gateway_mode(fallback, "ok")

    # One dead letter on its own.
    first, *others = await dead_letters_of(api, by_letters)
    redriven = await api.post(f"/api/dead-letters/{first['id']}/redrive")
    assert redriven.status_code == 200, redriven.text
    body = redriven.json()
    assert body["deadLetter"]["status"] == "redriven"
    assert body["topic"] == "message.send.primary"
    assert body["message"]["id"] == first["messageId"]
    assert (body["message"]["attempt"], body["message"]["planStep"]) == (4, 0)
    assert body["message"]["retryCount"] == 3
    sent = await eventually(
        lambda: mongo[stack.config.database]["messages"].find_one({"_id": first["messageId"]}),
        lambda m: m["status"] in {"sent", "failed"},
        what="the redriven message sent",
    )
    assert sent["status"] == "sent"
    assert sent["deliveryMethod"] == "baileys"  # a fresh plan starts on the primary engine
    assert attempt_history(sent) == [*FAILED_PLAN, ("baileys", "sent")]
    # Redriving it again is refused: its message is no longer failed.
    again = await api.post(f"/api/dead-letters/{first['id']}/redrive")
    assert again.status_code == 409, again.text
    assert first["messageId"] in again.json()["error"]

    # The rest of that campaign's dead letters, all at once.
    campaign_wide = await api.post(f"/api/campaigns/{by_letters}/dead-letters/redrive")
    assert campaign_wide.status_code == 200, campaign_wide.text
    assert campaign_wide.json() == {"redriven": len(others), "skipped": 0}

    # Every retryable failure of the other campaign, without going through its dead letters.
    retried = await api.post("/api/messages/retry-failed", params={"campaignId": by_retry})
    assert retried.status_code == 200, retried.text
    assert retried.json() == {"requeued": 2}

    for campaign_id, size in ((by_letters, 3), (by_retry, 2)):
        messages = await wait_for_statuses(mongo, stack, campaign_id, size, {"sent"})
        for message in messages:
            assert attempt_history(message) == [*FAILED_PLAN, ("baileys", "sent")]
            assert (message["attempt"], message["retryCount"]) == (4, 3)
        # Nothing is left open for an operator: the messages were redriven one way or another.
        assert await dead_letters_of(api, campaign_id, status="open") == []
        stats = await api.get(f"/api/messages/campaign/{campaign_id}/stats")
        assert (stats.json()["sent"], stats.json()["failed"]) == (size, 0), stats.text

    # Nothing more to redrive, and nobody got a message twice.
    nothing = await api.post(f"/api/campaigns/{by_letters}/dead-letters/redrive")
    assert nothing.json() == {"redriven": 0, "skipped": 0}
    for campaign_id in (by_letters, by_retry):
        again = await api.post("/api/messages/retry-failed", params={"campaignId": campaign_id})
        assert again.json() == {"requeued": 0}
    accepted = await no_duplicate_sends(primary, fallback)
    for campaign_id in (by_letters, by_retry):
        for message in await messages_of(mongo, stack, campaign_id):
            assert accepted[message["_id"]] == 1
