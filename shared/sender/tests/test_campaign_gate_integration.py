"""The sender engine's campaign check against the real Kafka broker, MongoDB-wire server and
gateway simulator: a paused campaign's message is handed back without a gateway call and
without using its account's pace; a cancelled campaign's or an overdue message ends so; the
status is cached for the configured time; a resume or cancel that comes while a message is
being handed back is not missed."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from herald_core.attempt_plan import AttemptPlan, Route
from herald_core.contracts.common import utc_now
from herald_core.contracts.events import MessageStatusChanged, SendMessage
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY, MESSAGE_STATUS
from herald_core.messages.states import MessageStatus
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from herald_infra.accounts.pace_slots import AccountPace, epoch_ms
from herald_infra.messages.attempt_outcomes import RecordOrigin
from herald_infra.messages.counters import recount
from herald_infra.mongo.client import ensure_indexes
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.campaign_gate import CampaignGate, CampaignStatusCache
from herald_sender.circuit_registry import AccountCircuits
from herald_sender.claim_and_send import MessageSender, SenderProfile
from herald_sender.gateway_directory import GatewayDirectory
from herald_sender.pacer import SendPacer

pytestmark = pytest.mark.integration
S = MessageStatus


@dataclass
class ManualClock:
    """The monotonic clock the status cache reads; the test moves it."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Sender:
    engine: MessageSender
    clock: ManualClock
    gate: CampaignGate
    account_id: str
    """Its messages' sender account (the configured gateway's): one per test, so no test
    waits for another's anti-ban gap."""


def build_sender(db: Any, broker: KafkaBroker, settings: HeraldSettings, ttl: float) -> Sender:
    clock = ManualClock()
    gate = CampaignGate(CampaignStatusCache(db, ttl_seconds=ttl, clock=clock))
    account_id = f"acc-{uuid.uuid4().hex[:8]}"
    own_account = settings.model_copy(update={"default_account_id": account_id})
    engine = MessageSender(
        db=db,
        broker=broker,
        gateways=GatewayDirectory.for_route(db, own_account, Route.PRIMARY),
        profile=SenderProfile(
            route=Route.PRIMARY,
            delivery_method="baileys",
            topic=MESSAGE_SEND_PRIMARY,
            group_id="it-gate",
        ),
        plan=AttemptPlan.parse("primary, fallback, fallback@60s"),
        circuits=AccountCircuits(db, route="primary", threshold=5, cooldown_seconds=60, owner="it"),
        # Real gaps: the fast profile's 2-5 s after every send that happened.
        pacer=SendPacer(AccountPace(db, hold_seconds=10), scale=1.0),
        lease_seconds=60,
        owner="it-gate",
        gate=gate,
    )
    return Sender(engine, clock, gate, account_id)


@pytest.fixture
async def sender(db: Any, broker: KafkaBroker, settings: HeraldSettings) -> Sender:
    """A sender trusting a status it read for 60 s of its (manual) clock."""
    await ensure_indexes(db)
    return build_sender(db, broker, settings, ttl=60)


async def queued_message(
    db: Any,
    sender: Sender,
    status: str,
    *,
    expires_in: timedelta | None = None,
    campaign_id: str | None = None,
) -> SendMessage:
    """One queued message of a new campaign in ``status`` (or one more of ``campaign_id``), on
    the sender's account."""
    existing = campaign_id
    campaign_id = campaign_id or f"c-{uuid.uuid4().hex[:8]}"
    event = SendMessage(
        tenant_id="t-gate",
        campaign_id=campaign_id,
        message_id=f"m-{uuid.uuid4().hex}",
        account_id=sender.account_id,
        phone="+919876543210",
        body="hello",
        delay_type="fast",
        expires_at=utc_now() + expires_in if expires_in is not None else None,
    )
    if existing is None:
        await db["campaigns"].insert_one(
            {
                "_id": campaign_id,
                "tenantId": "t-gate",
                "status": status,
                "counts": {"total": 1, "queued": 1},
            }
        )
    else:
        await db["campaigns"].update_one(
            {"_id": campaign_id}, {"$inc": {"counts.total": 1, "counts.queued": 1}}
        )
    await db["messages"].insert_one(
        {
            "_id": event.message_id,
            "tenantId": "t-gate",
            "campaignId": campaign_id,
            "accountId": event.account_id,
            "phone": event.phone,
            "body": event.body,
            "status": "queued",
            "attempt": 1,
            "expiresAt": event.expires_at,
        }
    )
    return event


