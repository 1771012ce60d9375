"""Which gateway session a sender uses for a message: the account's, or the configured one."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from herald_core.accounts.model import (
    AccountStatus,
    GatewayAdapter,
    GatewaySession,
    SenderAccount,
    SessionEngine,
    account_document,
)
from herald_core.attempt_plan import Route
from herald_gateways.interface import (
    GatewayError,
    GatewayInfo,
    LoginQr,
    MediaFile,
    SendReceipt,
    SessionHealth,
    SessionStatus,
)
from herald_infra.mongo.client import Document
from herald_sender.gateway_directory import (
    GatewayDirectory,
    ObservedHealth,
    SessionAddress,
)

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)
DEFAULT = SessionAddress("waha", "http://gateway:3100", "default", "configured-key")


@dataclass
class FakeGateway:
    adapter: str
    base_url: str
    api_key: str | None
    closed: bool = False

    async def send_text(
        self, *, session: str, phone: str, text: str, message_id: str
    ) -> SendReceipt:
        return SendReceipt(gateway_message_id=None)

    async def send_media(
        self, *, session: str, phone: str, media: MediaFile, caption: str, message_id: str
    ) -> SendReceipt:
        return SendReceipt(gateway_message_id=None)

    async def session_health(self, session: str) -> SessionHealth:
        return SessionHealth(SessionStatus.WORKING, "WORKING")

    async def session_status(self, session: str) -> str:
        return "WORKING"

    async def login_qr(self, session: str) -> LoginQr | None:
        return None

    async def server_info(self) -> GatewayInfo:
        return GatewayInfo("waha", "2024.10.8", "PLUS", "NOWEB")

    async def ensure_session(self, session: str) -> bool:
        return False

    async def configure_webhook(
        self,
        session: str,
        *,
        url: str,
        events: Sequence[str],
        headers: Mapping[str, str],
        hmac_key: str | None,
    ) -> None:
        return None

    async def check_numbers(self, session: str, phones: Sequence[str]) -> dict[str, bool]:
        return dict.fromkeys(phones, True)

    async def phone_of_lid(self, session: str, lid: str) -> str | None:
        return None

    async def close(self) -> None:
        self.closed = True


@dataclass
class Accounts:
    """A stand-in for MongoDB's ``accounts``: counts lookups, can fail or stall them."""

    by_id: dict[tuple[str, str], SenderAccount] = field(default_factory=dict)
    lookups: int = 0
    read: list[list[str]] = field(default_factory=list)
    """The ids each lookup asked for."""
    failing: bool = False
    gate: asyncio.Event | None = None

    def add(self, account: SenderAccount) -> None:
        self.by_id[(account.tenant_id, account.id)] = account

    async def find(self, db: Any, account_ids: Sequence[str]) -> list[Document]:
        self.lookups += 1
        self.read.append(sorted(account_ids))
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise ConnectionError("MongoDB away")
        return [account_document(a) for a in self.by_id.values() if a.id in account_ids]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def session(engine: SessionEngine, url: str, name: str, key: str | None) -> GatewaySession:
    return GatewaySession(
        engine=engine,
        gateway=GatewayAdapter.WAHA,
        base_url=url,
        session=name,
        api_key=SecretStr(key) if key else None,
    )


