"""A campaign's schedule as a user asks for it: its first run, its validity window, what
stopping it does to the campaign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from herald_campaign.domain.schedules import (
    SendSchedule,
    first_run_at,
    schedule_fields,
    status_when_stopped,
    window_closed_before,
)
from herald_core.campaigns.lifecycle import CampaignStatus

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_send_at_runs_at_its_time_in_utc_even_when_it_has_passed() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    later = SendSchedule(send_at=datetime(2026, 6, 1, 20, 0, tzinfo=ist))
    assert first_run_at(later, NOW) == datetime(2026, 6, 1, 14, 30, tzinfo=UTC)
    passed = SendSchedule(send_at=NOW - timedelta(hours=1))
    assert first_run_at(passed, NOW) == NOW - timedelta(hours=1)


def test_a_cron_runs_first_at_its_next_firing_in_its_zone() -> None:
    weekly = SendSchedule(cron="0 9 * * MON", timezone="Europe/Berlin")
    assert first_run_at(weekly, NOW) == datetime(2026, 6, 8, 7, 0, tzinfo=UTC)
    assert weekly.recurring


def test_a_schedule_is_a_time_or_a_cron_with_an_offset() -> None:
    with pytest.raises(ValueError):
        SendSchedule()
    with pytest.raises(ValueError):
        SendSchedule(send_at=NOW, cron="* * * * *")
    with pytest.raises(ValueError):
        SendSchedule(send_at=datetime(2026, 6, 1, 12, 0))


def test_an_absolute_validity_end_before_the_first_run_closes_the_window() -> None:
    campaign: dict[str, object] = {"expiresAt": NOW + timedelta(hours=1)}
    assert window_closed_before(campaign, NOW + timedelta(hours=2)) == NOW + timedelta(hours=1)
    assert window_closed_before(campaign, NOW + timedelta(minutes=30)) is None
    per_run: dict[str, object] = {"validForSeconds": 600}
    assert window_closed_before(per_run, NOW + timedelta(days=30)) is None


def test_the_stored_schedule_replaces_an_earlier_one_of_the_other_kind() -> None:
    fields, unset = schedule_fields("t", "cmp_1", SendSchedule(send_at=NOW), NOW)
    assert fields["sendAt"] == NOW and fields["active"] is True and "cron" in unset
    fields, unset = schedule_fields(
        "t", "cmp_1", SendSchedule(cron="0 9 * * *", timezone="Asia/Kolkata"), NOW
    )
    assert (fields["cron"], fields["timezone"]) == ("0 9 * * *", "Asia/Kolkata")
    assert "sendAt" in unset and "runRequestedAt" in unset


def test_stopping_a_schedule_unschedules_a_campaign_that_never_ran() -> None:
    assert status_when_stopped("scheduled", 0) is CampaignStatus.DRAFT


def test_stopping_a_recurring_schedule_between_runs_completes_the_campaign() -> None:
    assert status_when_stopped("scheduled", 3) is CampaignStatus.COMPLETED


def test_stopping_leaves_other_statuses_alone() -> None:
    for status in ("running", "paused", "cancelled", "completed", "draft"):
        assert status_when_stopped(status, 1) is None