async def deliver(sender: Sender, event: SendMessage) -> MessageStatus | None:
    return await sender.engine.deliver(event, RecordOrigin(MESSAGE_SEND_PRIMARY, 0, 0))


async def gateway_calls(gateway: httpx.AsyncClient, event: SendMessage) -> int:
    response = await gateway.get(f"/_sim/sends/{event.message_id}")
    return 0 if response.status_code == 404 else len(response.json())


async def message(db: Any, event: SendMessage) -> dict[str, Any]:
    found: dict[str, Any] = await db["messages"].find_one({"_id": event.message_id})
    return found


async def counts(db: Any, event: SendMessage) -> dict[str, int]:
    campaign = await db["campaigns"].find_one({"_id": event.campaign_id})
    mine = {k: v for k, v in campaign["counts"].items() if v}
    assert mine == {k: v for k, v in (await recount(db, event.campaign_id)).items() if v}
    return mine


async def set_status(db: Any, event: SendMessage, status: str) -> None:
    await db["campaigns"].update_one({"_id": event.campaign_id}, {"$set": {"status": status}})


def statuses_of(records: list[Any], event: SendMessage) -> list[tuple[str, str, str | None]]:
    changes = []
    for record in records:
        try:
            change = MessageStatusChanged.model_validate_json(record.value)
        except ValidationError:
            continue
        if change.message_id == event.message_id:
            changes.append((change.previous_status, change.status, change.reason))
    return changes


def send_events_of(records: list[Any], event: SendMessage) -> list[SendMessage]:
    found = []
    for record in records:
        try:
            sent = SendMessage.model_validate_json(record.value)
        except ValidationError:
            continue
        if sent.message_id == event.message_id:
            found.append(sent)
    return found


async def test_a_paused_campaigns_message_is_handed_back_without_a_gateway_call(
    db: Any, sender: Sender, gateway: httpx.AsyncClient, settings: HeraldSettings
) -> None:
    event = await queued_message(db, sender, "paused")
    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_STATUS) as status_topic:
        assert await deliver(sender, event) is S.QUEUED
        changes = statuses_of(
            await status_topic.read_until(lambda r: len(statuses_of(r, event)) >= 2), event
        )

    assert await gateway_calls(gateway, event) == 0
    held = await message(db, event)
    assert (held["status"], held["attempt"]) == ("queued", 1)
    assert held["heldAt"] is not None
    assert await counts(db, event) == {"total": 1, "queued": 1}
    assert changes == [("queued", "sending", None), ("sending", "queued", "campaign-paused")]
    # Handed back before its pace turn: the account's pace was never touched.
    assert await db["account_pace"].find_one({"_id": event.account_id}) is None


async def test_a_pause_during_the_pacing_wait_gives_the_accounts_slot_back_unused(
    db: Any, broker: KafkaBroker, settings: HeraldSettings, gateway: httpx.AsyncClient
) -> None:
    # No caching: the check after the wait reads the pause made during it.
    sender = build_sender(db, broker, settings, ttl=0)
    event = await queued_message(db, sender, "running")
    # The account answered its previous send just now: its next slot is 1.5 s away.
    free_at = epoch_ms() + 1500
    await db["account_pace"].insert_one({"_id": event.account_id, "nextSlotMs": free_at})

    delivery = asyncio.create_task(deliver(sender, event))
    await eventually(
        lambda: message(db, event), lambda m: m["status"] == "sending", what="claimed, waiting"
    )
    await set_status(db, event, "paused")
    assert await delivery is S.QUEUED

    assert await gateway_calls(gateway, event) == 0
    assert (await message(db, event))["status"] == "queued"
    # Taking the slot held the account for the gateway timeout plus a 2-5 s gap; given back
    # unused, the account is free from when it was free before, not one gap after now.
    pace = await db["account_pace"].find_one({"_id": event.account_id})
    assert pace["nextSlotMs"] <= epoch_ms()
    assert pace["nextSlotMs"] >= free_at


