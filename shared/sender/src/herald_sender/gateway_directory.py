"""Which gateway session a sender sends each message through: its sender account's session for
this sender's route (``account.session_for(route)``), or the process's configured gateway for
the default account (a tenant without accounts).

- Gateways (HTTP clients) are built by ``build_gateway`` once per adapter, base URL and API key
  and shared by every account on them; :meth:`GatewayDirectory.close` closes them all. A
  sender deployment's connect only to checked, pinned addresses (``herald_infra.outbound``:
  an account's base URL that points at loopback, a private network or the metadata address
  fails ``gateway-misconfigured`` unless HERALD_OUTBOUND_ALLOW allows it), except the
  deployment's own configured gateway. A gateway that cannot even be built (a base URL with
  a tab in it, an unknown adapter) is an :class:`UnusableGateway`: every call of it fails
  ``gateway-misconfigured`` (permanent), so its account's messages fail after their claim,
  its session health check shows ``FAILED`` with the reason, and the accounts beside it go
  on.
- Accounts are looked up in MongoDB at most once per ``cache_seconds`` (a few seconds): a change
  or a disable takes effect that soon, without a read per message. A lookup that fails while an
  older answer is known uses the older answer. Lookups are batched: the accounts missed while a
  read is under way are read together in the next one, and each read also refreshes the cached
  accounts that go stale within half a cache period. A sender with a thousand account lanes,
  each sending now and then, would otherwise read one account per send.
- The health of each session, as this process's ``SessionHealthPoller`` (session_polling)
  last found it, travels with the route: a session known not to be connected is not called
  (:meth:`SendRoute.check_session`).

A message whose account is disabled is not sent (``account-disabled``); one whose account does
not exist and is not the default account fails too (``account-not-found``) rather than going
out from the configured gateway's number.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from herald_core.accounts.model import GatewaySession, SenderAccount, account_of
from herald_core.attempt_plan import Route
from herald_gateways.failures import (
    GATEWAY_MISCONFIGURED,
    account_disabled,
    account_not_found,
    session_not_connected,
)
from herald_gateways.interface import (
    Gateway,
    GatewayError,
    GatewayInfo,
    LoginQr,
    MediaFile,
    SendReceipt,
    SessionHealth,
    SessionStatus,
)
from herald_gateways.registry import build_gateway
from herald_infra.accounts.repository import account_documents
from herald_infra.mongo.client import Database, Document
from herald_infra.outbound.checked_gateways import CheckedGateways
from herald_infra.outbound.public_addresses import OutboundAllow
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.settings import HeraldSettings

log = get_logger(__name__)

DEFAULT_ACCOUNT_CACHE_SECONDS = 5.0
MAX_ACCOUNTS_PER_READ = 500
"""Accounts one lookup reads at most (missed ones first, then those going stale soon)."""

FindAccounts = Callable[[Database, Sequence[str]], Awaitable[list[Document]]]
"""The account documents of the given ids, any tenant's."""
AccountKey = tuple[str, str]
"""(tenant, account id)"""
BuildGateway = Callable[[str, str, str | None, float], Gateway]


@dataclass(frozen=True)
class SessionAddress:
    """Where a gateway session is: its gateway (adapter, base URL, API key) and its name."""

    adapter: str
    base_url: str
    session: str
    """WAHA's session name, or Evolution's instance name."""
    api_key: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, session: GatewaySession) -> SessionAddress:
        key = session.api_key.get_secret_value() if session.api_key is not None else None
        return cls(session.gateway.value, session.base_url, session.session, key)

    @property
    def gateway_key(self) -> tuple[str, str, str | None]:
        """What one gateway client serves: every session on the same gateway shares it."""
        return (self.adapter, self.base_url, self.api_key)


@dataclass(frozen=True)
class ObservedHealth:
    """A session's health as a check found it: its status, and why when it cannot send."""

    status: SessionStatus
    detail: str | None = None
    misconfigured: bool = False
    """The check found the gateway can never serve this session as configured (WAHA Core and
    a session not named ``default``): sends fail for good rather than wait for it."""

    @property
    def connected(self) -> bool:
        return self.status is SessionStatus.WORKING


@dataclass(frozen=True)
class SendRoute:
    """How a message of one account goes out on this sender's route."""

    account_id: str
    address: SessionAddress
    gateway: Gateway
    account: SenderAccount | None
    """None for the default account (the configured gateway) and for an unknown account."""
    known: bool = True
    """False when the message names an account that does not exist."""
    health: ObservedHealth | None = None
    """What this process's last health check of the session found; None: not checked yet."""

    @property
    def session(self) -> str:
        return self.address.session

    def check_account(self) -> None:
        """Raise ``account-not-found`` or ``account-disabled`` (permanent: no route may send
        it) when the message's account cannot send."""
        if not self.known:
            raise account_not_found(self.account_id)
        if self.account is not None and not self.account.enabled:
            raise account_disabled(self.account_id)

    def check_session(self) -> None:
        """Raise ``session-not-connected`` (retryable) when the last health check found the
        session not WORKING, without calling the gateway; ``gateway-misconfigured`` (permanent)
        when the gateway cannot be used as configured or a check found it cannot serve the
        session at all. A session not checked yet is tried: the gateway tells."""
        if isinstance(self.gateway, UnusableGateway):
            raise self.gateway.error
        if self.health is not None and self.health.misconfigured:
            raise GatewayError(
                GATEWAY_MISCONFIGURED,
                f"session {self.session}: {self.health.detail}; gateway not called",
                retryable=False,
            )
        if self.health is not None and not self.health.connected:
            raise session_not_connected(self.session, self.health.status.value, self.health.detail)