def account(
    account_id: str,
    *,
    tenant: str = "t1",
    primary_url: str = "http://waha-noweb:3000",
    primary_session: str = "sales",
    primary_key: str | None = "pk",
    status: AccountStatus = AccountStatus.ENABLED,
) -> SenderAccount:
    return SenderAccount(
        id=account_id,
        tenant_id=tenant,
        phone="+919876512345",
        status=status,
        primary=session(SessionEngine.BAILEYS, primary_url, primary_session, primary_key),
        fallback=session(
            SessionEngine.WHATSAPP_WEB_JS, "http://waha-webjs:3000", f"{primary_session}-w", "fk"
        ),
        hourly_cap=10,
        daily_cap=100,
        activated_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


def directory(
    accounts: Accounts,
    *,
    route: Route = Route.PRIMARY,
    clock: Clock | None = None,
    built: list[FakeGateway] | None = None,
) -> GatewayDirectory:
    def build(adapter: str, base_url: str, api_key: str | None, timeout: float) -> FakeGateway:
        gateway = FakeGateway(adapter, base_url, api_key)
        if built is not None:
            built.append(gateway)
        return gateway

    return GatewayDirectory(
        db=None,  # type: ignore[arg-type]  # the fake lookup never touches it
        route=route,
        default_account_id="default",
        default_session=DEFAULT,
        timeout_seconds=5,
        cache_seconds=5,
        find=accounts.find,
        build=build,
        clock=clock or Clock(),
    )


async def test_an_account_sends_through_its_own_session_for_each_engine() -> None:
    accounts = Accounts()
    accounts.add(account("acc_1"))
    primary = await directory(accounts).route("t1", "acc_1")
    fallback = await directory(accounts, route=Route.FALLBACK).route("t1", "acc_1")
    assert (primary.address.base_url, primary.session, primary.address.api_key) == (
        "http://waha-noweb:3000",
        "sales",
        "pk",
    )
    assert (fallback.address.base_url, fallback.session) == ("http://waha-webjs:3000", "sales-w")
    gateway = primary.gateway
    assert isinstance(gateway, FakeGateway)
    assert (gateway.base_url, gateway.api_key) == ("http://waha-noweb:3000", "pk")
    primary.check_account()
    primary.check_session()  # not checked yet: the gateway is tried


async def test_the_default_account_uses_the_configured_gateway() -> None:
    route = await directory(Accounts()).route("t1", "default")
    assert route.address == DEFAULT
    assert route.account is None
    route.check_account()


async def test_an_unknown_account_is_not_sent_from_the_configured_number() -> None:
    route = await directory(Accounts()).route("t1", "acc_gone")
    with pytest.raises(GatewayError) as refused:
        route.check_account()
    assert (refused.value.reason, refused.value.retryable) == ("account-not-found", False)


async def test_another_tenants_account_is_not_found() -> None:
    accounts = Accounts()
    accounts.add(account("acc_1", tenant="t2"))
    with pytest.raises(GatewayError, match="account-not-found"):
        (await directory(accounts).route("t1", "acc_1")).check_account()


async def test_a_disabled_accounts_messages_fail_permanently() -> None:
    accounts = Accounts()
    accounts.add(account("acc_1", status=AccountStatus.DISABLED))
    route = await directory(accounts).route("t1", "acc_1")
    with pytest.raises(GatewayError) as refused:
        route.check_account()
    assert (refused.value.reason, refused.value.retryable) == ("account-disabled", False)


async def test_gateways_are_shared_per_adapter_url_and_key_and_all_closed() -> None:
    accounts = Accounts()
    accounts.add(account("acc_1", primary_session="one"))
    accounts.add(account("acc_2", primary_session="two"))  # same gateway, other session
    accounts.add(account("acc_3", primary_key="other-key"))
    accounts.add(account("acc_4", primary_url="http://waha-2:3000"))
    built: list[FakeGateway] = []
    gateways = directory(accounts, built=built)
    routes = [await gateways.route("t1", a) for a in ("acc_1", "acc_2", "acc_3", "acc_4")]
    routes.append(await gateways.route("t1", "default"))
    routes.append(await gateways.route("t1", "acc_1"))
    assert routes[0].gateway is routes[1].gateway is routes[5].gateway
    assert (routes[0].session, routes[1].session) == ("one", "two")
    assert len({id(r.gateway) for r in routes}) == 4
    assert len(built) == 4
    await gateways.close()
    assert all(g.closed for g in built)


async def test_accounts_are_read_once_per_cache_period() -> None:
    accounts = Accounts()
    accounts.add(account("acc_1"))
    clock = Clock()
    gateways = directory(accounts, clock=clock)
    for _ in range(5):
        await gateways.route("t1", "acc_1")
        await gateways.route("t1", "default")  # not found is remembered too
    assert accounts.lookups == 2

    accounts.add(account("acc_1", status=AccountStatus.DISABLED))
    clock.now += 4.9
    (await gateways.route("t1", "acc_1")).check_account()  # still the cached, enabled one
    clock.now += 0.2
    with pytest.raises(GatewayError, match="account-disabled"):
        (await gateways.route("t1", "acc_1")).check_account()
    assert accounts.lookups == 3


async def test_concurrent_misses_share_one_lookup() -> None:
    accounts = Accounts(gate=asyncio.Event())
    accounts.add(account("acc_1"))
    gateways = directory(accounts)
    pending = [asyncio.create_task(gateways.route("t1", "acc_1")) for _ in range(10)]
    await asyncio.sleep(0)
    assert accounts.gate is not None
    accounts.gate.set()
    routes = await asyncio.gather(*pending)
    assert {r.session for r in routes} == {"sales"}
    assert accounts.lookups == 1


async def test_a_thousand_lanes_starting_together_read_their_accounts_in_one_lookup() -> None:
    accounts = Accounts(gate=asyncio.Event())
    for n in range(200):
        accounts.add(account(f"acc_{n}"))
    gateways = directory(accounts)
    first = asyncio.create_task(gateways.route("t1", "acc_0"))
    await asyncio.sleep(0)  # its lookup is under way (held): the others miss meanwhile
    asked = [("t1" if n % 2 else "t2", f"acc_{n % 200}") for n in range(1, 1000)]
    others = [asyncio.create_task(gateways.route(*key)) for key in asked]
    assert accounts.gate is not None
    accounts.gate.set()
    routes = await asyncio.gather(others[0], *others[1:])
    await first
    # One read for the first, one for the 999 others together (each id asked once).
    assert accounts.lookups == 2
    assert len(accounts.read[1]) == 200
    for (tenant, _), route in zip(asked, routes, strict=True):
        assert route.known is (tenant == "t1")  # another tenant's account is not found
        if route.known:
            assert route.session == "sales"


async def test_each_lookup_refreshes_the_accounts_going_stale_soon() -> None:
    accounts = Accounts()
    for n in range(100):
        accounts.add(account(f"acc_{n}"))
    clock = Clock()
    gateways = directory(accounts, clock=clock)
    await asyncio.gather(*(gateways.route("t1", f"acc_{n}") for n in range(100)))
    assert accounts.lookups == 1
    # Each account sends every 10 s or so, longer than the 5 s cache, one after another:
    # each stale account read alone would be a read per send.
    for second in range(1, 31):
        clock.now += 1
        for n in range(second * 3 % 100, second * 3 % 100 + 3):
            await gateways.route("t1", f"acc_{n}")
    assert accounts.lookups <= 10  # a read every few seconds, not 90

    accounts.add(account("acc_5", status=AccountStatus.DISABLED))
    clock.now += 5.1  # a change still takes effect within the cache period
    with pytest.raises(GatewayError, match="account-disabled"):
        (await gateways.route("t1", "acc_5")).check_account()


async def test_a_failed_lookup_uses_what_was_known_and_raises_without_it() -> None:
    accounts = Accounts()
    accounts.add(account("acc_1"))
    clock = Clock()
    gateways = directory(accounts, clock=clock)
    await gateways.route("t1", "acc_1")
    accounts.failing = True
    clock.now += 60
    assert (await gateways.route("t1", "acc_1")).session == "sales"
    with pytest.raises(ConnectionError):
        await gateways.route("t1", "acc_other")


async def test_a_session_found_not_connected_is_not_called() -> None:
    accounts = Accounts()
    accounts.add(account("acc_1"))
    gateways = directory(accounts)
    address = (await gateways.route("t1", "acc_1")).address
    gateways.record_health(address, ObservedHealth(SessionStatus.SCAN_QR_CODE, "waiting"))
    route = await gateways.route("t1", "acc_1")
    route.check_account()
    with pytest.raises(GatewayError) as refused:
        route.check_session()
    assert (refused.value.reason, refused.value.retryable) == ("session-not-connected", True)
    assert "SCAN_QR_CODE" in refused.value.detail

    gateways.record_health(address, ObservedHealth(SessionStatus.WORKING))
    (await gateways.route("t1", "acc_1")).check_session()


async def test_a_session_the_gateway_can_never_serve_fails_its_sends_for_good() -> None:
    accounts = Accounts()
    accounts.add(account("acc_1"))
    gateways = directory(accounts)
    address = (await gateways.route("t1", "acc_1")).address
    core = ObservedHealth(SessionStatus.FAILED, "WAHA Core serves only 'default'", True)
    gateways.record_health(address, core)
    with pytest.raises(GatewayError) as refused:
        (await gateways.route("t1", "acc_1")).check_session()
    assert (refused.value.reason, refused.value.retryable) == ("gateway-misconfigured", False)
    assert "serves only 'default'" in refused.value.detail


async def test_a_gateway_url_that_cannot_be_used_fails_only_its_accounts_sends_for_good() -> None:
    # A tab inside the host passes the account's validation; httpx refuses it (InvalidURL)
    # when the client is built, which used to escape the route before the claim.
    accounts = Accounts()
    accounts.add(account("acc_bad", primary_url="http://gw\tx:3100"))
    accounts.add(account("acc_off", primary_url="http://gw\tx:3100", status=AccountStatus.DISABLED))
    accounts.add(account("acc_ok"))
    gateways = GatewayDirectory(
        db=None,  # type: ignore[arg-type]  # the fake lookup never touches it
        route=Route.PRIMARY,
        default_account_id="default",
        default_session=DEFAULT,
        timeout_seconds=5,
        find=accounts.find,
    )
    try:
        bad = await gateways.route("t1", "acc_bad")
        bad.check_account()
        with pytest.raises(GatewayError) as refused:
            bad.check_session()
        assert (refused.value.reason, refused.value.retryable) == ("gateway-misconfigured", False)
        assert "InvalidURL" in refused.value.detail and "http://gw\\tx:3100" in refused.value.detail
        # Anything the sender or the health check asks of it fails the same way, without I/O.
        with pytest.raises(GatewayError) as checked:
            await bad.gateway.session_health(bad.session)
        assert checked.value.reason == "gateway-misconfigured"

        # Disabled, its messages fail as such (disabling the account is the fix that works).
        with pytest.raises(GatewayError) as disabled:
            (await gateways.route("t1", "acc_off")).check_account()
        assert disabled.value.reason == "account-disabled"

        ok = await gateways.route("t1", "acc_ok")
        ok.check_account()
        ok.check_session()
        assert type(ok.gateway).__name__ == "WahaGateway"
    finally:
        await gateways.close()


async def test_health_belongs_to_the_session_checked_not_to_a_changed_one() -> None:
    accounts = Accounts()
    accounts.add(account("acc_1"))
    clock = Clock()
    gateways = directory(accounts, clock=clock)
    old = (await gateways.route("t1", "acc_1")).address
    gateways.record_health(old, ObservedHealth(SessionStatus.STOPPED))
    accounts.add(account("acc_1", primary_session="re-paired"))
    clock.now += 10
    route = await gateways.route("t1", "acc_1")
    assert route.health is None
    route.check_session()

    gateways.forget_health_except({route.address})
    assert gateways.health(old) is None


def test_an_api_key_never_shows_in_an_address() -> None:
    assert "configured-key" not in repr(DEFAULT)
