"""A send's turn in its sender account's anti-ban pace (:mod:`herald_infra.accounts.pace_slots`,
held under a lease by :mod:`herald_infra.accounts.pace_leases`)."""

from __future__ import annotations

from herald_core.contracts.events import SendMessage
from herald_core.pacing import pace_range
from herald_infra.accounts.pace_slots import AccountPace, SlotTaken, epoch_ms
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import PACE_GAP, PACE_LATENESS, PACE_WAIT

log = get_logger(__name__)

UNPACED = ""
"""The holder of a slot taken with pacing off: it holds nothing in MongoDB."""


def unpaced_slot(account_id: str) -> SlotTaken:
    """A slot at once, with no gap and no hold of the account (pacing off)."""
    now = epoch_ms()
    return SlotTaken(account_id, UNPACED, now, now, waited_seconds=0.0, gap_seconds=0.0)


class SendPacer:
    def __init__(self, pace: AccountPace, *, scale: float) -> None:
        """``scale`` multiplies every gap; 0 turns pacing off: no gaps, and no hold of the
        account in MongoDB either (two round trips per send that would buy nothing)."""
        self._pace = pace
        self._scale = scale

    async def wait_turn(self, event: SendMessage) -> SlotTaken:
        """Wait until the event's account may send, by its campaign's profile or custom range,
        and take that slot (at once, holding nothing, with pacing off)."""
        if self._scale == 0:
            return unpaced_slot(event.account_id)
        custom = event.custom_delay.bounds() if event.custom_delay is not None else None
        slot = await self._pace.wait_for_slot(
            event.account_id, pace_range(event.delay_type, custom, scale=self._scale)
        )
        PACE_WAIT.observe(slot.waited_seconds)
        PACE_LATENESS.observe(slot.lateness_seconds)
        profile = "custom" if custom is not None else event.delay_type.value
        PACE_GAP.labels(profile=profile).observe(slot.gap_seconds)
        return slot

    def free_now(self, account_id: str) -> bool:
        """Whether a send of the account could start now, from this process's memory alone (no
        MongoDB call; cheap enough for a gauge over every waiting record): False while one of
        its sends is in flight or waiting for its turn here, or its gap is not over (an account
        this process leases), or it was last seen leased or in its gap elsewhere. Always True
        with pacing off. See :meth:`LeasedAccountPace.free_now
        <herald_infra.accounts.pace_leases.LeasedAccountPace.free_now>`."""
        return self._scale == 0 or self._pace.free_now(account_id)

    async def gateway_answered(self, slot: SlotTaken) -> None:
        """Free the account one gap from now (see :meth:`AccountPace.release`). Best effort: if
        MongoDB is away, the account stays held until its hold runs out, which only slows it."""
        if slot.holder == UNPACED:
            return
        try:
            await self._pace.release(slot)
        except Exception as error:
            log.warning("account not released after the send", error=repr(error))

    async def slot_unused(self, slot: SlotTaken) -> None:
        """The slot's message was not sent: give the account back without a gap (see
        :meth:`AccountPace.release_unused`), so a message that is not sent costs no pace.
        Best effort, as :meth:`gateway_answered`."""
        if slot.holder == UNPACED:
            return
        try:
            await self._pace.release_unused(slot)
        except Exception as error:
            log.warning("unused slot not given back", error=repr(error))