class UnusableGateway:
    """A gateway whose configuration cannot be used at all (its client could not be built):
    every call raises its ``gateway-misconfigured`` error, without any I/O."""

    def __init__(self, address: SessionAddress, cause: Exception) -> None:
        self.error = GatewayError(
            GATEWAY_MISCONFIGURED,
            f"the {address.adapter} gateway at {address.base_url!r} cannot be used: "
            f"{type(cause).__name__}: {cause}; fix the account's gateway, then redrive",
            retryable=False,
        )

    async def send_text(
        self, *, session: str, phone: str, text: str, message_id: str
    ) -> SendReceipt:
        raise self.error

    async def send_media(
        self, *, session: str, phone: str, media: MediaFile, caption: str, message_id: str
    ) -> SendReceipt:
        raise self.error

    async def session_health(self, session: str) -> SessionHealth:
        raise self.error

    async def session_status(self, session: str) -> str:
        raise self.error

    async def login_qr(self, session: str) -> LoginQr | None:
        raise self.error

    async def server_info(self) -> GatewayInfo:
        raise self.error

    async def ensure_session(self, session: str) -> bool:
        raise self.error

    async def configure_webhook(
        self,
        session: str,
        *,
        url: str,
        events: Sequence[str],
        headers: Mapping[str, str],
        hmac_key: str | None,
    ) -> None:
        raise self.error

    async def check_numbers(self, session: str, phones: Sequence[str]) -> dict[str, bool]:
        raise self.error

    async def phone_of_lid(self, session: str, lid: str) -> str | None:
        raise self.error

    async def close(self) -> None:
        return None


@dataclass
class _CachedAccount:
    account: SenderAccount | None
    fresh_until: float


