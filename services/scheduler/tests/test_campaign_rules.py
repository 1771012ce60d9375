"""The sweep's rules: when a campaign's run is over and how it ended; when Herald pauses a
failing campaign by itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from herald_core.campaigns.lifecycle import CampaignStatus, status_after_run
from herald_core.messages.states import MessageStatus
from herald_scheduler.campaign_rules import (
    UNFINISHED_STATUSES,
    RunEnd,
    auto_pause_event_id,
    auto_pause_verdict,
    counts_baseline,
    run_event_id,
    run_is_over,
    run_verdict,
)

LAUNCHED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def campaign(**fields: Any) -> dict[str, Any]:
    return {
        "_id": "cmp_1",
        "status": "running",
        "run": 1,
        "dispatchedRun": 1,
        "launchedAt": LAUNCHED,
        "counts": {},
        **fields,
    }


def test_unfinished_statuses_are_the_ones_herald_still_works_on() -> None:
    assert set(UNFINISHED_STATUSES) == {
        MessageStatus.PENDING,
        MessageStatus.QUEUED,
        MessageStatus.SENDING,
        MessageStatus.RETRYING,
    }


def test_a_dispatched_run_with_every_message_done_is_over() -> None:
    assert run_is_over(campaign(), unfinished_messages=False)


def test_a_run_with_a_message_still_unfinished_is_not_over() -> None:
    assert not run_is_over(campaign(), unfinished_messages=True)


def test_a_run_the_dispatcher_has_not_finished_making_is_not_over() -> None:
    assert not run_is_over(campaign(run=2, dispatchedRun=1), unfinished_messages=False)
    assert not run_is_over(campaign(dispatchedRun=None), unfinished_messages=False)


def test_only_a_running_campaign_completes() -> None:
    for status in ("paused", "scheduled", "cancelled", "draft", "completed"):
        assert not run_is_over(campaign(status=status), unfinished_messages=False)


def test_a_run_goes_back_to_scheduled_while_its_recurring_schedule_is_active() -> None:
    assert status_after_run(schedule_active=True) is CampaignStatus.SCHEDULED
    assert status_after_run(schedule_active=False) is CampaignStatus.COMPLETED


def test_a_run_that_sent_something_completed() -> None:
    assert run_verdict({"sent": 1, "failed": 9}).end is RunEnd.COMPLETED
    assert run_verdict({"read": 1, "expired": 3}).end is RunEnd.COMPLETED
    assert run_verdict({}).end is RunEnd.COMPLETED  # nothing to send, nothing failed


def test_a_run_that_sent_nothing_and_failed_failed_with_the_counts_in_the_reason() -> None:
    verdict = run_verdict({"failed": 4, "expired": 1, "cancelled": 2})
    assert verdict.end is RunEnd.FAILED
    assert verdict.reason is not None
    assert "4 failed" in verdict.reason and "1 expired" in verdict.reason


def test_a_run_of_cancelled_messages_only_completed() -> None:
    assert run_verdict({"cancelled": 3}).end is RunEnd.COMPLETED


def test_run_event_ids_are_the_same_for_the_same_run_only() -> None:
    assert run_event_id("campaign.completed", "c", 1) == run_event_id("campaign.completed", "c", 1)
    ids = {
        run_event_id("campaign.completed", "c", 1),
        run_event_id("campaign.completed", "c", 2),
        run_event_id("campaign.failed", "c", 1),
        run_event_id("campaign.completed", "d", 1),
    }
    assert len(ids) == 4


def test_failures_below_the_minimum_number_of_ended_messages_do_not_pause() -> None:
    running = campaign(counts={"failed": 19})
    assert auto_pause_verdict(running, min_attempts=20, failure_ratio=0.8) is None


def test_a_failed_share_at_the_limit_pauses_with_a_reason() -> None:
    running = campaign(counts={"failed": 16, "sent": 2, "delivered": 1, "read": 1})
    verdict = auto_pause_verdict(running, min_attempts=20, failure_ratio=0.8)
    assert verdict is not None
    assert (verdict.ended, verdict.failed) == (20, 16)
    assert "16 of the last 20" in verdict.reason and "paused by the system" in verdict.reason


def test_a_failed_share_below_the_limit_does_not_pause() -> None:
    running = campaign(counts={"failed": 15, "sent": 5})
    assert auto_pause_verdict(running, min_attempts=20, failure_ratio=0.8) is None


def test_expired_cancelled_and_unsent_messages_are_not_judged() -> None:
    running = campaign(counts={"failed": 10, "expired": 50, "cancelled": 50, "queued": 100})
    assert auto_pause_verdict(running, min_attempts=20, failure_ratio=0.5) is None


def test_only_what_ended_since_the_last_resume_counts() -> None:
    resumed = campaign(
        counts={"failed": 30, "sent": 5},
        resumedAt=LAUNCHED + timedelta(minutes=5),
        countsAtResume={"failed": 25, "sent": 0},
    )
    # Since the resume: 5 failed, 5 sent.
    assert auto_pause_verdict(resumed, min_attempts=5, failure_ratio=0.8) is None
    assert auto_pause_verdict(resumed, min_attempts=5, failure_ratio=0.5) is not None
    assert auto_pause_verdict(resumed, min_attempts=11, failure_ratio=0.1) is None


def test_a_new_run_judges_from_its_own_launch_even_after_an_older_resume() -> None:
    next_run = campaign(
        run=2,
        launchedAt=LAUNCHED + timedelta(days=7),
        resumedAt=LAUNCHED + timedelta(minutes=5),
        countsAtResume={"failed": 0},
        countsAtLaunch={"failed": 40, "sent": 0},
        counts={"failed": 41, "sent": 9},
    )
    assert counts_baseline(next_run) == {"failed": 40, "sent": 0}
    assert auto_pause_verdict(next_run, min_attempts=5, failure_ratio=0.5) is None


def test_a_paused_campaign_is_not_paused_again() -> None:
    paused = campaign(status="paused", counts={"failed": 100})
    assert auto_pause_verdict(paused, min_attempts=1, failure_ratio=0.1) is None


def test_the_automatic_pause_command_has_one_id_per_launch_or_resume() -> None:
    launched = campaign()
    assert auto_pause_event_id(launched) == auto_pause_event_id(dict(launched))
    resumed = campaign(resumedAt=LAUNCHED + timedelta(minutes=1), countsAtResume={})
    next_run = campaign(run=2, launchedAt=LAUNCHED + timedelta(days=1))
    ids = {auto_pause_event_id(c) for c in (launched, resumed, next_run)}
    assert len(ids) == 3
