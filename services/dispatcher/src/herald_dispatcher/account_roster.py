"""A fan-out's copy of its tenant's sender accounts, read again every few seconds.

Choosing accounts needs the tenant's accounts for every batch. Read per batch, that costs a
read of every account per batch: with 1,000 accounts and batches of 2,000 contacts, half an
account document per message (figures in docs/benchmarks.md). A fan-out reads them once and
again once its copy is :data:`ACCOUNTS_FRESH_FOR` old, so an account disabled or added
meanwhile is seen within those seconds, and the caps still hold (they are counted in MongoDB,
whatever the copy says).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from herald_core.accounts.model import SenderAccount
from herald_infra.accounts.repository import tenant_accounts
from herald_infra.mongo.client import Database

ACCOUNTS_FRESH_FOR = 5.0
"""Seconds a fan-out uses its copy of the tenant's accounts before reading them again."""


class AccountRoster:
    """The sender accounts of one tenant, as last read (at most ``fresh_for`` seconds ago;
    :data:`ACCOUNTS_FRESH_FOR` when not given)."""

    def __init__(
        self,
        db: Database,
        tenant_id: str,
        *,
        fresh_for: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._tenant_id = tenant_id
        self._fresh_for = ACCOUNTS_FRESH_FOR if fresh_for is None else fresh_for
        self._clock = clock
        self._accounts: list[SenderAccount] | None = None
        self._read_at = 0.0

    async def accounts(self) -> list[SenderAccount]:
        """Every account of the tenant, enabled or not, oldest first."""
        now = self._clock()
        if self._accounts is None or now - self._read_at >= self._fresh_for:
            self._accounts = await tenant_accounts(self._db, self._tenant_id)
            self._read_at = now
        return self._accounts
