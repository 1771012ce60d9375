"""When a schedule fires, under which id, and where it goes after: firing ids, missed slots,
daylight-saving changes, run requests, the loop's sleep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from herald_core.schedules import Firing, ScheduleKind, next_fire_time
from herald_scheduler.due_jobs import (
    DueFiring,
    FiringReason,
    Job,
    after_firing,
    due_firing,
    lateness_seconds,
    wait_seconds,
)

BERLIN = ZoneInfo("Europe/Berlin")


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def cron_job(next_run_at: datetime | None, **fields: object) -> Job:
    values: dict[str, object] = {
        "id": "sch_weekly",
        "kind": ScheduleKind.CAMPAIGN_SEND,
        "active": True,
        "cron": "0 9 * * MON",
        "timezone": "Europe/Berlin",
        "next_run_at": next_run_at,
        **fields,
    }
    return Job(**values)  # type: ignore[arg-type]


def one_shot(send_at: datetime, **fields: object) -> Job:
    values: dict[str, object] = {
        "id": "sch_once",
        "kind": ScheduleKind.CAMPAIGN_SEND,
        "active": True,
        "next_run_at": send_at,
        **fields,
    }
    return Job(**values)  # type: ignore[arg-type]


def test_a_firing_has_the_same_id_whoever_fires_it_and_another_for_another_time() -> None:
    due = at(2026, 6, 1, 7, 0)
    first, again = Firing("sch_a", due), Firing("sch_a", due.astimezone(BERLIN))
    assert first.firing_id == again.firing_id == "sch_a@2026-06-01T07:00:00.000000Z"
    assert first.command_event_id == again.command_event_id
    later = Firing("sch_a", due + timedelta(milliseconds=1))
    other_job = Firing("sch_b", due)
    ids = {first.firing_id, later.firing_id, other_job.firing_id}
    assert len(ids) == 3
    assert len({first.command_event_id, later.command_event_id, other_job.command_event_id}) == 3


def test_nothing_is_due_before_its_time_and_it_is_due_from_its_time_on() -> None:
    send_at = at(2026, 6, 1, 12, 0)
    job = one_shot(send_at)
    assert due_firing(job, send_at - timedelta(milliseconds=1)) is None
    assert due_firing(job, send_at) == DueFiring(Firing(job.id, send_at), FiringReason.SCHEDULED)
    assert due_firing(job, send_at + timedelta(hours=5)) == DueFiring(
        Firing(job.id, send_at), FiringReason.SCHEDULED
    )


def test_an_inactive_schedule_is_never_due_even_with_a_run_request() -> None:
    stopped = one_shot(at(2026, 6, 1), active=False, run_requested_at=at(2026, 6, 1))
    assert due_firing(stopped, at(2026, 7, 1)) is None


def test_a_one_shot_missed_during_downtime_fires_at_once_then_is_done() -> None:
    send_at = at(2026, 6, 1, 12, 0)
    now = send_at + timedelta(days=2)
    job = one_shot(send_at)
    due = due_firing(job, now)
    assert due is not None and due.firing.scheduled_for == send_at
    assert lateness_seconds(job, due, now) == 2 * 24 * 3600
    after = after_firing(job, due, now)
    assert (after.active, after.next_run_at) == (False, None)


def test_missed_recurring_slots_fire_once_then_the_next_slot_after_now() -> None:
    # Mondays 09:00 Berlin; the scheduler was down for three Mondays.
    first_missed = at(2026, 6, 1, 7, 0)  # Monday 09:00 CEST
    now = at(2026, 6, 17, 10, 0)  # a Wednesday, two more Mondays missed
    job = cron_job(first_missed)
    due = due_firing(job, now)
    assert due is not None and due.firing.scheduled_for == first_missed
    after = after_firing(job, due, now)
    assert after.active
    assert after.next_run_at == at(2026, 6, 22, 7, 0)  # the next Monday, once
    assert due_firing(cron_job(after.next_run_at), now) is None


def test_a_recurring_slot_fired_on_time_moves_to_the_next_slot() -> None:
    slot = at(2026, 6, 1, 7, 0)
    job = cron_job(slot)
    due = due_firing(job, slot + timedelta(milliseconds=80))
    assert due is not None
    assert after_firing(job, due, slot + timedelta(milliseconds=90)).next_run_at == at(
        2026, 6, 8, 7, 0
    )


def test_cron_times_follow_the_zone_across_daylight_saving_changes() -> None:
    # 09:00 Berlin is 08:00 UTC in winter and 07:00 UTC in summer (DST began 2026-03-29).
    before = next_fire_time("0 9 * * MON", "Europe/Berlin", at(2026, 3, 20))
    after = next_fire_time("0 9 * * MON", "Europe/Berlin", at(2026, 3, 28))
    assert before == at(2026, 3, 23, 8, 0)
    assert after == at(2026, 3, 30, 7, 0)
    # And back in October (DST ended 2026-10-25).
    assert next_fire_time("0 9 * * MON", "Europe/Berlin", at(2026, 10, 24)) == at(
        2026, 10, 26, 8, 0
    )


def test_a_daily_slot_in_the_skipped_hour_still_fires_once_that_day() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29; the job must neither vanish nor repeat.
    job = cron_job(at(2026, 3, 28, 1, 30), cron="30 2 * * *")
    due = due_firing(job, at(2026, 3, 28, 1, 30))
    assert due is not None
    following = after_firing(job, due, at(2026, 3, 28, 1, 30)).next_run_at
    assert following is not None
    assert at(2026, 3, 28, 2) < following < at(2026, 3, 30)
    assert following.astimezone(BERLIN).date().isoformat() in {"2026-03-29", "2026-03-30"}
    assert after_firing(
        job, DueFiring(Firing(job.id, following), FiringReason.SCHEDULED), following
    ).next_run_at == at(2026, 3, 30, 0, 30)


def test_a_seconds_field_cron_fires_every_few_seconds() -> None:
    start = at(2026, 6, 1, 12, 0, 0)
    job = cron_job(start, cron="* * * * * */5", timezone="UTC")
    due = due_firing(job, start)
    assert due is not None
    assert after_firing(job, due, start + timedelta(milliseconds=20)).next_run_at == start + (
        timedelta(seconds=5)
    )


def test_a_run_request_fires_under_its_own_id_and_keeps_a_recurring_jobs_next_slot() -> None:
    slot = at(2026, 6, 8, 7, 0)
    requested = at(2026, 6, 2, 10, 0, 0)
    job = cron_job(slot, run_requested_at=requested)
    due = due_firing(job, requested + timedelta(milliseconds=300))
    assert due == DueFiring(Firing(job.id, requested), FiringReason.REQUESTED)
    after = after_firing(job, due, requested + timedelta(milliseconds=300))
    assert (after.active, after.next_run_at) == (True, slot)


def test_a_run_request_replaces_a_one_shots_time() -> None:
    requested = at(2026, 6, 2, 10, 0)
    job = one_shot(at(2026, 6, 9, 10, 0), run_requested_at=requested)
    due = due_firing(job, requested)
    assert due is not None and due.reason is FiringReason.REQUESTED
    assert after_firing(job, due, requested).active is False


def test_a_due_slot_fires_before_a_waiting_run_request() -> None:
    slot = at(2026, 6, 8, 7, 0)
    job = cron_job(slot, run_requested_at=slot - timedelta(seconds=1))
    due = due_firing(job, slot)
    assert due is not None and due.reason is FiringReason.SCHEDULED


def test_the_loop_sleeps_until_the_next_run_but_never_longer_than_a_tick() -> None:
    now = at(2026, 6, 1, 12, 0, 0)
    assert wait_seconds(None, now, 0.25) == 0.25
    assert wait_seconds(now + timedelta(milliseconds=100), now, 0.25) == 0.1
    assert wait_seconds(now + timedelta(hours=1), now, 0.25) == 0.25
    assert wait_seconds(now - timedelta(seconds=3), now, 0.25) == 0.0


def test_a_job_reads_from_its_document() -> None:
    document = {
        "_id": "sch_system-sweep",
        "kind": "sweep",
        "tenantId": None,
        "cron": "*/5 * * * *",
        "timezone": "UTC",
        "active": True,
        "nextRunAt": at(2026, 6, 1, 12, 5),
    }
    job = Job.of(document)
    assert (job.kind, job.recurring, job.campaign_id) == (ScheduleKind.SWEEP, True, None)


def test_a_send_at_that_had_passed_when_given_is_not_late_when_it_fires_at_once() -> None:
    written = at(2026, 6, 1, 12, 0, 0)
    job = one_shot(at(2020, 1, 1), updated_at=written)
    due = due_firing(job, written + timedelta(milliseconds=150))
    assert due is not None and due.firing.scheduled_for == at(2020, 1, 1)
    assert lateness_seconds(job, due, written + timedelta(milliseconds=150)) == 0.15
    # A slot written long before it came is late against the slot.
    slot = at(2026, 6, 1, 13, 0)
    on_time = cron_job(slot, updated_at=written)
    assert (
        lateness_seconds(
            on_time,
            DueFiring(Firing(job.id, slot), FiringReason.SCHEDULED),
            slot + timedelta(seconds=2),
        )
        == 2
    )
