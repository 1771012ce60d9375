"""How far a run's fan-out has published: the campaign's ``fanOut`` watermark.

The dispatcher walks a campaign's contacts in ``_id`` order and creates the messages of a running
campaign straight in ``queued``, before it publishes them: one write per message instead of an
insert and then a compare-and-set (which costs a MongoDB-wire server more than the insert). What
tells a published message from one whose publish was lost is then this watermark, advanced once
per batch after Kafka acknowledged the batch's records:

    campaigns.fanOut = {"run": 3, "through": "<the batch's last contact _id>", "at": <time>}

A ``queued`` message of that run, not handed back (no ``heldAt``), whose contact comes after
``through`` may never have been published. A fan-out that runs again (the launch record
redelivered after a crash) publishes those again; the sweep does when a fan-out stalled. A record
published twice is harmless: a sender claims each attempt once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from herald_infra.mongo.client import Document

FAN_OUT = "fanOut"


@dataclass(frozen=True)
class Watermark:
    """The fan-out of ``run`` published the messages of every contact up to ``through``."""

    run: int
    through: str | None = None
    at: datetime | None = None

    def covers(self, contact_id: str) -> bool:
        """True when the message of ``contact_id`` was published by this run's fan-out."""
        return self.through is not None and contact_id <= self.through

    def advanced(self, through: str, at: datetime) -> Watermark:
        """Past ``through`` too; never back (a fan-out run again walks covered contacts)."""
        if self.through is not None and through < self.through:
            through = self.through
        return Watermark(self.run, through, at)

    def to_document(self) -> Document:
        return {"run": self.run, "through": self.through, "at": self.at}


def watermark_of(campaign: Document, run: int) -> Watermark:
    """The stored watermark of ``run``'s fan-out; none published yet when another run's is
    stored (or none)."""
    stored = campaign.get(FAN_OUT) or {}
    if stored.get("run") != run:
        return Watermark(run)
    return Watermark(run, stored.get("through"), stored.get("at"))


def stalled_fan_out(campaign: Document, quiet_since: datetime) -> Watermark | None:
    """The watermark of a fan-out that started, did not finish (``dispatchedRun`` is behind its
    run) and has not moved since ``quiet_since``; None otherwise."""
    stored = campaign.get(FAN_OUT)
    if not stored or not isinstance(stored.get("run"), int):
        return None
    run = int(stored["run"])
    at = stored.get("at")
    if int(campaign.get("dispatchedRun") or 0) >= run:
        return None
    if not isinstance(at, datetime) or at > quiet_since:
        return None
    return Watermark(run, stored.get("through"), at)
