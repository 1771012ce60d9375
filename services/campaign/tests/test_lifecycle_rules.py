"""Pause, resume and cancel: which requests are refused (with which reason), and when a
request finishes a change that already applied instead (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from herald_campaign.domain.lifecycle import (
    LIFECYCLE_CHANGE,
    cancel_fields,
    change_record,
    is_repeat,
    pause_fields,
    resume_fields,
)
from herald_core.campaigns.lifecycle import CampaignAction, CampaignStatus, refusal

AT = datetime(2026, 5, 20, 12, tzinfo=UTC)
A = CampaignAction
C = CampaignStatus


@pytest.mark.parametrize(
    ("action", "status", "reason", "says"),
    [
        (A.PAUSE, C.DRAFT, "campaign-draft", "cannot pause a draft campaign (only: running)"),
        (A.PAUSE, C.PAUSED, "campaign-paused", "cannot pause a paused campaign"),
        (A.RESUME, C.RUNNING, "campaign-running", "cannot resume a running campaign"),
        (A.RESUME, C.CANCELLED, "campaign-cancelled", "campaign is cancelled; it cannot resume"),
        (A.CANCEL, C.COMPLETED, "campaign-completed", "campaign is completed; it cannot cancel"),
        (A.CANCEL, C.CANCELLED, "campaign-cancelled", "campaign is cancelled"),
    ],
)
def test_requests_the_status_rules_out_are_refused_with_the_reason(
    action: CampaignAction, status: CampaignStatus, reason: str, says: str
) -> None:
    refused = refusal(action, status)
    assert refused is not None
    assert refused.reason == reason
    assert says in refused.message


@pytest.mark.parametrize(
    ("action", "statuses"),
    [
        (A.PAUSE, [C.RUNNING]),
        (A.RESUME, [C.PAUSED]),
        (A.CANCEL, [C.DRAFT, C.SCHEDULED, C.RUNNING, C.PAUSED]),
    ],
)
def test_the_lifecycle_allows_what_a_user_expects(
    action: CampaignAction, statuses: list[CampaignStatus]
) -> None:
    assert [s for s in C if refusal(action, s) is None] == statuses


def changed(
    action: CampaignAction, *, published: bool, command_id: str | None
) -> dict[str, object]:
    record = change_record(action, event_id="evt", command_id=command_id, at=AT)
    if published:
        record["publishedAt"] = AT
    targets = {A.PAUSE: "paused", A.RESUME: "running", A.CANCEL: "cancelled"}
    return {"status": targets[action], LIFECYCLE_CHANGE: record}


def test_a_change_whose_event_was_not_published_is_finished_by_the_next_request() -> None:
    campaign = changed(A.PAUSE, published=False, command_id=None)
    assert is_repeat(campaign, A.PAUSE, None)
    assert is_repeat(campaign, A.PAUSE, "another-command")


def test_a_command_delivered_again_finishes_its_change_even_when_published() -> None:
    campaign = changed(A.CANCEL, published=True, command_id="cmd-1")
    assert is_repeat(campaign, A.CANCEL, "cmd-1")
    # Another request for a change that is done is refused by the status rules.
    assert not is_repeat(campaign, A.CANCEL, "cmd-2")
    assert not is_repeat(campaign, A.CANCEL, None)


def test_a_request_for_another_action_or_status_is_no_repeat() -> None:
    paused = changed(A.PAUSE, published=False, command_id="cmd-1")
    assert not is_repeat(paused, A.RESUME, "cmd-1")
    assert not is_repeat(paused, A.CANCEL, "cmd-1")
    # Resumed since: the pause's change record is gone, the status moved on.
    assert not is_repeat({**paused, "status": "running"}, A.PAUSE, "cmd-1")
    assert not is_repeat({"status": "paused"}, A.PAUSE, None)  # paused before records existed


def test_what_each_change_records() -> None:
    assert pause_fields("system", "80% failed", AT) == {
        "pausedAt": AT,
        "pausedBy": "system",
        "pauseReason": "80% failed",
    }
    counts = {"total": 10, "sent": 4, "queued": 6}
    resumed = resume_fields(counts, AT)
    assert resumed == {"resumedAt": AT, "countsAtResume": counts}
    assert resumed["countsAtResume"] is not counts  # a snapshot, not the live mapping
    assert resume_fields(None, AT)["countsAtResume"] == {}
    assert cancel_fields(None, AT) == {"cancelledAt": AT, "cancelReason": None}
