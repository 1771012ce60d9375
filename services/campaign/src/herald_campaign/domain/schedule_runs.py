"""When a schedule may be run now (``POST …/run``): never on top of a run still in progress.
Pure; no I/O.

A run is in progress while any of these holds:

- a run was requested and the scheduler has not fired it yet (``runRequestedAt``);
- a firing of the schedule is ``started`` in ``schedule_firings`` (the redrive or sweep under
  way, a campaign send's command not published yet, or a firing a dead replica left, which the
  next leader completes);
- for a campaign send, its campaign is ``running``: the run a firing started is still sending
  (the sweep ends it once every message has ended).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from herald_core.campaigns.lifecycle import CampaignStatus


def run_in_progress(
    schedule: Mapping[str, Any],
    *,
    started_firing: Mapping[str, Any] | None,
    campaign_status: str | None = None,
) -> str | None:
    """Why ``schedule`` cannot run now because a run of it is still in progress (None: it
    can). ``started_firing``: a ``started`` firing of it, if any; ``campaign_status``: its
    campaign's status, for a campaign send."""
    schedule_id = schedule["_id"]
    requested_at = schedule.get("runRequestedAt")
    if requested_at is not None:
        return (
            f"a run of {schedule_id} requested at {_instant(requested_at)} has not fired yet; "
            "it is not requested twice"
        )
    if started_firing is not None:
        return (
            f"a run of {schedule_id} is in progress (firing {started_firing['_id']}, started at "
            f"{_instant(started_firing.get('firedAt'))}); try again once it has ended"
        )
    if campaign_status == CampaignStatus.RUNNING.value:
        return (
            f"the run of campaign {schedule.get('campaignId')} started by {schedule_id} is "
            "still sending; try again once it has ended"
        )
    return None


def _instant(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
