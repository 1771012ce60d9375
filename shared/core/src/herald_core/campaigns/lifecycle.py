"""The campaign lifecycle, in listmonk's names: which operation may move a campaign from which
status to which. Pure; no I/O.

::

    draft ─send─► running ─pause─► paused ─resume─► running ─(every message done)─► completed
      └─send at / cron─► scheduled ─(fires)─► running ─(run done, cron goes on)─► scheduled
    draft | scheduled | running | paused ─cancel─► cancelled

A recurring (cron) campaign is ``scheduled`` between its runs and ``running`` during one; a
firing that comes while a run is still going starts the next run alongside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class CampaignAction(StrEnum):
    """What a user (or the system) asks of a campaign."""

    SEND = "send"
    """Send now (draft) — or start the next run of a schedule that fired."""
    SCHEDULE = "schedule"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    UNSCHEDULE = "unschedule"
    """Its schedule was stopped before it fired (back to draft)."""


C = CampaignStatus
A = CampaignAction

ALLOWED_FROM: dict[CampaignAction, frozenset[CampaignStatus]] = {
    A.SEND: frozenset({C.DRAFT}),
    A.SCHEDULE: frozenset({C.DRAFT}),
    A.PAUSE: frozenset({C.RUNNING}),
    A.RESUME: frozenset({C.PAUSED}),
    A.CANCEL: frozenset({C.DRAFT, C.SCHEDULED, C.RUNNING, C.PAUSED}),
    A.UNSCHEDULE: frozenset({C.SCHEDULED}),
}

TARGET: dict[CampaignAction, CampaignStatus] = {
    A.SEND: C.RUNNING,
    A.SCHEDULE: C.SCHEDULED,
    A.PAUSE: C.PAUSED,
    A.RESUME: C.RUNNING,
    A.CANCEL: C.CANCELLED,
    A.UNSCHEDULE: C.DRAFT,
}

RUN_STARTABLE_FROM: frozenset[CampaignStatus] = frozenset({C.SCHEDULED, C.RUNNING})
"""Statuses in which a schedule's firing starts a run (a paused or cancelled campaign's firing
is skipped)."""

FINISHED_STATUSES: frozenset[CampaignStatus] = frozenset({C.COMPLETED, C.CANCELLED})


@dataclass(frozen=True)
class LifecycleRefusal:
    """Why an action does not apply; the API answers 409 with it."""

    reason: str
    """Machine-readable, e.g. ``campaign-not-running``."""
    message: str


def refusal(action: CampaignAction, status: CampaignStatus) -> LifecycleRefusal | None:
    """None if ``action`` applies to a campaign in ``status``; otherwise why not."""
    if status in ALLOWED_FROM[action]:
        return None
    if action is A.SEND and status is C.RUNNING:
        return LifecycleRefusal("already-running", "campaign is already running")
    if status in FINISHED_STATUSES:
        return LifecycleRefusal(
            f"campaign-{status.value}", f"campaign is {status.value}; it cannot {action.value}"
        )
    allowed = ", ".join(sorted(s.value for s in ALLOWED_FROM[action]))
    return LifecycleRefusal(
        f"campaign-{status.value}",
        f"cannot {action.value} a {status.value} campaign (only: {allowed})",
    )


def status_after_run(*, schedule_active: bool) -> CampaignStatus:
    """Where a campaign goes when every message of its current run is done."""
    return C.SCHEDULED if schedule_active else C.COMPLETED
