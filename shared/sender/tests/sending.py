"""What the sender engine's integration tests build alike: a primary-route sender on the real
MongoDB and broker, and a queued message of a running campaign as the dispatcher leaves it."""

from __future__ import annotations

import uuid
from typing import Any

from faststream.kafka import KafkaBroker

from herald_core.attempt_plan import AttemptPlan, Route
from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_infra.accounts.pace_slots import AccountPace
from herald_infra.messages.batched_transitions import TransitionBatcher
from herald_infra.recipients.suppressions import SuppressionCache
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.circuit_registry import AccountCircuits
from herald_sender.claim_and_send import MessageSender, SenderProfile
from herald_sender.gateway_directory import GatewayDirectory
from herald_sender.number_checks import NumberChecks
from herald_sender.pacer import SendPacer

PLAN = "primary, fallback, fallback@60s"


def primary_sender(
    db: Any,
    broker: KafkaBroker,
    settings: HeraldSettings,
    *,
    owner: str,
    pacer: SendPacer | None = None,
    transitions: TransitionBatcher | None = None,
    numbers: NumberChecks | None = None,
    suppressions: SuppressionCache | None = None,
) -> MessageSender:
    """The primary route's sender (Baileys), unpaced unless ``pacer`` says otherwise."""
    return MessageSender(
        db=db,
        broker=broker,
        gateways=GatewayDirectory.for_route(db, settings, Route.PRIMARY),
        profile=SenderProfile(
            route=Route.PRIMARY,
            delivery_method="baileys",
            topic=MESSAGE_SEND_PRIMARY,
            group_id=owner,
        ),
        plan=AttemptPlan.parse(PLAN),
        circuits=AccountCircuits(db, route="primary", threshold=5, cooldown_seconds=60, owner="it"),
        pacer=pacer or SendPacer(AccountPace(db, hold_seconds=10), scale=0),
        lease_seconds=60,
        owner=owner,
        transitions=transitions,
        numbers=numbers,
        suppressions=suppressions,
    )


async def queued_message(
    db: Any, tenant: str, account_id: str = "default", *, phone: str = "+919876543210"
) -> SendMessage:
    """A queued message of a new running campaign, as the dispatcher leaves it."""
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    event = SendMessage(
        tenant_id=tenant,
        campaign_id=campaign_id,
        message_id=f"m-{uuid.uuid4().hex}",
        account_id=account_id,
        phone=phone,
        body="hello",
    )
    await db["campaigns"].insert_one(
        {
            "_id": campaign_id,
            "tenantId": tenant,
            "status": "running",
            "counts": {"total": 1, "queued": 1},
        }
    )
    await db["messages"].insert_one(
        {
            "_id": event.message_id,
            "tenantId": tenant,
            "campaignId": campaign_id,
            "accountId": account_id,
            "phone": phone,
            "body": event.body,
            "status": "queued",
            "attempt": 1,
        }
    )
    return event
