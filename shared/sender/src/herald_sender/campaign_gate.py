"""Whether a claimed message may still go to its gateway, by its campaign's lifecycle and its
validity window.

The sender asks right after its claim and again right before the gateway call (after the
account's pacing wait, which can be long). The campaign's status comes from a small
per-process cache, so a send costs one dictionary lookup; a pause or cancel reaches every
sender within ``campaign_state_cache_seconds``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from herald_core.campaigns.lifecycle import CampaignStatus
from herald_infra.mongo.client import CAMPAIGNS, Database


class GateDecision(StrEnum):
    SEND = "send"
    HOLD = "hold"
    """The campaign is paused: hand the message back (``queued``); its resume publishes it."""
    CANCEL = "cancel"
    """The campaign is cancelled: the message ends ``cancelled``."""
    EXPIRE = "expire"
    """The message's validity window is over: it ends ``expired`` rather than arrive late."""


def gate_decision(
    campaign_status: str | None, expires_at: datetime | None, now: datetime
) -> GateDecision:
    """What becomes of a claimed message. Pure.

    A cancelled campaign wins over everything (the user said stop); a message out of time
    ends ``expired`` even when its campaign is paused (resuming could not make it timely).
    Only ``paused`` and ``cancelled`` stop a send: a message of a completed or scheduled
    campaign is a redriven dead letter or a late retry of an earlier run, and is sent.
    """
    if campaign_status == CampaignStatus.CANCELLED:
        return GateDecision.CANCEL
    if expires_at is not None and expires_at <= now:
        return GateDecision.EXPIRE
    if campaign_status == CampaignStatus.PAUSED:
        return GateDecision.HOLD
    return GateDecision.SEND


@dataclass(frozen=True)
class _Known:
    status: str | None
    read_at: float


class CampaignStatusCache:
    """Campaign statuses read from MongoDB, each trusted for ``ttl_seconds``.

    Concurrent lookups of a campaign whose entry is stale share one read, so a burst of lanes
    of one campaign costs one query per period, not one per lane.
    """

    MAX_ENTRIES = 10_000
    """Past this many campaigns, entries out of date are dropped (they would be read again)."""

    def __init__(
        self,
        db: Database,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._campaigns = db[CAMPAIGNS]
        self._ttl = ttl_seconds
        self._clock = clock
        self._known: dict[str, _Known] = {}
        self._reading: dict[str, asyncio.Future[str | None]] = {}

    async def status(self, campaign_id: str) -> str | None:
        """The campaign's status as read at most ``ttl_seconds`` ago; None if there is no such
        campaign (or it has no status)."""
        known = self._known.get(campaign_id)
        if known is not None and self._clock() - known.read_at < self._ttl:
            return known.status
        return await self.fresh_status(campaign_id)

    async def fresh_status(self, campaign_id: str) -> str | None:
        """The campaign's status read now (joining a read already under way), cached."""
        reading = self._reading.get(campaign_id)
        if reading is not None:
            return await asyncio.shield(reading)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._reading[campaign_id] = future
        try:
            doc = await self._campaigns.find_one({"_id": campaign_id}, {"status": 1})
            status = None if doc is None else doc.get("status")
            self._remember(campaign_id, status)
            future.set_result(status)
            return status
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()  # retrieved: joiners get it, nobody else needs to
            raise
        finally:
            del self._reading[campaign_id]

    def _remember(self, campaign_id: str, status: str | None) -> None:
        now = self._clock()
        if len(self._known) >= self.MAX_ENTRIES:
            self._known = {c: k for c, k in self._known.items() if now - k.read_at < self._ttl}
        self._known[campaign_id] = _Known(status, now)


class CampaignGate:
    """The sender's check of a claimed message against its campaign and its validity window."""

    def __init__(self, statuses: CampaignStatusCache) -> None:
        self._statuses = statuses

    @classmethod
    def reading(cls, db: Database, *, cache_seconds: float) -> CampaignGate:
        return cls(CampaignStatusCache(db, ttl_seconds=cache_seconds))

    async def decide(
        self, campaign_id: str, expires_at: datetime | None, now: datetime
    ) -> GateDecision:
        """By the cached status (the check every send makes)."""
        return gate_decision(await self._statuses.status(campaign_id), expires_at, now)

    async def decide_fresh(
        self, campaign_id: str, expires_at: datetime | None, now: datetime
    ) -> GateDecision:
        """By the status read now (after a hand-back, to catch a resume or cancel that came
        while it was made)."""
        return gate_decision(await self._statuses.fresh_status(campaign_id), expires_at, now)
