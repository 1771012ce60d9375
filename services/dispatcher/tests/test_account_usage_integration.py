"""Counting messages against sender accounts' caps, against the real MongoDB-wire server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient, monitoring

from herald_core.accounts.model import (
    GatewayAdapter,
    GatewaySession,
    SenderAccount,
    SessionEngine,
    account_document,
)
from herald_core.accounts.sending_limits import day_start
from herald_core.attempt_plan import Route
from herald_dispatcher.account_assignment import assign_sender_accounts, settle_assignment
from herald_dispatcher.account_choice import Recipient
from herald_infra.accounts.repository import (
    find_account,
    last_accounts,
    read_usage,
    remember_accounts,
    take_slots,
    take_slots_of,
)
from herald_infra.mongo.client import ensure_indexes
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration

# Within the current UTC day, so the usage documents' TTL keeps them during the test.
NOON = day_start(datetime.now(UTC)) + timedelta(hours=12, minutes=30)


@pytest.fixture(scope="module")
def settings(mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_account_usage_{uuid.uuid4().hex[:8]}"
    )


async def add_account(db: Any, tenant_id: str, *, hourly_cap: int, daily_cap: int) -> SenderAccount:
    account_id = f"acc_{uuid.uuid4().hex[:12]}"

    def session(engine: SessionEngine) -> GatewaySession:
        return GatewaySession(
            engine=engine,
            gateway=GatewayAdapter.WAHA,
            base_url="http://waha:3000",
            session=f"s-{engine.value}",
            api_key=SecretStr(f"key-{engine.value}"),
        )

    account = SenderAccount(
        id=account_id,
        tenant_id=tenant_id,
        phone=f"+9199{uuid.uuid4().int % 10**8:08d}",
        primary=session(SessionEngine.BAILEYS),
        fallback=session(SessionEngine.WHATSAPP_WEB_JS),
        hourly_cap=hourly_cap,
        daily_cap=daily_cap,
        activated_at=NOON - timedelta(days=100),
        created_at=NOON,
        updated_at=NOON,
    )
    await ensure_indexes(db)
    await db["accounts"].insert_one(account_document(account))
    return account


async def test_concurrent_takers_never_exceed_the_cap(db: Any) -> None:
    account = await add_account(db, "t-race", hourly_cap=25, daily_cap=1_000)
    taken = await asyncio.gather(*(take_slots(db, account, 3, NOON) for _ in range(20)))
    assert sum(taken) == 25
    assert all(0 <= t <= 3 for t in taken)
    usage = (await read_usage(db, [account.id], NOON))[account.id]
    assert (usage.today, usage.this_hour) == (25, 25)
    # The next hour has room again; the day keeps counting.
    assert await take_slots(db, account, 3, NOON + timedelta(hours=1)) == 3
    later = (await read_usage(db, [account.id], NOON + timedelta(hours=1)))[account.id]
    assert (later.today, later.this_hour) == (28, 3)


async def test_slots_of_messages_not_stored_are_given_back_and_only_stored_ones_remembered(
    db: Any,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    account = await add_account(db, tenant, hourly_cap=100, daily_cap=100)
    recipients = [Recipient(f"m{i}", f"+91980000000{i}") for i in range(4)]
    assignment = await assign_sender_accounts(db, tenant, recipients, shared_gateway=None, now=NOON)
    assert set(assignment.accounts.values()) == {account.id}
    assert (await read_usage(db, [account.id], NOON))[account.id].today == 4

    await settle_assignment(db, assignment, stored={"m0", "m2"})
    assert (await read_usage(db, [account.id], NOON))[account.id].today == 2
    phones = [r.phone for r in recipients]
    assert await last_accounts(db, tenant, phones) == {
        recipients[0].phone: account.id,
        recipients[2].phone: account.id,
    }


async def test_a_sender_finds_the_session_of_a_messages_account(db: Any) -> None:
    account = await add_account(db, "t-sender", hourly_cap=10, daily_cap=10)
    found = await find_account(db, "t-sender", account.id)
    assert found is not None
    session = found.session_for(Route.FALLBACK)
    assert (session.gateway, session.base_url, session.session) == (
        GatewayAdapter.WAHA,
        "http://waha:3000",
        "s-whatsapp-web.js",
    )
    assert session.api_key is not None
    assert session.api_key.get_secret_value() == "key-whatsapp-web.js"
    assert await find_account(db, "another-tenant", account.id) is None


async def test_slots_of_several_accounts_are_taken_together_as_far_as_each_has_room(
    db: Any,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    roomy = await add_account(db, tenant, hourly_cap=100, daily_cap=100)
    nearly_full = await add_account(db, tenant, hourly_cap=5, daily_cap=100)
    fresh = await add_account(db, tenant, hourly_cap=100, daily_cap=100)  # no usage yet today
    assert await take_slots(db, roomy, 1, NOON) == 1
    assert await take_slots(db, nearly_full, 3, NOON) == 3

    wanted = {a.id: (a, 4) for a in (roomy, nearly_full, fresh)}
    taken = await take_slots_of(db, wanted, NOON)

    # The nearly full one gets what is left of its hour; the fresh one its first slots.
    assert taken == {roomy.id: 4, nearly_full.id: 2, fresh.id: 4}
    usage = await read_usage(db, [roomy.id, nearly_full.id, fresh.id], NOON)
    assert [usage[a].this_hour for a in (roomy.id, nearly_full.id, fresh.id)] == [5, 5, 4]
    # All of them have room now: one round trip takes for all.
    assert await take_slots_of(db, {roomy.id: (roomy, 1), fresh.id: (fresh, 1)}, NOON) == {
        roomy.id: 1,
        fresh.id: 1,
    }
    assert await take_slots_of(db, {nearly_full.id: (nearly_full, 1)}, NOON) == {nearly_full.id: 0}


async def test_recipients_are_remembered_whether_new_or_seen_before(db: Any) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    seen, new = "+919800000101", "+919800000102"
    await remember_accounts(db, tenant, {seen: "acc_a"}, NOON)

    known = await last_accounts(db, tenant, [seen, new])
    await remember_accounts(db, tenant, {seen: "acc_b", new: "acc_c"}, NOON, known=known)

    assert await last_accounts(db, tenant, [seen, new]) == {seen: "acc_b", new: "acc_c"}
    # A new recipient remembered meanwhile by another dispatcher keeps that memory.
    await remember_accounts(db, tenant, {"+919800000103": "acc_d"}, NOON)
    await remember_accounts(db, tenant, {"+919800000103": "acc_e"}, NOON, known={})
    assert await last_accounts(db, tenant, ["+919800000103"]) == {"+919800000103": "acc_d"}


class CommandsSent(monitoring.CommandListener):
    """Counts the commands sent about the accounts' usage."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command.get(event.command_name) == "account_usage":
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_the_first_takes_of_the_day_of_many_accounts_go_together(
    db: Any, settings: HeraldSettings
) -> None:
    # No usage document yet today: one by one, each account costs four round trips.
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    accounts = [await add_account(db, tenant, hourly_cap=100, daily_cap=100) for _ in range(30)]
    commands = CommandsSent()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, event_listeners=[commands]
    )
    try:
        watched = client[settings.mongodb_database]
        taken = await take_slots_of(watched, {a.id: (a, 3) for a in accounts}, NOON)
    finally:
        await client.close()

    assert taken == {a.id: 3 for a in accounts}
    assert commands.count <= 4  # take, find, create, take: for all 30 together
    usage = await read_usage(db, [a.id for a in accounts], NOON)
    assert {usage[a.id].this_hour for a in accounts} == {3}
