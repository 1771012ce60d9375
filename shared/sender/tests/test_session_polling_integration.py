"""The session health poller against the real MongoDB-wire server (gateways faked)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from pymongo import AsyncMongoClient, monitoring

from herald_core.accounts.model import (
    AccountStatus,
    GatewayAdapter,
    GatewaySession,
    HealthStatus,
    SenderAccount,
    SessionEngine,
    account_document,
    account_of,
)
from herald_core.attempt_plan import Route
from herald_gateways.interface import (
    GatewayError,
    LoginQr,
    SendReceipt,
    SessionHealth,
    SessionStatus,
)
from herald_infra.mongo.client import ACCOUNTS, Document, database
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.gateway_directory import GatewayDirectory, SessionAddress
from herald_sender.session_polling import (
    SessionHealthPoller,
    account_health,
    health_writes,
    observed_health,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)
DEFAULT = SessionAddress("waha", "http://configured:3100", "default", None)


@pytest.fixture(scope="module")
def settings(mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_session_poll_{uuid.uuid4().hex[:8]}"
    )


@dataclass
class Gateways:
    """Fake gateways by base URL: each session's status, or an error for the whole gateway."""

    statuses: dict[tuple[str, str], SessionStatus] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    """Gateways that never answer."""
    checks: list[tuple[str, str]] = field(default_factory=list)

    def build(self, adapter: str, base_url: str, api_key: str | None, timeout: float) -> Any:
        return _Gateway(self, base_url)


@dataclass
class _Gateway:
    gateways: Gateways
    base_url: str

    async def send_text(
        self, *, session: str, phone: str, text: str, message_id: str
    ) -> SendReceipt:
        raise AssertionError("the poller never sends")

    async def session_health(self, session: str) -> SessionHealth:
        self.gateways.checks.append((self.base_url, session))
        if self.base_url in self.gateways.silent:
            await asyncio.Event().wait()
        if self.base_url in self.gateways.down:
            raise GatewayError("gateway-unreachable", "ConnectError: refused", retryable=True)
        status = self.gateways.statuses.get((self.base_url, session), SessionStatus.WORKING)
        return SessionHealth(status, status.value)

    async def session_status(self, session: str) -> str:
        return (await self.session_health(session)).status.value

    async def login_qr(self, session: str) -> LoginQr | None:
        return None

    async def close(self) -> None:
        pass


def session(engine: SessionEngine, url: str, name: str) -> GatewaySession:
    return GatewaySession(
        engine=engine,
        gateway=GatewayAdapter.WAHA,
        base_url=url,
        session=name,
        api_key=SecretStr("k"),
    )


