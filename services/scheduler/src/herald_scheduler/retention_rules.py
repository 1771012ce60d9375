"""Which campaign run's messages are due for archiving, and what an archive of them holds.
Pure; no I/O.

A run's messages stay in MongoDB for its tenant's retention (``messageRetentionDays``, default
``HERALD_MESSAGE_RETENTION_DAYS``) after the run ended; then they are archived and deleted.
Runs are archived in order, one at a time, so a campaign's archived runs are always runs 1 to
``archive.throughRun``.

When a run ended:

- a run the sweep ended is recorded in ``campaign_runs`` with its ``endedAt``;
- the latest ended run is on the campaign too (``runCompletion``: ``run`` and ``at``);
- a cancelled campaign's current run ended when it was cancelled (``cancelledAt``);
- a run that ended before runs were recorded ended no later than the campaign's latest
  recorded end, which stands for it (later than the truth: kept longer, never shorter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from herald_core.campaigns.lifecycle import CampaignStatus
from herald_core.messages.states import MessageStatus
from herald_gateways.failures import NOT_ON_WHATSAPP


def campaign_run_id(campaign_id: str, run: int) -> str:
    """The ``campaign_runs`` id of one run of a campaign."""
    return f"{campaign_id}|{run}"


def archived_through(campaign: Mapping[str, Any]) -> int:
    """The last run whose messages are archived (0: none)."""
    return int((campaign.get("archive") or {}).get("throughRun") or 0)


def run_being_archived(campaign: Mapping[str, Any]) -> int | None:
    """The run whose archive is written but whose messages are not all deleted yet (a pass
    stopped half-way): the next pass finishes it before anything else. None: no such run."""
    archive = campaign.get("archive") or {}
    through = archived_through(campaign)
    if through >= 1 and archive.get("archivedAt") is None:
        return through
    return None


@dataclass(frozen=True)
class EndedRun:
    run: int
    ended_at: datetime


def latest_ended_run(campaign: Mapping[str, Any]) -> EndedRun | None:
    """The campaign's latest run that has ended, and when; None while none has."""
    completion = campaign.get("runCompletion") or {}
    ended: EndedRun | None = None
    if isinstance(completion.get("run"), int) and isinstance(completion.get("at"), datetime):
        ended = EndedRun(completion["run"], _aware(completion["at"]))
    run = int(campaign.get("run") or 0)
    cancelled_at = campaign.get("cancelledAt")
    if (
        campaign.get("status") == CampaignStatus.CANCELLED.value
        and run >= 1
        and isinstance(cancelled_at, datetime)
        and (ended is None or ended.run < run)
    ):
        ended = EndedRun(run, _aware(cancelled_at))
    return ended


def next_run_to_archive(
    campaign: Mapping[str, Any],
    *,
    recorded_end: datetime | None,
    retention_days: float,
    now: datetime,
) -> int | None:
    """The run of ``campaign`` to archive now: the one after its archived runs, once it ended
    more than ``retention_days`` before ``now``; None when nothing is due.

    ``recorded_end``: that run's ``endedAt`` in ``campaign_runs``, if the sweep recorded it.
    """
    latest = latest_ended_run(campaign)
    run = archived_through(campaign) + 1
    if latest is None or run > latest.run:
        return None
    ended_at = _aware(recorded_end) if recorded_end is not None else latest.ended_at
    if ended_at + timedelta(days=retention_days) > _aware(now):
        return None
    return run


def retention_days_of(tenant_id: str, overrides: Mapping[str, int], default_days: float) -> float:
    """The tenant's retention: an operator's override, else the deployment's default."""
    return overrides.get(tenant_id, default_days)


@dataclass
class ArchiveFigures:
    """What an archive file holds, counted as its lines are written."""

    messages: int = 0
    not_on_whatsapp: int = 0
    counts: dict[str, int] | None = None

    def add(self, message: Mapping[str, Any]) -> None:
        self.messages += 1
        if self.counts is None:
            self.counts = {}
        status = str(message.get("status"))
        self.counts[status] = self.counts.get(status, 0) + 1
        if status == MessageStatus.FAILED.value and message.get("failedReason") == NOT_ON_WHATSAPP:
            self.not_on_whatsapp += 1

    def frozen_counts(self) -> dict[str, int]:
        """Per status (every status listed), plus ``total``."""
        counts = {
            status.value: (self.counts or {}).get(status.value, 0) for status in MessageStatus
        }
        counts["total"] = self.messages
        return counts


def _aware(moment: datetime) -> datetime:
    # MongoDB hands back naive UTC datetimes unless the client is told otherwise.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
