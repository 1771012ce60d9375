"""Pause, resume, cancel and the validity window, end to end: the services as processes, sends
counted where WhatsApp would see them (the gateway simulators).

- A pause stops new gateway calls once it took effect (its answer, plus the time a sender
  trusts a status it read, plus a little for a call already on its way); a resume sends every
  remaining message exactly once and the campaign completes.
- A cancel ends every unsent message ``cancelled``; no gateway call after it took effect.
- A validity window makes the messages not sent by then ``expired``.
- What the lifecycle rules out is a 409 with the reason over REST, a dead letter as a command.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from herald_devstack.waiting import eventually
from herald_infra.messages.counters import recount
from tests.system import (
    RunningStack,
    launch_campaign,
    messages_of,
    no_duplicate_sends,
    phones,
    sends_of,
    wait_for_statuses,
)

from .conftest import CACHE_SECONDS, IN_FLIGHT_SLACK

pytestmark = pytest.mark.e2e

Mongo = AsyncMongoClient[dict[str, Any]]
SIZE = 20
SOME_SENT = 5


@dataclass(frozen=True)
class GatewayCall:
    at: float
    """When the gateway received it (epoch seconds)."""
    message_id: str
    outcome: str


async def gateway_calls(
    gateways: tuple[httpx.AsyncClient, ...], message_ids: list[str]
) -> list[GatewayCall]:
    """Every request the simulators received for these messages, oldest first."""
    calls = [
        GatewayCall(float(request["time"]), message_id, request["outcome"])
        for gateway in gateways
        for message_id in message_ids
        for request in await sends_of(gateway, message_id)
    ]
    return sorted(calls, key=lambda c: c.at)


async def count_in(mongo: Mongo, stack: RunningStack, campaign_id: str, status: str) -> int:
    return sum(1 for m in await messages_of(mongo, stack, campaign_id) if m["status"] == status)


async def counters_add_up(mongo: Mongo, stack: RunningStack, campaign_id: str) -> dict[str, int]:
    """The campaign's counters, which must equal a recount of its messages."""
    db = mongo[stack.config.database]
    campaign = await db["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None
    counters = {k: v for k, v in campaign["counts"].items() if v}
    assert counters == {k: v for k, v in (await recount(db, campaign_id)).items() if v}
    return counters


async def campaign_status(api: httpx.AsyncClient, campaign_id: str) -> str:
    response = await api.get(f"/api/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def test_a_pause_stops_the_sends_and_the_resume_sends_the_rest_once(
    api: httpx.AsyncClient,
    mongo: Mongo,
    stack: RunningStack,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    gateways = (primary, fallback)
    campaign_id = await launch_campaign(api, phones(SIZE, prefix="+1650"), delay_type="fast")
    await eventually(
        lambda: count_in(mongo, stack, campaign_id, "sent"),
        lambda sent: sent >= SOME_SENT,
        timeout=60,
        what="the campaign under way",
    )

    paused = await api.post(f"/api/campaigns/{campaign_id}/pause", json={"reason": "typo"})
    took_effect = time.time() + CACHE_SECONDS
    assert paused.status_code == 200, paused.text
    assert (paused.json()["status"], paused.json()["pauseReason"]) == ("paused", "typo")

    # The senders hand back each message they take while it is paused: wait until every one
    # is either sent or waiting, handed back.
    def settled(docs: list[dict[str, Any]]) -> bool:
        return len(docs) == SIZE and all(
            d["status"] == "sent" or (d["status"] == "queued" and d.get("heldAt")) for d in docs
        )

    docs = await eventually(
        lambda: messages_of(mongo, stack, campaign_id),
        settled,
        timeout=60,
        what="every message sent or handed back",
    )
    ids = [d["_id"] for d in docs]
    waiting = [d for d in docs if d["status"] == "queued"]
    assert waiting, "the campaign finished before the pause: nothing was left to pause"
    calls = await gateway_calls(gateways, ids)
    late = [c for c in calls if c.at > took_effect + IN_FLIGHT_SLACK]
    assert late == [], f"gateway calls after the pause took effect at {took_effect}: {late}"
    assert {c.message_id for c in calls} == {d["_id"] for d in docs if d["status"] == "sent"}
    # Paused is not done: the sweep leaves it paused.
    assert await campaign_status(api, campaign_id) == "paused"

    resumed = await api.post(f"/api/campaigns/{campaign_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "running"

    await wait_for_statuses(mongo, stack, campaign_id, SIZE, {"sent"}, timeout=120)
    accepted = await no_duplicate_sends(*gateways)
    assert {m: accepted.get(m, 0) for m in ids} == dict.fromkeys(ids, 1)
    # Sent where it stopped: the handed-back messages kept their attempt.
    resent = {d["_id"]: d for d in await messages_of(mongo, stack, campaign_id)}
    assert all(resent[d["_id"]]["attempt"] == d["attempt"] for d in waiting)
    # The scheduler's sweep completes it (HERALD_SWEEP_CRON every second).
    await eventually(
        lambda: campaign_status(api, campaign_id),
        lambda status: status == "completed",
        timeout=30,
        what="the campaign completed by the sweep",
    )
    assert await counters_add_up(mongo, stack, campaign_id) == {"total": SIZE, "sent": SIZE}
    refused = await api.post(f"/api/campaigns/{campaign_id}/cancel")
    assert refused.status_code == 409
    assert refused.json() == {"error": "campaign is completed; it cannot cancel"}


async def test_a_cancel_ends_every_unsent_message_cancelled_and_stops_the_sends(
    api: httpx.AsyncClient,
    mongo: Mongo,
    stack: RunningStack,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    gateways = (primary, fallback)
    campaign_id = await launch_campaign(api, phones(SIZE, prefix="+1651"), delay_type="fast")
    await eventually(
        lambda: count_in(mongo, stack, campaign_id, "sent"),
        lambda sent: sent >= SOME_SENT,
        timeout=60,
        what="the campaign under way",
    )

    cancelled = await api.post(f"/api/campaigns/{campaign_id}/cancel", json={"reason": "oops"})
    took_effect = time.time() + CACHE_SECONDS
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["cancelReason"]) == ("cancelled", "oops")

    docs = await wait_for_statuses(
        mongo, stack, campaign_id, SIZE, {"sent", "cancelled"}, timeout=60
    )
    sent = {d["_id"] for d in docs if d["status"] == "sent"}
    unsent = [d for d in docs if d["status"] == "cancelled"]
    assert unsent, "the campaign finished before the cancel"
    calls = await gateway_calls(gateways, [d["_id"] for d in docs])
    late = [c for c in calls if c.at > took_effect + IN_FLIGHT_SLACK]
    assert late == [], f"gateway calls after the cancel took effect at {took_effect}: {late}"
    # Only the sent ones ever reached a gateway, each once.
    assert sorted(c.message_id for c in calls) == sorted(sent)
    # The cancel moved what waited; a message a sender held at that moment was ended by its
    # sender's check (one account here: at most one).
    assert body["cancelledMessages"] <= len(unsent) <= body["cancelledMessages"] + 1
    assert await counters_add_up(mongo, stack, campaign_id) == {
        "total": SIZE,
        "sent": len(sent),
        "cancelled": len(unsent),
    }


async def test_messages_not_sent_within_the_validity_window_expire(
    api: httpx.AsyncClient,
    mongo: Mongo,
    stack: RunningStack,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    size = 12
    expires_at = datetime.now(UTC) + timedelta(seconds=5)
    created = await api.post(
        "/api/campaigns",
        json={
            "name": "flash sale",
            "messageBody": "Only today!",
            # 10-12 s between two sends, scaled to 1-1.2 s: the window holds about four.
            "customDelay": {"minSeconds": 10, "maxSeconds": 12},
            "expiresAt": expires_at.isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    contacts = [{"phone": p} for p in phones(size, prefix="+1408")]
    added = await api.post(f"/api/campaigns/{campaign_id}/contacts", json={"contacts": contacts})
    assert added.status_code == 200, added.text
    assert added.json()["accepted"] == size, added.text
    launched = await api.post(f"/api/campaigns/{campaign_id}/send")
    assert launched.status_code == 202, launched.text

    docs = await wait_for_statuses(mongo, stack, campaign_id, size, {"sent", "expired"}, timeout=90)
    sent = {d["_id"] for d in docs if d["status"] == "sent"}
    expired = [d for d in docs if d["status"] == "expired"]
    assert sent, "nothing was sent within the window"
    assert expired, "everything was sent within the window"
    calls = await gateway_calls((primary, fallback), [d["_id"] for d in docs])
    assert {c.message_id for c in calls} == sent  # an expired message never reached a gateway
    late = [c for c in calls if c.at > expires_at.timestamp() + IN_FLIGHT_SLACK]
    assert late == [], f"gateway calls after the window ended at {expires_at}: {late}"
    assert await counters_add_up(mongo, stack, campaign_id) == {
        "total": size,
        "sent": len(sent),
        "expired": len(expired),
    }


async def publish_command(stack: RunningStack, kind: str, campaign_id: str) -> str:
    event_id = uuid.uuid4().hex
    producer = AIOKafkaProducer(bootstrap_servers=stack.config.kafka_bootstrap)
    await producer.start()
    try:
        body = {
            "type": kind,
            "event_id": event_id,
            "tenant_id": "default",
            "campaign_id": campaign_id,
        }
        await producer.send_and_wait(
            "campaign.commands", json.dumps(body).encode(), key=campaign_id.encode()
        )
    finally:
        await producer.stop()
    return event_id


async def dead_letters_of(api: httpx.AsyncClient, campaign_id: str) -> list[dict[str, Any]]:
    response = await api.get("/api/dead-letters", params={"campaignId": campaign_id})
    assert response.status_code == 200, response.text
    letters: list[dict[str, Any]] = response.json()["deadLetters"]
    return letters


async def test_what_the_lifecycle_rules_out_is_a_409_or_a_dead_letter_with_the_reason(
    api: httpx.AsyncClient, mongo: Mongo, stack: RunningStack
) -> None:
    created = await api.post("/api/campaigns", json={"name": "draft", "messageBody": "Hi"})
    draft = created.json()["id"]
    refused = await api.post(f"/api/campaigns/{draft}/pause")
    assert (refused.status_code, refused.json()) == (
        409,
        {"error": "cannot pause a draft campaign (only: running)"},
    )
    assert (await api.post(f"/api/campaigns/{draft}/cancel")).status_code == 200
    refused = await api.post(f"/api/campaigns/{draft}/resume")
    assert (refused.status_code, refused.json()) == (
        409,
        {"error": "campaign is cancelled; it cannot resume"},
    )

    # The same requests as commands from another service: dead letters with the reason.
    resume_id = await publish_command(stack, "campaign.resume", draft)
    pause_id = await publish_command(stack, "campaign.pause", draft)
    letters = await eventually(
        lambda: dead_letters_of(api, draft),
        lambda found: len(found) == 2,
        timeout=60,
        what="both refused commands dead-lettered",
    )
    by_command = {json.loads(letter["payload"])["event_id"]: letter for letter in letters}
    assert {by_command[i]["reason"] for i in (resume_id, pause_id)} == {"campaign-cancelled"}
    assert by_command[resume_id]["exceptionMessage"] == "campaign is cancelled; it cannot resume"
    assert by_command[pause_id]["originalTopic"] == "campaign.commands"
    assert await campaign_status(api, draft) == "cancelled"
