"""Session health checks (seed: "Check Session Connected").

Every ``HERALD_SESSION_POLL_SECONDS`` each sender process asks the gateway for the health of its
route's session of every enabled sender account, and of the configured gateway's session (the
default account's). What it finds:

- travels with this process's sends (:meth:`GatewayDirectory.record_health`): a session that is
  not WORKING is not called; the send fails as ``session-not-connected``, as if the gateway had
  refused it (retryable; the primary's circuit opens at once, the plan moves on);
- is written to the account document (``sessions.<primary|fallback>.health``: ``status``,
  ``checkedAt``, ``detail``), which the account API shows;
- sets ``herald_session_status{account,route,status}``: 1 for the session's status, 0 for the
  others (one series per status, like kube-state-metrics' phases: alert on
  ``herald_session_status{status="WORKING"} == 0``, draw a state timeline by ``status``).

A check that fails (gateway unreachable, wrong API key, unknown session) counts as not
connected: ``FAILED`` with the reason as detail. A gateway that can never serve the session as
configured (WAHA Core and a session not named ``default``) is ``FAILED`` with what to fix, and
its sends fail for good (``gateway-misconfigured``) instead of waiting to be retried. Several
processes check the same sessions, so a write applies only to the very session that was checked
(a session changed meanwhile keeps its unknown health until checked), only when newer than the
stored health, and only when the health changed or the stored one is older than half a poll
interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from herald_core.accounts.model import AccountStatus, HealthStatus, SessionHealth, account_of
from herald_core.attempt_plan import Route
from herald_core.contracts.common import utc_now
from herald_gateways.failures import GATEWAY_MISCONFIGURED, GATEWAY_TIMEOUT, fixed_form
from herald_gateways.interface import GatewayError, SessionStatus
from herald_gateways.interface import SessionHealth as GatewayHealth
from herald_gateways.session_states import health_detail
from herald_infra.mongo.client import ACCOUNTS, FAST_WRITES, Database, Document
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import SESSION_STATUS
from herald_sender.gateway_directory import GatewayDirectory, ObservedHealth, SessionAddress

log = get_logger(__name__)

MAX_CONCURRENT_CHECKS = 16
"""Health checks of one pass in flight at once (one gateway request each, two for Evolution)."""
MIN_CHECK_TIMEOUT_SECONDS = 5.0


# Pure: what a check found, as stored and shown


def observed_health(health: GatewayHealth) -> ObservedHealth:
    """A gateway's answer as Herald keeps it: the status, and a detail when the gateway's own
    word says more (Evolution's ``connecting``) or the session waits for a scan."""
    return ObservedHealth(health.status, health_detail(health))


def failed_check(error: Exception) -> ObservedHealth:
    """A check that got no health: the session cannot be used until one does. The detail is a
    fixed form (the tenant reads it): never what the gateway's address answered."""
    if isinstance(error, GatewayError) and error.reason == GATEWAY_MISCONFIGURED:
        said = error.detail if error.status_code is None else fixed_form(error)
        return ObservedHealth(SessionStatus.FAILED, said, misconfigured=True)
    if isinstance(error, GatewayError):
        return ObservedHealth(SessionStatus.FAILED, f"health check failed: {fixed_form(error)}")
    return ObservedHealth(SessionStatus.FAILED, f"health check failed: {type(error).__name__}")


def health_status(status: SessionStatus) -> HealthStatus:
    """The one mapping of the gateway protocol's session status onto the account's."""
    return HealthStatus(status.value)


def account_health(observed: ObservedHealth, checked_at: datetime) -> SessionHealth:
    """The account's session health (``sessions.<route>.health``) a check found."""
    return SessionHealth(
        status=health_status(observed.status), checked_at=checked_at, detail=observed.detail
    )


def stored_time(at: datetime) -> datetime:
    """``at`` at the millisecond precision MongoDB keeps, so later comparisons are exact."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def health_writes(
    account_id: str,
    route: Route,
    address: SessionAddress,
    health: SessionHealth,
    *,
    refresh_after: timedelta,
) -> tuple[list[Document], Document]:
    """The conditional updates (selectors, update) that store a checked session's health: try
    the selectors in turn; the first that matches stores it.

    Together they match only while the account's session is still the one checked, only when
    the stored health is older than this one, and only when it differs or is older than
    ``refresh_after``: concurrent checkers never put an older or a stale answer over a newer
    one. Each selector is a plain conjunction on ``_id``: SecantusDB scans the whole collection
    for a filter with ``$or`` even next to ``_id`` (so a write's cost grows with the accounts;
    docs/benchmarks.md), while this is an index lookup there too.
    """
    if health.checked_at is None:
        raise ValueError("a checked session's health has its checkedAt")
    prefix = f"sessions.{route.value}"
    stored = f"{prefix}.health"
    document = {
        "status": health.status.value,
        "checkedAt": health.checked_at,
        "detail": health.detail,
    }
    session: Document = {
        "_id": account_id,
        f"{prefix}.gateway": address.adapter,
        f"{prefix}.baseUrl": address.base_url,
        f"{prefix}.session": address.session,
        f"{prefix}.apiKey": address.api_key,
    }
    older = {"$lt": health.checked_at}
    selectors = [
        # The common case first: the stored health is due for a refresh (so older, too).
        {**session, f"{stored}.checkedAt": {**older, "$lte": health.checked_at - refresh_after}},
        {**session, f"{stored}.checkedAt": None},  # never checked
        {**session, f"{stored}.checkedAt": older, f"{stored}.status": {"$ne": document["status"]}},
        {**session, f"{stored}.checkedAt": older, f"{stored}.detail": {"$ne": document["detail"]}},
    ]
    return selectors, {"$set": {stored: document}}


def set_status_gauge(account_id: str, route: Route, status: SessionStatus) -> None:
    for each in SessionStatus:
        SESSION_STATUS.labels(account=account_id, route=route.value, status=each.value).set(
            1 if each is status else 0
        )


def remove_status_gauge(account_id: str, route: Route) -> None:
    for each in SessionStatus:
        with contextlib.suppress(KeyError):
            SESSION_STATUS.remove(account_id, route.value, each.value)


@dataclass(frozen=True)
class CheckedSession:
    """One session checked in a pass and the accounts that send through it."""

    address: SessionAddress
    health: ObservedHealth
    checked_at: datetime
    account_ids: tuple[str, ...]
    """The sender accounts on it: each account document gets the health."""
    default: bool = False
    """Whether it is the configured gateway's session (the default account, no document)."""


def check_timeout(gateway_timeout: float, interval: float) -> float:
    """How long one check may take: the gateway timeout, but no longer than a poll interval
    (at least a few seconds), so a gateway that does not answer cannot stall the passes."""
    return min(gateway_timeout, max(interval, MIN_CHECK_TIMEOUT_SECONDS))


# The poller


class SessionHealthPoller:
    """Checks its route's sessions periodically (one poller per sender process)."""

    def __init__(
        self,
        db: Database,
        directory: GatewayDirectory,
        *,
        interval_seconds: float,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._directory = directory
        self._route = directory.sender_route
        self._interval = interval_seconds
        self._timeout = check_timeout(directory.timeout_seconds, interval_seconds)
        self._refresh_after = timedelta(seconds=interval_seconds / 2)
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._gauged: set[str] = set()

    async def start(self) -> None:
        """Start polling in the background (the first pass at once); idempotent."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"session-health-{self._route}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def poll_once(self) -> list[CheckedSession]:
        """One pass: check every session; keep, gauge and write what each check found as soon
        as it is found (a slow gateway does not hold up the others' results)."""
        default = self._directory.default_session
        targets: dict[SessionAddress, list[str]] = defaultdict(list)
        targets[default] = []
        for account_id, address in await self._enabled_accounts():
            targets[address].append(account_id)
        gauged = {self._directory.default_account_id, *(a for ids in targets.values() for a in ids)}
        for gone in self._gauged - gauged:  # disabled since, or moved to another session
            remove_status_gauge(gone, self._route)
        self._gauged = gauged
        self._directory.forget_health_except(set(targets))

        limit = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)

        async def check(address: SessionAddress, account_ids: list[str]) -> CheckedSession:
            async with limit:
                health = await self._check(address)
            session = CheckedSession(
                address,
                health,
                stored_time(self._clock()),
                tuple(account_ids),
                default=address == default,
            )
            await self._record(session)
            return session

        return list(await asyncio.gather(*(check(a, ids) for a, ids in targets.items())))

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception as error:  # MongoDB away, say: try again next time
                log.warning("session health pass failed; trying again", error=repr(error))
            await asyncio.sleep(self._interval)

    async def _enabled_accounts(self) -> list[tuple[str, SessionAddress]]:
        """Each enabled account (every tenant's) and its session on this route."""
        found = []
        async for document in self._db[ACCOUNTS].find({"status": AccountStatus.ENABLED.value}):
            try:
                session = account_of(document).session_for(self._route)
            except Exception as error:  # one unreadable account must not stop the others
                log.warning(
                    "sender account unreadable; its session is not checked",
                    account_id=document.get("_id"),
                    error=repr(error),
                )
                continue
            found.append((str(document["_id"]), SessionAddress.of(session)))
        return found

    async def _check(self, address: SessionAddress) -> ObservedHealth:
        gateway = self._directory.gateway(address)
        try:
            health = await asyncio.wait_for(
                gateway.session_health(address.session), timeout=self._timeout
            )
        except TimeoutError:
            return failed_check(
                GatewayError(
                    GATEWAY_TIMEOUT, f"no answer within {self._timeout:g} s", retryable=True
                )
            )
        except Exception as error:  # unreachable, refused, or a gateway we cannot even ask
            return failed_check(error)
        return observed_health(health)

    async def _record(self, session: CheckedSession) -> None:
        before = self._directory.health(session.address)
        self._directory.record_health(session.address, session.health)
        accounts = list(session.account_ids)
        if session.default:
            accounts.append(self._directory.default_account_id)
        for account_id in accounts:
            set_status_gauge(account_id, self._route, session.health.status)
        if before is None or before.status is not session.health.status:
            changed = log.info if session.health.connected else log.warning
            changed(
                "session health",
                route=self._route.value,
                accounts=accounts,
                session=session.address.session,
                status=session.health.status.value,
                previous=before.status.value if before is not None else None,
                detail=session.health.detail,
            )
        health = account_health(session.health, session.checked_at)
        # Acknowledged from memory, not the journal: an observation the next pass writes again,
        # whose loss in a crash costs nothing, while a journaled write per account and pass is
        # a flush to disk per account (SecantusDB: one each) that the sends wait behind.
        accounts_written = self._db[ACCOUNTS].with_options(write_concern=FAST_WRITES)
        for account_id in session.account_ids:
            selectors, update = health_writes(
                account_id, self._route, session.address, health, refresh_after=self._refresh_after
            )
            try:
                for selector in selectors:
                    if (await accounts_written.update_one(selector, update)).matched_count:
                        break
            except Exception as error:
                log.warning("session health not stored", account_id=account_id, error=repr(error))
