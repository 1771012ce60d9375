"""The sender engine sending each message through its account's own gateway session, against
the real Kafka broker and MongoDB-wire server (the gateways are fakes that record each call)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from herald_core.accounts.model import (
    AccountStatus,
    GatewayAdapter,
    GatewaySession,
    SenderAccount,
    SessionEngine,
    account_document,
)
from herald_core.attempt_plan import AttemptPlan, Route
from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_core.messages.states import MessageStatus
from herald_gateways.interface import LoginQr, SendReceipt, SessionHealth, SessionStatus
from herald_infra.accounts.pace_slots import AccountPace
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_infra.messages.attempt_outcomes import RecordOrigin
from herald_infra.mongo.client import ACCOUNTS, ensure_indexes
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.circuit_registry import AccountCircuits
from herald_sender.claim_and_send import MessageSender, SenderProfile
from herald_sender.gateway_directory import GatewayDirectory, SessionAddress
from herald_sender.pacer import SendPacer
from herald_sender.session_polling import SessionHealthPoller

from .sending import queued_message

pytestmark = pytest.mark.integration

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)
CONFIGURED = "http://configured:3100"
ACCOUNTS_GATEWAY = "http://waha:3000"


@dataclass
class Gateways:
    """Fake gateways by base URL; every send is recorded with the session and key it used."""

    sends: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    """(base URL, session, API key, Herald message id)."""
    statuses: dict[str, SessionStatus] = field(default_factory=dict)

    def build(self, adapter: str, base_url: str, api_key: str | None, timeout: float) -> Any:
        return _Gateway(self, base_url, api_key)


@dataclass
class _Gateway:
    gateways: Gateways
    base_url: str
    api_key: str | None

    async def send_text(
        self, *, session: str, phone: str, text: str, message_id: str
    ) -> SendReceipt:
        self.gateways.sends.append((self.base_url, session, self.api_key, message_id))
        return SendReceipt(gateway_message_id=f"gw-{message_id}")

    async def session_health(self, session: str) -> SessionHealth:
        status = self.gateways.statuses.get(session, SessionStatus.WORKING)
        return SessionHealth(status, status.value)

    async def session_status(self, session: str) -> str:
        return (await self.session_health(session)).status.value

    async def login_qr(self, session: str) -> LoginQr | None:
        return None

    async def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_sender_accounts_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture(scope="module")
async def broker(settings: HeraldSettings) -> AsyncIterator[KafkaBroker]:
    await ensure_topics(settings)
    kafka = build_broker(settings, client_id="it-sender-accounts")
    await kafka.start()
    yield kafka
    await kafka.stop()


@dataclass
class Sender:
    engine: MessageSender
    directory: GatewayDirectory
    poller: SessionHealthPoller
    gateways: Gateways


@pytest.fixture
async def primary(db: Any, broker: KafkaBroker) -> AsyncIterator[Sender]:
    await ensure_indexes(db)
    gateways = Gateways()
    directory = GatewayDirectory(
        db,
        route=Route.PRIMARY,
        default_account_id="default",
        default_session=SessionAddress("waha", CONFIGURED, "default", "configured-key"),
        timeout_seconds=5,
        build=gateways.build,
    )
    engine = MessageSender(
        db=db,
        broker=broker,
        gateways=directory,
        profile=SenderProfile(
            route=Route.PRIMARY,
            delivery_method="baileys",
            topic=MESSAGE_SEND_PRIMARY,
            group_id="it-sender-accounts",
        ),
        plan=AttemptPlan.parse("primary, fallback, fallback@60s"),
        circuits=AccountCircuits(db, route="primary", threshold=5, cooldown_seconds=60, owner="it"),
        pacer=SendPacer(AccountPace(db, hold_seconds=10), scale=0),  # no anti-ban gaps in this test
        lease_seconds=60,
        owner="it",
    )
    poller = SessionHealthPoller(db, directory, interval_seconds=30)
    yield Sender(engine, directory, poller, gateways)
    await directory.close()


def gateway_session(engine: SessionEngine, name: str) -> GatewaySession:
    return GatewaySession(
        engine=engine,
        gateway=GatewayAdapter.WAHA,
        base_url=ACCOUNTS_GATEWAY,
        session=name,
        api_key=SecretStr(f"key-{name}"),
    )


async def add_account(
    db: Any, tenant: str, name: str, status: AccountStatus = AccountStatus.ENABLED
) -> SenderAccount:
    account = SenderAccount(
        id=f"acc_{name}_{uuid.uuid4().hex[:8]}",
        tenant_id=tenant,
        phone=f"+9199{uuid.uuid4().int % 10**8:08d}",
        status=status,
        primary=gateway_session(SessionEngine.BAILEYS, f"{name}-noweb"),
        fallback=gateway_session(SessionEngine.WHATSAPP_WEB_JS, f"{name}-webjs"),
        hourly_cap=100,
        daily_cap=1000,
        activated_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
    await db[ACCOUNTS].insert_one(account_document(account))
    return account


async def deliver(sender: Sender, event: SendMessage) -> MessageStatus | None:
    return await sender.engine.deliver(event, RecordOrigin(MESSAGE_SEND_PRIMARY, 0, 0))


async def message(db: Any, event: SendMessage) -> dict[str, Any]:
    found: dict[str, Any] = await db["messages"].find_one({"_id": event.message_id})
    return found


async def test_each_message_goes_through_its_accounts_own_session(db: Any, primary: Sender) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    first = await add_account(db, tenant, "first")
    second = await add_account(db, tenant, "second")
    events = [
        await queued_message(db, tenant, first.id),
        await queued_message(db, tenant, second.id),
        await queued_message(db, "tenant-without-accounts", "default"),
    ]
    for event in events:
        assert await deliver(primary, event) is MessageStatus.SENT

    assert primary.gateways.sends == [
        (ACCOUNTS_GATEWAY, "first-noweb", "key-first-noweb", events[0].message_id),
        (ACCOUNTS_GATEWAY, "second-noweb", "key-second-noweb", events[1].message_id),
        (CONFIGURED, "default", "configured-key", events[2].message_id),
    ]
    sent = await message(db, events[0])
    assert (sent["gatewayMessageId"], sent["deliveryMethod"]) == (
        f"gw-{events[0].message_id}",
        "baileys",
    )


async def test_a_disabled_accounts_queued_messages_are_not_sent(db: Any, primary: Sender) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    account = await add_account(db, tenant, "retired", AccountStatus.DISABLED)
    event = await queued_message(db, tenant, account.id)

    assert await deliver(primary, event) is MessageStatus.FAILED

    assert primary.gateways.sends == []
    failed = await message(db, event)
    assert (failed["failedReason"], failed["retryable"]) == ("account-disabled", False)
    assert [a["reason"] for a in failed["attempts"]] == ["account-disabled"]
    assert failed["deadLetter"]["topic"] == MESSAGE_SEND_PRIMARY


async def test_a_message_of_an_account_that_does_not_exist_is_not_sent(
    db: Any, primary: Sender
) -> None:
    event = await queued_message(db, "t-gone", "acc_deleted")
    assert await deliver(primary, event) is MessageStatus.FAILED
    assert primary.gateways.sends == []
    assert (await message(db, event))["failedReason"] == "account-not-found"


async def test_a_session_found_not_connected_is_skipped_for_the_fallback(
    db: Any, primary: Sender
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    pairing = await add_account(db, tenant, "pairing")
    working = await add_account(db, tenant, "working")
    primary.gateways.statuses["pairing-noweb"] = SessionStatus.SCAN_QR_CODE
    await primary.poller.poll_once()
    waiting = await queued_message(db, tenant, pairing.id)
    fine = await queued_message(db, tenant, working.id)

    assert await deliver(primary, waiting) is MessageStatus.RETRYING
    assert await deliver(primary, fine) is MessageStatus.SENT

    # The gateway was not called for the session waiting for a scan ...
    assert [s[1] for s in primary.gateways.sends] == ["working-noweb"]
    # ... and the message went the way a gateway's "session not connected" goes: the fallback
    # at once, the primary's circuit open for the account.
    retrying = await message(db, waiting)
    assert retrying["lastError"]["reason"] == "session-not-connected"
    assert "SCAN_QR_CODE" in retrying["lastError"]["detail"]
    assert (retrying["attempt"], retrying["planStep"]) == (2, 1)
    circuit = await db["circuit_breakers"].find_one({"_id": f"{pairing.id}:primary"})
    assert (circuit["state"], circuit["reason"]) == ("open", "session-not-connected")

    # Once a check finds it paired again (and the circuit let a trial through), it sends.
    primary.gateways.statuses["pairing-noweb"] = SessionStatus.WORKING
    await primary.poller.poll_once()
    (await primary.directory.route(tenant, pairing.id)).check_session()
