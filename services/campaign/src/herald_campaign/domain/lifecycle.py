"""Pause, resume and cancel: what each records on the campaign, and when a request repeats one
that already applied. Pure; no I/O. Which status allows which action is
:mod:`herald_core.campaigns.lifecycle`.

Each change records itself on the campaign as ``lifecycleChange`` (action, event id, command
id, time, ``publishedAt`` once its event is on Kafka). A request for the same action that finds
its change applied but not announced (Kafka refused, the process died), or a command delivered
again, finishes that change instead of being refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from herald_core.campaigns.lifecycle import TARGET, CampaignAction

LIFECYCLE_CHANGE = "lifecycleChange"

PausedBy = Literal["user", "system"]


def change_record(
    action: CampaignAction, *, event_id: str, command_id: str | None, at: datetime
) -> dict[str, Any]:
    """The ``lifecycleChange`` a change stores with the campaign's new status."""
    return {
        "action": action.value,
        "eventId": event_id,
        "commandId": command_id,
        "at": at,
        "publishedAt": None,
    }


def is_repeat(campaign: Mapping[str, Any], action: CampaignAction, command_id: str | None) -> bool:
    """True when ``action`` already moved the campaign where it is and this request should
    finish that change (publish its event again) rather than be refused: its event was never
    published, or this is the same command delivered again."""
    if campaign.get("status") != TARGET[action].value:
        return False
    change = campaign.get(LIFECYCLE_CHANGE) or {}
    if change.get("action") != action.value:
        return False
    if change.get("publishedAt") is None:
        return True
    return command_id is not None and change.get("commandId") == command_id


def pause_fields(by: PausedBy, reason: str | None, at: datetime) -> dict[str, Any]:
    """What a pause records next to the status."""
    return {"pausedAt": at, "pausedBy": by, "pauseReason": reason}


def resume_fields(counts: Mapping[str, int] | None, at: datetime) -> dict[str, Any]:
    """What a resume records: when, and the campaign's counts at that moment (the automatic
    pause of the scheduler's sweep judges only what ended after it)."""
    return {"resumedAt": at, "countsAtResume": dict(counts or {})}


def cancel_fields(reason: str | None, at: datetime) -> dict[str, Any]:
    return {"cancelledAt": at, "cancelReason": reason}
