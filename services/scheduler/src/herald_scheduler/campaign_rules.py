"""The sweep's rules about campaigns: when a run is over and how it ended, and when a campaign
fails so badly that Herald pauses it by itself. Pure; no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from herald_core.campaigns.lifecycle import CampaignStatus
from herald_core.messages.states import TERMINAL_STATUSES, MessageStatus

S = MessageStatus

UNFINISHED_STATUSES: tuple[MessageStatus, ...] = tuple(
    s for s in MessageStatus if s not in TERMINAL_STATUSES
)
"""Statuses of a message Herald still has work for."""
SENT_STATUSES: tuple[MessageStatus, ...] = (S.SENT, S.DELIVERED, S.READ)
GATEWAY_OUTCOMES: tuple[MessageStatus, ...] = (*SENT_STATUSES, S.FAILED)
"""Ends a gateway decided (sent, or failed after the attempt plan); the automatic pause judges
these. Expired and cancelled messages say nothing about the number or the gateway."""


def run_event_id(kind: str, campaign_id: str, run: int) -> str:
    """The ``event_id`` of an event about one run of a campaign (completed, failed): the same
    whichever sweep publishes it, however often."""
    return hashlib.sha256(f"{kind}|{campaign_id}|{run}".encode()).hexdigest()[:32]


def run_is_over(campaign: Mapping[str, Any], *, unfinished_messages: bool) -> bool:
    """A ``running`` campaign's current run is over when the dispatcher made all of its
    messages (``dispatchedRun == run``) and none of the campaign's messages is unfinished."""
    run = int(campaign.get("run") or 0)
    return (
        campaign.get("status") == CampaignStatus.RUNNING.value
        and run >= 1
        and int(campaign.get("dispatchedRun") or 0) == run
        and not unfinished_messages
    )


class RunEnd(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class RunVerdict:
    end: RunEnd
    reason: str | None = None


def run_verdict(run_counts: Mapping[str, int]) -> RunVerdict:
    """How a finished run ended: ``failed`` when not one of its messages was sent and some
    failed or expired, else ``completed``."""
    sent = sum(int(run_counts.get(s.value, 0)) for s in SENT_STATUSES)
    failed = int(run_counts.get(S.FAILED.value, 0))
    expired = int(run_counts.get(S.EXPIRED.value, 0))
    if sent == 0 and failed + expired > 0:
        return RunVerdict(
            RunEnd.FAILED,
            f"not one message of the run was sent: {failed} failed, {expired} expired",
        )
    return RunVerdict(RunEnd.COMPLETED)


def counts_baseline(campaign: Mapping[str, Any]) -> Mapping[str, int]:
    """The campaign's counts at its latest launch or resume, whichever came last (none
    recorded: zeros, a first launch)."""
    launched_at = campaign.get("launchedAt")
    resumed_at = campaign.get("resumedAt")
    resumed_last = isinstance(resumed_at, datetime) and (
        not isinstance(launched_at, datetime) or resumed_at > launched_at
    )
    if resumed_last and campaign.get("countsAtResume") is not None:
        return dict(campaign["countsAtResume"])
    return dict(campaign.get("countsAtLaunch") or {})


def baseline_moment(campaign: Mapping[str, Any]) -> str:
    """When the baseline was taken (ISO 8601): one automatic pause per launch or resume."""
    launched_at = campaign.get("launchedAt")
    resumed_at = campaign.get("resumedAt")
    if isinstance(resumed_at, datetime) and (
        not isinstance(launched_at, datetime) or resumed_at > launched_at
    ):
        return resumed_at.isoformat()
    return launched_at.isoformat() if isinstance(launched_at, datetime) else "launch"


@dataclass(frozen=True)
class AutoPause:
    ended: int
    failed: int
    reason: str


def auto_pause_verdict(
    campaign: Mapping[str, Any], *, min_attempts: int, failure_ratio: float
) -> AutoPause | None:
    """Whether the sweep should pause a running campaign by itself: at least ``min_attempts``
    of its messages ended at a gateway (sent or failed) since its latest launch or resume, and
    at least ``failure_ratio`` of those failed."""
    if campaign.get("status") != CampaignStatus.RUNNING.value:
        return None
    counts = campaign.get("counts") or {}
    baseline = counts_baseline(campaign)

    def since(status: MessageStatus) -> int:
        return max(0, int(counts.get(status.value, 0)) - int(baseline.get(status.value, 0)))

    ended = sum(since(s) for s in GATEWAY_OUTCOMES)
    failed = since(S.FAILED)
    if ended < min_attempts or failed < failure_ratio * ended:
        return None
    return AutoPause(
        ended=ended,
        failed=failed,
        reason=(
            f"paused by the system: {failed} of the last {ended} messages failed "
            f"({failed / ended:.0%}, the limit is {failure_ratio:.0%})"
        ),
    )


def auto_pause_event_id(campaign: Mapping[str, Any]) -> str:
    """The ``event_id`` of the automatic pause of a campaign's launch or resume: the sweep may
    publish it at every pass until it applies; the campaign service acts on it once."""
    parts = f"{campaign['_id']}|{campaign.get('run') or 0}|{baseline_moment(campaign)}"
    return hashlib.sha256(f"campaign.pause.system|{parts}".encode()).hexdigest()[:32]
