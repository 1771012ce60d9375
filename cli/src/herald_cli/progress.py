"""A campaign's progress from its status and message counts, and what a watcher does next.

Pure: the watch loop (watch.py) feeds it what the API said and acts on the verdict.

The campaign's status is the authority on its end: the scheduler's sweep marks a campaign
``completed`` once every message of its run has ended. The counts tell earlier that every
message ended; then a watcher may ask for the sweep now instead of waiting for its next turn
(every five minutes by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    NOT_SENT = "not-sent"
    """A draft: nothing to watch until it is sent."""
    WAITING = "waiting"
    """Scheduled, its first run not started."""
    SENDING = "sending"
    PAUSED = "paused"
    ALL_ENDED = "all-ended"
    """Every message of the run ended; the campaign is not marked completed yet."""
    COMPLETED = "completed"
    RUN_OVER = "run-over"
    """A recurring campaign's run ended; it waits for its next firing."""
    CANCELLED = "cancelled"


FINAL_VERDICTS = frozenset(
    {Verdict.NOT_SENT, Verdict.COMPLETED, Verdict.RUN_OVER, Verdict.CANCELLED}
)


@dataclass(frozen=True)
class Progress:
    campaign_id: str
    name: str
    status: str
    run: int
    expected: int
    """Messages the campaign makes over its runs so far: its contacts, once per run."""
    total: int
    """Messages made so far (the dispatcher may still be making them)."""
    pending: int
    sent: int
    """Sent, delivered or read."""
    delivered: int
    failed: int
    """Failed or expired."""
    cancelled: int
    success_rate: str

    @property
    def ended(self) -> int:
        """Messages that reached an end: sent, failed, expired or cancelled."""
        return self.total - self.pending

    @property
    def fraction(self) -> float:
        if self.expected <= 0:
            return 1.0 if self.all_ended else 0.0
        return min(self.ended / self.expected, 1.0)

    @property
    def all_ended(self) -> bool:
        """Every message of every run so far was made and reached an end."""
        return self.total >= self.expected and self.pending == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "campaignId": self.campaign_id,
            "name": self.name,
            "status": self.status,
            "run": self.run,
            "expected": self.expected,
            "total": self.total,
            "pending": self.pending,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "successRate": self.success_rate,
            "allEnded": self.all_ended,
        }


def _int(document: dict[str, Any], name: str) -> int:
    value = document.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def progress_of(campaign: dict[str, Any], stats: dict[str, Any]) -> Progress:
    """Progress from ``GET /api/campaigns/{id}`` and ``GET /api/messages/campaign/{id}/stats``."""
    total, pending = _int(stats, "total"), _int(stats, "pending")
    sent, failed = _int(stats, "sent"), _int(stats, "failed")
    run = _int(campaign, "run")
    contacts = _int(campaign, "contactCount")
    return Progress(
        campaign_id=str(campaign.get("id", "")),
        name=str(campaign.get("name", "")),
        status=str(campaign.get("status", "")),
        run=run,
        expected=max(total, contacts * max(run, 1)),
        total=total,
        pending=pending,
        sent=sent,
        delivered=_int(stats, "delivered"),
        failed=failed,
        cancelled=max(total - pending - sent - failed, 0),
        success_rate=str(stats.get("successRate", "0.00")),
    )


def verdict(progress: Progress) -> Verdict:
    status = progress.status
    if status == "completed":
        return Verdict.COMPLETED
    if status == "cancelled":
        return Verdict.CANCELLED
    if status == "draft":
        return Verdict.NOT_SENT
    if status == "scheduled":
        return Verdict.RUN_OVER if progress.run >= 1 and progress.all_ended else Verdict.WAITING
    if status == "paused":
        return Verdict.PAUSED
    if status == "running" and progress.all_ended:
        return Verdict.ALL_ENDED
    return Verdict.SENDING