async def add_account(
    db: Any,
    name: str,
    *,
    url: str = "http://waha:3000",
    status: AccountStatus = AccountStatus.ENABLED,
) -> SenderAccount:
    account = SenderAccount(
        id=f"acc_{name}_{uuid.uuid4().hex[:8]}",
        tenant_id="t1",
        phone=f"+9199{uuid.uuid4().int % 10**8:08d}",
        status=status,
        primary=session(SessionEngine.BAILEYS, url, f"{name}-noweb"),
        fallback=session(SessionEngine.WHATSAPP_WEB_JS, url, f"{name}-webjs"),
        hourly_cap=10,
        daily_cap=100,
        activated_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
    await db[ACCOUNTS].insert_one(account_document(account))
    return account


async def stored(db: Any, account: SenderAccount) -> SenderAccount:
    return account_of(await db[ACCOUNTS].find_one({"_id": account.id}))


def poller(
    db: Any,
    gateways: Gateways,
    route: Route = Route.PRIMARY,
    *,
    clock: Any = None,
    interval: float = 30,
) -> tuple[SessionHealthPoller, GatewayDirectory]:
    directory = GatewayDirectory(
        db,
        route=route,
        default_account_id="default",
        default_session=DEFAULT,
        timeout_seconds=1,
        build=gateways.build,
    )
    kwargs = {"clock": clock} if clock is not None else {}
    return SessionHealthPoller(db, directory, interval_seconds=interval, **kwargs), directory


def gauge(account_id: str, route: str, status: str) -> float | None:
    return REGISTRY.get_sample_value(
        "herald_session_status", {"account": account_id, "route": route, "status": status}
    )


async def test_each_enabled_accounts_session_is_checked_stored_and_gauged(db: Any) -> None:
    await db[ACCOUNTS].delete_many({})
    working = await add_account(db, "working")
    pairing = await add_account(db, "pairing")
    away = await add_account(db, "away", url="http://gone:3000")
    disabled = await add_account(db, "disabled", status=AccountStatus.DISABLED)
    gateways = Gateways(
        statuses={("http://waha:3000", "pairing-noweb"): SessionStatus.SCAN_QR_CODE},
        down={"http://gone:3000"},
    )
    primary, directory = poller(db, gateways)

    checked = await primary.poll_once()

    assert {(c.address.session, c.health.status) for c in checked} == {
        ("default", SessionStatus.WORKING),
        ("working-noweb", SessionStatus.WORKING),
        ("pairing-noweb", SessionStatus.SCAN_QR_CODE),
        ("away-noweb", SessionStatus.FAILED),
    }
    assert ("http://waha:3000", "disabled-noweb") not in gateways.checks
    assert (await stored(db, working)).primary.health.status is HealthStatus.WORKING
    found = (await stored(db, pairing)).primary.health
    assert found.status is HealthStatus.SCAN_QR_CODE
    assert found.checked_at is not None
    assert abs(found.checked_at.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(seconds=30)
    unreachable = (await stored(db, away)).primary.health
    assert unreachable.status is HealthStatus.FAILED
    assert unreachable.detail == (
        "health check failed: gateway-unreachable: no HTTP answer from the gateway"
    )
    # Only the primary's sessions are this poller's; the fallback's stay unknown.
    assert (await stored(db, pairing)).fallback.health.status is HealthStatus.UNKNOWN
    assert (await stored(db, disabled)).primary.health.status is HealthStatus.UNKNOWN

    assert gauge(pairing.id, "primary", "SCAN_QR_CODE") == 1
    assert gauge(pairing.id, "primary", "WORKING") == 0
    assert gauge(working.id, "primary", "WORKING") == 1
    assert gauge("default", "primary", "WORKING") == 1
    assert gauge(disabled.id, "primary", "WORKING") is None

    # The sender's own sends see what the poll found.
    route = await directory.route("t1", pairing.id)
    with pytest.raises(GatewayError, match="session-not-connected"):
        route.check_session()
    (await directory.route("t1", working.id)).check_session()

    # Disabling an account stops its checks and removes its series.
    await db[ACCOUNTS].update_one({"_id": working.id}, {"$set": {"status": "disabled"}})
    await primary.poll_once()
    assert gauge(working.id, "primary", "WORKING") is None


async def test_the_fallback_poller_checks_the_fallback_sessions(db: Any) -> None:
    await db[ACCOUNTS].delete_many({})
    account = await add_account(db, "both")
    gateways = Gateways(statuses={("http://waha:3000", "both-webjs"): SessionStatus.STOPPED})
    fallback, _ = poller(db, gateways, Route.FALLBACK)
    await fallback.poll_once()
    health = await stored(db, account)
    assert health.fallback.health.status is HealthStatus.STOPPED
    assert health.primary.health.status is HealthStatus.UNKNOWN
    assert gauge(account.id, "fallback", "STOPPED") == 1


async def test_concurrent_checkers_keep_the_newest_health(db: Any) -> None:
    account = await add_account(db, "race")
    address = SessionAddress.of(account.primary)
    refresh = timedelta(seconds=15)

    async def write(status: SessionStatus, at: datetime) -> None:
        health = account_health(observed_health(SessionHealth(status, status.value)), at)
        selectors, update = health_writes(
            account.id, Route.PRIMARY, address, health, refresh_after=refresh
        )
        for selector in selectors:
            if (await db[ACCOUNTS].update_one(selector, update)).matched_count:
                break

    async def health() -> tuple[HealthStatus, datetime | None]:
        found = (await stored(db, account)).primary.health
        at = found.checked_at.replace(tzinfo=UTC) if found.checked_at else None
        return found.status, at

    await write(SessionStatus.SCAN_QR_CODE, NOW)
    assert await health() == (HealthStatus.SCAN_QR_CODE, NOW)
    # A slower checker's older answer does not overwrite the newer one.
    await write(SessionStatus.WORKING, NOW - timedelta(seconds=1))
    assert await health() == (HealthStatus.SCAN_QR_CODE, NOW)
    # The same answer soon after is not written again; a changed one is.
    await write(SessionStatus.SCAN_QR_CODE, NOW + timedelta(seconds=5))
    assert await health() == (HealthStatus.SCAN_QR_CODE, NOW)
    await write(SessionStatus.WORKING, NOW + timedelta(seconds=6))
    assert await health() == (HealthStatus.WORKING, NOW + timedelta(seconds=6))
    await write(SessionStatus.WORKING, NOW + timedelta(seconds=30))
    assert await health() == (HealthStatus.WORKING, NOW + timedelta(seconds=30))
    # Many checkers at once: the newest wins, whatever the order they land in.
    moments = [NOW + timedelta(seconds=60 + i) for i in range(10)]
    statuses = [SessionStatus.STOPPED, SessionStatus.WORKING] * 5
    answers = list(zip(statuses, moments, strict=True))
    await asyncio.gather(*(write(status, at) for status, at in reversed(answers)))
    assert await health() == (HealthStatus.WORKING, moments[-1])


async def test_a_changed_session_is_not_given_the_old_sessions_health(db: Any) -> None:
    account = await add_account(db, "moved")
    old = SessionAddress.of(account.primary)
    await db[ACCOUNTS].update_one(
        {"_id": account.id}, {"$set": {"sessions.primary.session": "re-paired"}}
    )
    health = account_health(observed_health(SessionHealth(SessionStatus.FAILED, "FAILED")), NOW)
    selectors, update = health_writes(
        account.id, Route.PRIMARY, old, health, refresh_after=timedelta(seconds=15)
    )
    for selector in selectors:
        await db[ACCOUNTS].update_one(selector, update)
    assert (await stored(db, account)).primary.health.status is HealthStatus.UNKNOWN


async def test_a_failing_pass_does_not_stop_the_poller(db: Any) -> None:
    calls = 0

    def clock() -> datetime:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a pass that blows up")
        return datetime.now(UTC)

    gateways = Gateways()
    running, directory = poller(db, gateways, clock=clock, interval=0.05)
    await running.start()
    await running.start()  # one poller, however often it is started
    try:
        for _ in range(100):
            if directory.health(DEFAULT) is not None and calls >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await running.stop()
    assert directory.health(DEFAULT) is not None
    assert calls >= 2


async def test_a_gateway_that_never_answers_holds_up_only_its_own_sessions(db: Any) -> None:
    await db[ACCOUNTS].delete_many({})
    silent = await add_account(db, "silent", url="http://blackhole:3000")
    fine = await add_account(db, "fine")
    gateways = Gateways(silent={"http://blackhole:3000"})
    primary, _ = poller(db, gateways)  # the gateway timeout is 1 s

    loop = asyncio.get_running_loop()
    started = loop.time()
    await primary.poll_once()
    assert loop.time() - started < 5

    assert (await stored(db, fine)).primary.health.status is HealthStatus.WORKING
    timed_out = (await stored(db, silent)).primary.health
    assert timed_out.status is HealthStatus.FAILED
    assert timed_out.detail == (
        "health check failed: gateway-timeout: the gateway did not answer in time"
    )


class AccountWrites(monitoring.CommandListener):
    """The write concern of each ``update`` command sent to ``accounts``."""

    def __init__(self) -> None:
        self.concerns: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update" and event.command.get("update") == ACCOUNTS:
            self.concerns.append(dict(event.command.get("writeConcern") or {}))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_health_is_stored_without_waiting_for_the_journal(settings: HeraldSettings) -> None:
    # A pass writes every enabled account's health, again each pass: durable writes would be
    # one flush to disk per account and pass (a thousand accounts: a thousand every 30 s).
    writes = AccountWrites()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, event_listeners=[writes]
    )
    db = database(client, settings)  # durable by default: j true, as the services write
    try:
        await db[ACCOUNTS].delete_many({})
        accounts = [await add_account(db, f"n{n}") for n in range(5)]
        primary, _ = poller(db, Gateways())
        await primary.poll_once()
        assert [(await stored(db, a)).primary.health.status for a in accounts] == [
            HealthStatus.WORKING
        ] * 5
        assert len(writes.concerns) >= 5
        assert all(concern.get("j") is False for concern in writes.concerns)
    finally:
        await client.close()
