"""A recipient who opted out gets nothing more, however far its message got (real MongoDB-wire
server, Kafka and the gateway simulator):

- a claimed message to a number on the tenant's list ends ``suppressed``: no gateway call, no
  account turn, a status event saying why;
- an opt-out that arrives while the message waits for its account's turn stops it there;
- another tenant's opt-out does not stop it; a keyword confirmation goes to a suppressed
  number all the same (it confirms the opt-out);
- the list is read from memory: one query per tenant per refresh, not one per send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker

from herald_core.contracts.events import MessageKind, MessageStatusChanged, SendMessage
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY, MESSAGE_STATUS
from herald_core.messages.states import MessageStatus
from herald_core.recipients.suppression import SuppressionReason, SuppressionScope
from herald_devstack.topic_reader import TopicReader
from herald_infra.accounts.pace_slots import AccountPace, SlotTaken
from herald_infra.messages.attempt_outcomes import RecordOrigin
from herald_infra.mongo.client import connect, database, ensure_indexes
from herald_infra.recipients.suppressions import SuppressionCache, suppress
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.claim_and_send import MessageSender
from herald_sender.pacer import SendPacer

from .sending import primary_sender, queued_message

pytestmark = pytest.mark.integration

ORIGIN = RecordOrigin(MESSAGE_SEND_PRIMARY, 0, 0)
OPTED_OUT = "+919811100001"
STILL_IN = "+919811100002"


class WatchedPacer(SendPacer):
    """The real pacer (unscaled gaps off), counting turns; ``during_wait`` runs inside a turn's
    wait, as an opt-out arriving right then would."""

    def __init__(self, pace: AccountPace) -> None:
        super().__init__(pace, scale=0)
        self.turns = 0
        self.during_wait: Any = None

    async def wait_turn(self, event: SendMessage) -> SlotTaken:
        self.turns += 1
        slot = await super().wait_turn(event)
        if self.during_wait is not None:
            await self.during_wait()
        return slot


@dataclass
class Sending:
    db: Any
    pacer: WatchedPacer
    cache: SuppressionCache
    send: MessageSender


@pytest.fixture
async def sending(settings: HeraldSettings, broker: KafkaBroker) -> AsyncIterator[Sending]:
    mongo = connect(settings)
    db = database(mongo, settings)
    await ensure_indexes(db)
    pacer = WatchedPacer(AccountPace(db, hold_seconds=10))
    # Refreshed on every check: the tests look at the path, not at the refresh period.
    cache = SuppressionCache(db, scope=SuppressionScope.TENANT, refresh_seconds=1e-9)
    send = primary_sender(
        db, broker, settings, owner="it-suppressed", pacer=pacer, suppressions=cache
    )
    yield Sending(db, pacer, cache, send)
    await mongo.close()


async def gateway_sends(gateway: httpx.AsyncClient, event: SendMessage) -> int:
    response = await gateway.get(f"/_sim/sends/{event.message_id}")
    return 0 if response.status_code == 404 else len(response.json())


async def test_a_message_to_a_number_on_the_list_ends_suppressed_without_a_send(
    sending: Sending, gateway: httpx.AsyncClient, settings: HeraldSettings
) -> None:
    tenant = "t-suppressed-1"
    await suppress(sending.db, tenant, OPTED_OUT, SuppressionReason.KEYWORD, {})
    event = await queued_message(sending.db, tenant, phone=OPTED_OUT)

    def mine(record: Any) -> bool:
        return event.message_id.encode() in record.value

    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_STATUS) as statuses:
        assert await sending.send.deliver(event, ORIGIN) is MessageStatus.SUPPRESSED
        records = await statuses.read_until(
            lambda got: any(b'"status":"suppressed"' in r.value for r in got if mine(r))
        )

    stored = await sending.db["messages"].find_one({"_id": event.message_id})
    assert stored["status"] == "suppressed" and "suppressedAt" in stored
    assert await gateway_sends(gateway, event) == 0
    assert sending.pacer.turns == 0  # no account turn taken
    campaign = await sending.db["campaigns"].find_one({"_id": event.campaign_id})
    assert {k: v for k, v in campaign["counts"].items() if v} == {"total": 1, "suppressed": 1}
    changes = [MessageStatusChanged.model_validate_json(r.value) for r in records if mine(r)]
    assert (changes[-1].status, changes[-1].reason) == ("suppressed", "suppressed")


async def test_an_opt_out_during_the_wait_for_the_accounts_turn_stops_the_message(
    sending: Sending, gateway: httpx.AsyncClient
) -> None:
    tenant = "t-suppressed-2"
    event = await queued_message(sending.db, tenant, phone=OPTED_OUT)

    async def opt_out() -> None:
        await suppress(sending.db, tenant, OPTED_OUT, SuppressionReason.KEYWORD, {})

    sending.pacer.during_wait = opt_out
    assert await sending.send.deliver(event, ORIGIN) is MessageStatus.SUPPRESSED
    assert await gateway_sends(gateway, event) == 0


async def test_another_tenants_opt_out_and_a_keyword_confirmation_are_sent(
    sending: Sending, gateway: httpx.AsyncClient
) -> None:
    await suppress(sending.db, "t-other", STILL_IN, SuppressionReason.KEYWORD, {})
    event = await queued_message(sending.db, "t-suppressed-3", phone=STILL_IN)
    assert await sending.send.deliver(event, ORIGIN) is MessageStatus.SENT
    assert await gateway_sends(gateway, event) == 1

    tenant = "t-suppressed-4"
    await suppress(sending.db, tenant, OPTED_OUT, SuppressionReason.KEYWORD, {})
    queued = await queued_message(sending.db, tenant, phone=OPTED_OUT)
    confirmation = queued.model_copy(update={"kind": MessageKind.KEYWORD_REPLY})
    assert await sending.send.deliver(confirmation, ORIGIN) is MessageStatus.SENT
    assert await gateway_sends(gateway, confirmation) == 1


async def test_the_list_costs_one_query_per_tenant_per_refresh_not_one_per_send(
    settings: HeraldSettings, broker: KafkaBroker
) -> None:
    mongo = connect(settings)
    db = database(mongo, settings)
    try:
        cache = SuppressionCache(db, scope=SuppressionScope.TENANT, refresh_seconds=3600)
        send = primary_sender(db, broker, settings, owner="it-suppressed-5", suppressions=cache)
        tenant = "t-suppressed-5"
        events = [await queued_message(db, tenant, phone=f"+91981110{n:04d}") for n in range(20)]
        outcomes = await asyncio.gather(*(send.deliver(e, ORIGIN) for e in events))
        assert set(outcomes) == {MessageStatus.SENT}
        assert cache.reads == 1  # 20 sends, two checks each, one read
    finally:
        await mongo.close()
