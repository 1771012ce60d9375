"""A write the database applied but whose answer never came, or a write that failed while the
database was away, never turns into a second gateway call (real MongoDB-wire server, Kafka and
gateway simulator; the lost answers are injected where the driver would raise them).

- a claim whose acknowledgement was lost is this process's own: handled again, it is taken up
  and sent, once;
- once the gateway was called, recording the outcome is retried in place through the outage;
- a claim of another process, or one this process already sent, is never taken up.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker
from pymongo.errors import AutoReconnect

from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_core.messages.states import MessageStatus
from herald_infra.messages.attempt_outcomes import RecordOrigin
from herald_infra.messages.batched_transitions import TransitionBatcher
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.claim_and_send import MessageSender

from .sending import primary_sender, queued_message

pytestmark = pytest.mark.integration
S = MessageStatus
ORIGIN = RecordOrigin(MESSAGE_SEND_PRIMARY, 0, 0)


class FaultyWrites(TransitionBatcher):
    """Transitions to ``target`` fail the first ``times`` times as a dropped connection does:
    after the write applied (``applied``: the answer was lost) or before it reached the
    database. ``error`` replaces the dropped connection with another failure."""

    def __init__(
        self,
        db: Any,
        target: MessageStatus,
        *,
        times: int,
        applied: bool,
        error: Exception | None = None,
    ) -> None:
        super().__init__(db)
        self.target = target
        self.left = times
        self.applied = applied
        self.error = error or AutoReconnect("connection reset by peer")

    async def transition(self, **asked: Any) -> bool:
        failing = asked["target"] is self.target and self.left > 0
        if failing:
            self.left -= 1
            if not self.applied:
                raise self.error
        moved = await super().transition(**asked)
        if failing:
            raise self.error
        return moved


def sender(
    db: Any,
    broker: KafkaBroker,
    settings: HeraldSettings,
    writes: TransitionBatcher,
    *,
    owner: str = "it-lost-writes",
) -> MessageSender:
    return primary_sender(db, broker, settings, owner=owner, transitions=writes)


async def gateway_calls(gateway: httpx.AsyncClient, event: SendMessage) -> int:
    response = await gateway.get(f"/_sim/sends/{event.message_id}")
    return 0 if response.status_code == 404 else len(response.json())


async def message(db: Any, event: SendMessage) -> dict[str, Any]:
    found: dict[str, Any] = await db["messages"].find_one({"_id": event.message_id})
    return found


async def test_a_claim_whose_answer_was_lost_is_taken_up_and_sent_once(
    db: Any, broker: KafkaBroker, settings: HeraldSettings, gateway: httpx.AsyncClient
) -> None:
    event = await queued_message(db, "t-lost")
    claims = FaultyWrites(db, S.SENDING, times=1, applied=True)
    engine = sender(db, broker, settings, claims)

    with pytest.raises(AutoReconnect):
        await engine.deliver(event, ORIGIN)
    assert (await message(db, event))["status"] == "sending"
    assert await gateway_calls(gateway, event) == 0

    # The lane handles the record again: the claim is found to be this process's own.
    assert await engine.deliver(event, ORIGIN) is S.SENT
    sent = await message(db, event)
    assert (sent["status"], len(sent["attempts"])) == ("sent", 1)
    assert await gateway_calls(gateway, event) == 1


async def test_a_sent_message_is_recorded_through_the_outage_without_a_second_send(
    db: Any, broker: KafkaBroker, settings: HeraldSettings, gateway: httpx.AsyncClient
) -> None:
    event = await queued_message(db, "t-lost")
    records = FaultyWrites(db, S.SENT, times=3, applied=False)

    assert await sender(db, broker, settings, records).deliver(event, ORIGIN) is S.SENT
    assert records.left == 0  # three tries failed before the fourth recorded it
    assert (await message(db, event))["status"] == "sent"
    assert await gateway_calls(gateway, event) == 1


async def test_a_sent_record_whose_answer_was_lost_is_not_sent_again(
    db: Any, broker: KafkaBroker, settings: HeraldSettings, gateway: httpx.AsyncClient
) -> None:
    event = await queued_message(db, "t-lost")
    records = FaultyWrites(db, S.SENT, times=1, applied=True)
    engine = sender(db, broker, settings, records)

    assert await engine.deliver(event, ORIGIN) is S.SENT
    assert await engine.deliver(event, ORIGIN) is None  # Kafka delivers the record again
    assert (await message(db, event))["status"] == "sent"
    assert await gateway_calls(gateway, event) == 1


async def test_a_claim_this_process_already_sent_is_left_to_the_sweep(
    db: Any, broker: KafkaBroker, settings: HeraldSettings, gateway: httpx.AsyncClient
) -> None:
    event = await queued_message(db, "t-lost")
    # Recording the send fails for good (not an outage): the record is handled again.
    records = FaultyWrites(db, S.SENT, times=1, applied=False, error=RuntimeError("broken"))
    engine = sender(db, broker, settings, records)

    with pytest.raises(RuntimeError):
        await engine.deliver(event, ORIGIN)
    assert await engine.deliver(event, ORIGIN) is None
    assert (await message(db, event))["status"] == "sending"  # the expired-claim policy's
    assert await gateway_calls(gateway, event) == 1


async def test_another_process_claim_is_not_taken_up(
    db: Any, broker: KafkaBroker, settings: HeraldSettings, gateway: httpx.AsyncClient
) -> None:
    event = await queued_message(db, "t-lost")
    claims = FaultyWrites(db, S.SENDING, times=1, applied=True)
    with pytest.raises(AutoReconnect):
        await sender(db, broker, settings, claims, owner="it-dead-process").deliver(event, ORIGIN)

    successor = sender(db, broker, settings, TransitionBatcher(db), owner="it-successor")
    assert await successor.deliver(event, ORIGIN) is None
    assert (await message(db, event))["status"] == "sending"
    assert await gateway_calls(gateway, event) == 0
