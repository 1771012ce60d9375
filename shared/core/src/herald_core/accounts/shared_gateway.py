"""The deployment's shared gateway: the WhatsApp number tenants without sender accounts of their
own send from. Pure; no I/O.

An operator turns it on (``HERALD_SHARED_GATEWAY``, on by default) and it is then one more
sender account, ``HERALD_DEFAULT_ACCOUNT_ID``, on the gateway the senders are configured with:
its hourly and daily caps (and warm-up, when the operator dates its activation) hold for all
those tenants together, as any account's do, and the dispatcher defers what does not fit. Off,
a tenant needs an account of its own to send (its launches are refused until then).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from herald_core.accounts.sending_limits import SendingLimits

SHARED_GATEWAY_TENANT = "*"
"""The tenant the shared gateway's cap usage is recorded under: every tenant without accounts."""

WARMED_UP = datetime(2000, 1, 1, tzinfo=UTC)
"""The activation of a shared number whose operator gave none: long past its warm-up."""


@dataclass(frozen=True)
class SharedGateway:
    """The shared gateway as the caps see it: its account id, caps and warm-up."""

    account_id: str
    hourly_cap: int
    daily_cap: int
    warmup_schedule: tuple[int, ...] = ()
    activated_at: datetime = WARMED_UP

    @property
    def id(self) -> str:
        return self.account_id

    @property
    def tenant_id(self) -> str:
        return SHARED_GATEWAY_TENANT

    @property
    def limits(self) -> SendingLimits:
        return SendingLimits(
            hourly_cap=self.hourly_cap,
            daily_cap=self.daily_cap,
            warmup_schedule=self.warmup_schedule,
            activated_at=self.activated_at,
        )
