"""Numbers not on WhatsApp are never "sent" (real MongoDB-wire server and Kafka, the gateway
simulator told which numbers WhatsApp does not know; WAHA would answer a send to them with 201):

- before a number's first send the account's gateway is asked, in a paced turn of its own;
- a number that is not on WhatsApp fails as ``not-on-whatsapp``: permanent, no other route,
  no send; one that is, is sent;
- the answer is remembered per tenant: the next message to the number asks nobody, and another
  tenant's message asks its own gateway again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY

from herald_core.contracts.common import utc_now
from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_core.messages.states import MessageStatus
from herald_devstack.stack import lone_simulator
from herald_infra.accounts.pace_slots import AccountPace, SlotTaken
from herald_infra.messages.attempt_outcomes import RecordOrigin
from herald_infra.mongo.client import connect, database, ensure_indexes
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.claim_and_send import MessageSender
from herald_sender.number_checks import NumberChecks
from herald_sender.pacer import SendPacer

from .conftest import SIMULATOR_API_KEY
from .sending import primary_sender, queued_message

pytestmark = pytest.mark.integration

UNKNOWN_NUMBER = "+919800000001"
KNOWN_NUMBER = "+919800000002"
ORIGIN = RecordOrigin(MESSAGE_SEND_PRIMARY, 0, 0)


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A WAHA NOWEB simulator to which WhatsApp does not know ``UNKNOWN_NUMBER``."""
    with lone_simulator(
        tmp_path_factory.mktemp("sim"),
        SIMULATOR_API_KEY,
        *("--engine", "NOWEB", "--not-on-whatsapp", UNKNOWN_NUMBER.lstrip("+")),
    ) as url:
        yield url


class CountingPacer(SendPacer):
    """The real pacer, counting the account turns taken."""

    def __init__(self, pace: AccountPace) -> None:
        super().__init__(pace, scale=0.001)
        self.turns = 0

    async def wait_turn(self, event: SendMessage) -> SlotTaken:
        self.turns += 1
        return await super().wait_turn(event)


def checks(source: str, result: str) -> float:
    labels = {"delivery_method": "baileys", "source": source, "result": result}
    return REGISTRY.get_sample_value("herald_number_checks_total", labels) or 0.0


def sender(
    db: Any, broker: KafkaBroker, settings: HeraldSettings, pacer: SendPacer
) -> MessageSender:
    numbers = NumberChecks(db, keep_hours=24, delivery_method="baileys", clock=utc_now)
    return primary_sender(
        db, broker, settings, owner="it-number-checks", pacer=pacer, numbers=numbers
    )


async def message_to(db: Any, phone: str, *, tenant: str = "t-numbers") -> SendMessage:
    return await queued_message(db, tenant, phone=phone)


@dataclass
class Checking:
    db: Any
    pacer: CountingPacer
    send: MessageSender


@pytest.fixture
async def checking(settings: HeraldSettings, broker: KafkaBroker) -> AsyncIterator[Checking]:
    """A sender that asks before a number's first send, counting its account turns."""
    mongo = connect(settings)
    db = database(mongo, settings)
    await ensure_indexes(db)
    pacer = CountingPacer(AccountPace(db, hold_seconds=10))
    yield Checking(db, pacer, sender(db, broker, settings, pacer))
    await mongo.close()


async def gateway_sends(gateway: httpx.AsyncClient, event: SendMessage) -> int:
    response = await gateway.get(f"/_sim/sends/{event.message_id}")
    return 0 if response.status_code == 404 else len(response.json())


async def test_a_number_not_on_whatsapp_fails_without_a_send_and_is_remembered(
    checking: Checking, gateway: httpx.AsyncClient
) -> None:
    db, pacer, send = checking.db, checking.pacer, checking.send
    asked_no, cached_no = (
        checks("gateway", "not-on-whatsapp"),
        checks("cache", "not-on-whatsapp"),
    )
    first = await message_to(db, UNKNOWN_NUMBER)
    assert await send.deliver(first, ORIGIN) is MessageStatus.FAILED
    stored = await db["messages"].find_one({"_id": first.message_id})
    assert stored is not None
    assert stored["failedReason"] == "not-on-whatsapp" and stored["retryable"] is False
    assert stored["attempt"] == 1, "no other route is tried"
    assert await gateway_sends(gateway, first) == 0
    # One turn of the account, for the check: the failed message takes no send turn.
    assert pacer.turns == 1
    assert checks("gateway", "not-on-whatsapp") == asked_no + 1

    again = await message_to(db, UNKNOWN_NUMBER)
    assert await send.deliver(again, ORIGIN) is MessageStatus.FAILED
    assert checks("gateway", "not-on-whatsapp") == asked_no + 1, "answered from memory"
    assert checks("cache", "not-on-whatsapp") == cached_no + 1
    assert pacer.turns == 1

    # Another tenant's answers are its own.
    theirs = await message_to(db, UNKNOWN_NUMBER, tenant="t-other")
    assert await send.deliver(theirs, ORIGIN) is MessageStatus.FAILED
    assert checks("gateway", "not-on-whatsapp") == asked_no + 2


async def test_a_number_on_whatsapp_is_checked_once_then_sent(
    checking: Checking, gateway: httpx.AsyncClient
) -> None:
    db, pacer, send = checking.db, checking.pacer, checking.send
    asked = checks("gateway", "on-whatsapp")
    first = await message_to(db, KNOWN_NUMBER, tenant="t-known")
    assert await send.deliver(first, ORIGIN) is MessageStatus.SENT
    assert await gateway_sends(gateway, first) == 1
    assert pacer.turns == 2, "a turn for the check, another for the send"
    remembered = await db["number_checks"].find_one({"_id": f"t-known|{KNOWN_NUMBER}"})
    assert remembered is not None and remembered["onWhatsapp"] is True
    assert remembered["expiresAt"] > remembered["checkedAt"]

    second = await message_to(db, KNOWN_NUMBER, tenant="t-known")
    assert await send.deliver(second, ORIGIN) is MessageStatus.SENT
    assert checks("gateway", "on-whatsapp") == asked + 1
    assert pacer.turns == 3, "the second message only takes its send turn"
