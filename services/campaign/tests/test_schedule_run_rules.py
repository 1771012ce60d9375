"""When a schedule may be run now: never on top of a run still in progress."""

from __future__ import annotations

from datetime import UTC, datetime

from herald_campaign.domain.schedule_runs import run_in_progress

AT = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
JOB = {"_id": "sch_system-redrive", "kind": "redrive", "active": True}
SEND = {"_id": "sch_cmp_1", "kind": "campaign-send", "campaignId": "cmp_1", "active": True}


def test_a_schedule_with_nothing_under_way_may_run() -> None:
    assert run_in_progress(JOB, started_firing=None) is None
    assert run_in_progress(SEND, started_firing=None, campaign_status="scheduled") is None
    assert run_in_progress(SEND, started_firing=None, campaign_status=None) is None


def test_a_run_asked_for_and_not_fired_is_in_progress() -> None:
    refusal = run_in_progress({**JOB, "runRequestedAt": AT}, started_firing=None)
    assert refusal == (
        "a run of sch_system-redrive requested at 2026-05-01T09:00:00+00:00 has not fired "
        "yet; it is not requested twice"
    )


def test_a_started_firing_is_in_progress() -> None:
    firing = {"_id": "sch_system-redrive@2026-05-01T09:00:00.000000Z", "firedAt": AT}
    refusal = run_in_progress(JOB, started_firing=firing)
    assert refusal is not None
    assert "firing sch_system-redrive@2026-05-01T09:00:00.000000Z" in refusal
    assert "started at 2026-05-01T09:00:00+00:00" in refusal


def test_a_campaign_sends_run_is_in_progress_while_the_campaign_runs() -> None:
    refusal = run_in_progress(SEND, started_firing=None, campaign_status="running")
    assert refusal == (
        "the run of campaign cmp_1 started by sch_cmp_1 is still sending; try again once it "
        "has ended"
    )
    # Paused, its firing would be skipped anyway: not a run in progress.
    assert run_in_progress(SEND, started_firing=None, campaign_status="paused") is None
