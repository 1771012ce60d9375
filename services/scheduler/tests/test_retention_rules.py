"""Which campaign run is due for archiving, and what an archive's figures say. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from herald_scheduler.message_archive import archive_directory, archive_key
from herald_scheduler.retention_rules import (
    ArchiveFigures,
    latest_ended_run,
    next_run_to_archive,
    retention_days_of,
    run_being_archived,
)

ENDED = datetime(2026, 1, 1, tzinfo=UTC)


def completed(run: int = 1, **fields: Any) -> dict[str, Any]:
    return {"status": "completed", "run": run, "runCompletion": {"run": run, "at": ENDED}, **fields}


def due(
    campaign: dict[str, Any],
    *,
    days: float = 90,
    after: timedelta,
    recorded: datetime | None = None,
) -> int | None:
    return next_run_to_archive(
        campaign, recorded_end=recorded, retention_days=days, now=ENDED + after
    )


def test_a_run_is_due_once_it_ended_longer_ago_than_the_retention() -> None:
    assert due(completed(), after=timedelta(days=89, hours=23)) is None
    assert due(completed(), after=timedelta(days=90)) == 1
    assert due(completed(), days=0, after=timedelta(0)) == 1


def test_a_run_not_ended_is_never_due() -> None:
    running = {"status": "running", "run": 1}
    assert latest_ended_run(running) is None
    assert due(running, days=0, after=timedelta(days=400)) is None
    # A recurring campaign sending run 3 after run 2 ended: run 3 is not due, run 2 may be.
    recurring = {"status": "running", "run": 3, "runCompletion": {"run": 2, "at": ENDED}}
    archived_one = {**recurring, "archive": {"throughRun": 1, "archivedAt": ENDED}}
    assert due(archived_one, days=1, after=timedelta(days=2)) == 2
    done_two = {**recurring, "archive": {"throughRun": 2, "archivedAt": ENDED}}
    assert due(done_two, days=0, after=timedelta(days=400)) is None


def test_runs_are_archived_in_order_each_by_its_recorded_end() -> None:
    campaign = completed(run=3)
    # Run 1 ended long before the latest run; its recorded end decides.
    early = ENDED - timedelta(days=60)
    assert due(campaign, days=30, after=timedelta(days=1), recorded=early) == 1
    # Without a record, the latest end stands for it: kept longer, never shorter.
    assert due(campaign, days=30, after=timedelta(days=1)) is None


def test_a_cancelled_campaign_s_run_ended_when_it_was_cancelled() -> None:
    cancelled = {"status": "cancelled", "run": 1, "cancelledAt": ENDED}
    assert latest_ended_run(cancelled) is not None
    assert due(cancelled, days=7, after=timedelta(days=7)) == 1
    assert due({"status": "cancelled", "run": 0}, days=0, after=timedelta(days=9)) is None


def test_a_run_half_archived_is_finished_first() -> None:
    assert run_being_archived(completed(archive={"throughRun": 2, "archivedAt": None})) == 2
    assert run_being_archived(completed(archive={"throughRun": 2, "archivedAt": ENDED})) is None
    assert run_being_archived(completed()) is None


def test_a_tenant_s_override_beats_the_default() -> None:
    assert retention_days_of("t1", {"t1": 7}, 90) == 7
    assert retention_days_of("t2", {"t1": 7}, 90) == 90


def test_archive_figures_count_statuses_and_numbers_not_on_whatsapp() -> None:
    figures = ArchiveFigures()
    for message in (
        {"status": "sent"},
        {"status": "failed", "failedReason": "not-on-whatsapp"},
        {"status": "failed", "failedReason": "exhausted"},
    ):
        figures.add(message)
    counts = figures.frozen_counts()
    assert counts["total"] == 3 and counts["failed"] == 2 and counts["sent"] == 1
    assert counts["read"] == 0 and figures.not_on_whatsapp == 1


def test_archive_places() -> None:
    assert archive_key("acme", "cmp/1", 2) == "acme/cmp%2F1/run-2.jsonl.gz"
    assert str(archive_directory("file:///var/lib/herald/archive")) == "/var/lib/herald/archive"
    assert str(archive_directory(".local/archive")) == ".local/archive"
    try:
        archive_directory("ftp://archive.example/herald")
    except ValueError as refused:
        assert "s3://bucket/prefix" in str(refused)
    else:
        raise AssertionError("an archive URL that is neither a directory nor S3 is refused")