class GatewayDirectory:
    """The gateways of one sender process, per sender account, for one route."""

    def __init__(
        self,
        db: Database,
        *,
        route: Route,
        default_account_id: str,
        default_session: SessionAddress,
        timeout_seconds: float,
        cache_seconds: float = DEFAULT_ACCOUNT_CACHE_SECONDS,
        find: FindAccounts = account_documents,
        build: BuildGateway = build_gateway,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self.sender_route = route
        self.default_account_id = default_account_id
        self.default_session = default_session
        self.timeout_seconds = timeout_seconds
        self._cache_seconds = cache_seconds
        self._find = find
        self._build = build
        self._clock = clock
        self._gateways: dict[tuple[str, str, str | None], Gateway] = {}
        self._accounts: dict[AccountKey, _CachedAccount] = {}
        self._wanted: dict[AccountKey, asyncio.Future[SenderAccount | None]] = {}
        """Accounts missed, waiting for the next read."""
        self._reader: asyncio.Task[None] | None = None
        self._health: dict[SessionAddress, ObservedHealth] = {}

    @classmethod
    def for_route(cls, db: Database, settings: HeraldSettings, route: Route) -> GatewayDirectory:
        """The directory of a sender deployment, its default session from the settings; the
        accounts' gateways reached only at addresses HERALD_OUTBOUND_ALLOW permits."""
        return cls(
            db,
            route=route,
            default_account_id=settings.default_account_id,
            default_session=SessionAddress(
                settings.gateway_adapter,
                settings.gateway_url,
                settings.gateway_session,
                settings.gateway_api_key,
            ),
            timeout_seconds=settings.gateway_timeout_seconds,
            cache_seconds=settings.account_cache_seconds,
            build=CheckedGateways(
                OutboundAllow.parse(settings.outbound_allow),
                trusted_base_urls=(settings.gateway_url,),
            ),
        )

    async def route(self, tenant_id: str, account_id: str) -> SendRoute:
        """The route of a message of ``account_id``; reads MongoDB at most once per cache
        period per account (raises what the driver raises when it never could)."""
        account = await self._account(tenant_id, account_id)
        if account is not None:
            address = SessionAddress.of(account.session_for(self.sender_route))
        else:
            address = self.default_session
        return SendRoute(
            account_id=account_id,
            address=address,
            gateway=self.gateway(address),
            account=account,
            known=account is not None or account_id == self.default_account_id,
            health=self._health.get(address),
        )

    def gateway(self, address: SessionAddress) -> Gateway:
        """The shared client of the session's gateway (built on first use); an
        :class:`UnusableGateway` when the client cannot be built from its configuration."""
        key = address.gateway_key
        gateway = self._gateways.get(key)
        if gateway is None:
            try:
                gateway = self._build(
                    address.adapter, address.base_url, address.api_key, self.timeout_seconds
                )
            except Exception as error:  # building is pure: only the configuration can fail it
                gateway = UnusableGateway(address, error)
                log.warning(
                    "gateway cannot be used as configured",
                    adapter=address.adapter,
                    base_url=repr(address.base_url),
                    error=repr(error),
                )
            self._gateways[key] = gateway
        return gateway

    def record_health(self, address: SessionAddress, health: ObservedHealth) -> None:
        """What a health check of the session found; routes through it carry it from now on."""
        self._health[address] = health

    def forget_health_except(self, addresses: set[SessionAddress]) -> None:
        """Drop what is known of sessions no longer checked (a changed or disabled account)."""
        for address in [a for a in self._health if a not in addresses]:
            del self._health[address]

    def health(self, address: SessionAddress) -> ObservedHealth | None:
        return self._health.get(address)

    async def close(self) -> None:
        """Close every gateway client (at shutdown)."""
        gateways = list(self._gateways.values())
        self._gateways.clear()
        for gateway in gateways:
            try:
                await gateway.close()
            except Exception as error:  # one client failing to close must not keep the others
                log.warning("gateway client did not close cleanly", error=repr(error))

    async def _account(self, tenant_id: str, account_id: str) -> SenderAccount | None:
        key = (tenant_id, account_id)
        cached = self._accounts.get(key)
        if cached is not None and cached.fresh_until > self._clock():
            return cached.account
        # The lane's messages (and other lanes') that miss together wait for the same read;
        # shielded: a caller that stops waiting does not cancel the others' answer.
        try:
            return await asyncio.shield(self._wait_for_read(key))
        except Exception as error:
            if cached is None:
                raise
            log.warning(
                "sender account lookup failed; using what was known",
                account_id=account_id,
                error=repr(error),
            )
            return cached.account

    def _wait_for_read(self, key: AccountKey) -> asyncio.Future[SenderAccount | None]:
        wanted = self._wanted.get(key)
        if wanted is None:
            wanted = asyncio.get_running_loop().create_future()
            wanted.add_done_callback(_retrieve_exception)
            self._wanted[key] = wanted
            if self._reader is None:
                self._reader = asyncio.create_task(self._read_wanted(), name="account-lookups")
        return wanted

    async def _read_wanted(self) -> None:
        """Read the accounts missed, batch after batch, until none waits."""
        batch: dict[AccountKey, asyncio.Future[SenderAccount | None]] = {}
        try:
            while self._wanted:
                keys = list(self._wanted)[:MAX_ACCOUNTS_PER_READ]
                batch = {key: self._wanted.pop(key) for key in keys}
                keys += self._stale_soon(MAX_ACCOUNTS_PER_READ - len(keys), set(batch))
                await self._read(keys, batch)
                batch = {}
        finally:
            self._reader = None
            # Only when cancelled (the process is stopping): nobody waits for ever.
            for waiting in [*batch.values(), *self._wanted.values()]:
                waiting.cancel()
            self._wanted.clear()

    def _stale_soon(self, room: int, taken: set[AccountKey]) -> list[AccountKey]:
        """Cached accounts that go stale within half a cache period (read early, together)."""
        if room <= 0:
            return []
        soon = self._clock() + self._cache_seconds / 2
        due = (k for k, c in self._accounts.items() if c.fresh_until <= soon and k not in taken)
        return [key for key, _ in zip(due, range(room), strict=False)]

    async def _read(
        self, keys: list[AccountKey], batch: dict[AccountKey, asyncio.Future[SenderAccount | None]]
    ) -> None:
        """Read ``keys``, cache them and answer those of ``batch``: an account of another
        tenant is not found; one that cannot be read fails its own lookup only."""
        try:
            documents = await self._find(self._db, list({account_id for _, account_id in keys}))
        except Exception as error:
            for waiting in batch.values():
                waiting.set_exception(error)
            return
        found = {str(document["_id"]): document for document in documents}
        fresh_until = self._clock() + self._cache_seconds
        for key in keys:
            tenant_id, account_id = key
            document = found.get(account_id)
            try:
                account = (
                    account_of(document)
                    if document is not None and document.get("tenantId") == tenant_id
                    else None
                )
            except Exception as error:  # one unreadable account must not fail the others
                if key in batch:
                    batch[key].set_exception(error)
                continue
            self._accounts[key] = _CachedAccount(account, fresh_until)
            if key in batch:
                batch[key].set_result(account)


def _retrieve_exception(future: asyncio.Future[SenderAccount | None]) -> None:
    """A lookup's failure is told to whoever waits; nobody may wait (each caller can stop)."""
    if not future.cancelled():
        future.exception()