async def test_a_cancelled_campaigns_message_ends_cancelled_and_an_overdue_one_expired(
    db: Any, sender: Sender, gateway: httpx.AsyncClient
) -> None:
    cancelled = await queued_message(db, sender, "cancelled")
    overdue = await queued_message(db, sender, "running", expires_in=timedelta(seconds=-1))

    assert await deliver(sender, cancelled) is S.CANCELLED
    assert await deliver(sender, overdue) is S.EXPIRED

    for event in (cancelled, overdue):
        assert await gateway_calls(gateway, event) == 0
    assert (await message(db, cancelled))["cancelledAt"] is not None
    assert (await message(db, overdue))["expiredAt"] is not None
    assert await counts(db, cancelled) == {"total": 1, "cancelled": 1}
    assert await counts(db, overdue) == {"total": 1, "expired": 1}


async def test_a_running_campaigns_message_in_time_is_sent(
    db: Any, sender: Sender, gateway: httpx.AsyncClient
) -> None:
    event = await queued_message(db, sender, "running", expires_in=timedelta(minutes=5))
    assert await deliver(sender, event) is S.SENT
    assert await gateway_calls(gateway, event) == 1
    assert await counts(db, event) == {"total": 1, "sent": 1}


async def test_the_campaign_status_is_trusted_for_the_cache_time_and_read_again_after(
    db: Any, sender: Sender, gateway: httpx.AsyncClient
) -> None:
    first = await queued_message(db, sender, "running")
    assert await deliver(sender, first) is S.SENT
    await set_status(db, first, "paused")
    second = await queued_message(db, sender, "paused", campaign_id=first.campaign_id)

    sender.clock.now += 59  # within the cache time: the pause is not seen yet
    assert await sender.gate.decide(first.campaign_id, None, utc_now()) == "send"
    sender.clock.now += 2  # past it: read again
    assert await deliver(sender, second) is S.QUEUED
    assert await gateway_calls(gateway, second) == 0
    assert await counts(db, first) == {"total": 2, "sent": 1, "queued": 1}


async def test_a_resume_during_the_hand_back_is_not_missed(
    db: Any, sender: Sender, gateway: httpx.AsyncClient, settings: HeraldSettings
) -> None:
    event = await queued_message(db, sender, "paused")
    # This sender read "paused"; the campaign is resumed before its next read.
    assert await sender.gate.decide(event.campaign_id, None, utc_now()) == "hold"
    await set_status(db, event, "running")

    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_PRIMARY) as topic:
        # The resume's publish did not see the message (it was ``sending``): the sender,
        # looking again after the hand-back, publishes it itself.
        assert await deliver(sender, event) is S.QUEUED
        [again] = send_events_of(
            await topic.read_until(lambda r: bool(send_events_of(r, event))), event
        )
    assert (again.attempt, again.step) == (1, 0)
    assert await deliver(sender, again) is S.SENT
    assert await gateway_calls(gateway, event) == 1
    assert await counts(db, event) == {"total": 1, "sent": 1}


async def test_a_cancel_during_the_hand_back_is_not_missed(
    db: Any, sender: Sender, gateway: httpx.AsyncClient
) -> None:
    event = await queued_message(db, sender, "paused")
    assert await sender.gate.decide(event.campaign_id, None, utc_now()) == "hold"
    # Cancelled meanwhile: its cancel did not see the message (``sending``).
    await set_status(db, event, "cancelled")

    assert await deliver(sender, event) is S.CANCELLED
    assert await gateway_calls(gateway, event) == 0
    assert await counts(db, event) == {"total": 1, "cancelled": 1}
