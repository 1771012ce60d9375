"""The circuit breakers of one sender process: one per sender account, for its route.

Send topics are keyed by account, so one process handles all of an account's messages on its
route at a time: its breaker is the account's. State changes (never every send) are written to
``circuit_breakers`` in MongoDB, which ``queue-stats`` shows, and to the ``herald_circuit_state``
gauge. A process that takes over an account after a rebalance starts with a closed circuit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from herald_core.contracts.common import utc_now
from herald_gateways.failures import SESSION_NOT_CONNECTED
from herald_gateways.interface import GatewayError
from herald_infra.mongo.client import CIRCUIT_BREAKERS, Database
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import CIRCUIT_STATE
from herald_sender.circuit_breaker import CircuitBreaker, CircuitState

log = get_logger(__name__)


class AccountCircuits:
    def __init__(
        self,
        db: Database,
        *,
        route: str,
        threshold: int,
        cooldown_seconds: float,
        owner: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._route = route
        self._threshold = threshold
        self._cooldown = cooldown_seconds
        self._owner = owner
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def _breaker(self, account_id: str) -> CircuitBreaker:
        breaker = self._breakers.get(account_id)
        if breaker is None:
            breaker = CircuitBreaker(self._threshold, self._cooldown)
            self._breakers[account_id] = breaker
        return breaker

    def state(self, account_id: str) -> CircuitState:
        return self._breaker(account_id).state

    async def allows(self, tenant_id: str, account_id: str) -> bool:
        """Whether this account's next send may use this route."""
        breaker = self._breaker(account_id)
        before = breaker.state
        allowed = breaker.allows(self._clock())
        await self._on_change(tenant_id, account_id, before, breaker)
        return allowed

    async def record_success(self, tenant_id: str, account_id: str) -> None:
        breaker = self._breaker(account_id)
        if breaker.state is CircuitState.CLOSED and breaker.consecutive_failures == 0:
            return  # the common case: nothing changes, nothing to write
        before = breaker.state
        breaker.record_success()
        await self._on_change(tenant_id, account_id, before, breaker)

    async def record_failure(self, tenant_id: str, account_id: str, error: GatewayError) -> None:
        """Count a retryable failure of the route (permanent ones say nothing about it)."""
        if not error.retryable:
            return
        breaker = self._breaker(account_id)
        before = breaker.state
        breaker.record_failure(
            self._clock(), error.reason, session_down=error.reason == SESSION_NOT_CONNECTED
        )
        await self._on_change(tenant_id, account_id, before, breaker)

    async def _on_change(
        self, tenant_id: str, account_id: str, before: CircuitState, breaker: CircuitBreaker
    ) -> None:
        if breaker.state is before:
            return
        CIRCUIT_STATE.labels(account=account_id, route=self._route).set(breaker.state.gauge_value)
        log.warning(
            "circuit changed",
            account_id=account_id,
            route=self._route,
            previous=before.value,
            state=breaker.state.value,
            reason=breaker.reason,
        )
        open_until = datetime.fromtimestamp(breaker.open_until, UTC) if breaker.open_until else None
        await self._db[CIRCUIT_BREAKERS].update_one(
            {"_id": f"{account_id}:{self._route}"},
            {
                "$set": {
                    "tenantId": tenant_id,
                    "accountId": account_id,
                    # Stored and served (queue-stats) as "engine" since before the
                    # route was named: the field keeps its name for existing documents.
                    "engine": self._route,
                    "state": breaker.state.value,
                    "consecutiveFailures": breaker.consecutive_failures,
                    "openUntil": open_until,
                    "reason": breaker.reason,
                    "updatedAt": utc_now(),
                    "owner": self._owner,
                }
            },
            upsert=True,
        )
