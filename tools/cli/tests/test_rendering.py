"""What people read: errors naming fields and flags, tables, the progress line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from herald_cli.api import ApiError, FieldError
from herald_cli.progress import Verdict, progress_of
from herald_cli.rendering import (
    accounts_table,
    api_error_text,
    bar,
    import_summary,
    progress_line,
    progress_log_line,
    queue_stats_text,
    short_time,
    table,
    watch_outcome,
)


def test_a_validation_error_names_each_field_and_the_flag_that_set_it() -> None:
    error = ApiError(
        422,
        "POST",
        "/api/campaigns",
        "validation failed",
        [
            FieldError("messageBody", "Value error, malformed placeholder at line 1, column 4"),
            FieldError("contacts[3].phone", "String should have at least 1 character"),
        ],
    )
    assert api_error_text(error, token_source="--token") == (
        "422 validation failed\n"
        "  messageBody (--body): Value error, malformed placeholder at line 1, column 4\n"
        "  contacts[3].phone: String should have at least 1 character"
    )


def test_a_401_says_where_the_token_came_from() -> None:
    error = ApiError(401, "GET", "/api/accounts", "missing or invalid bearer token")
    text = api_error_text(error, token_source="/repo/.local/api-token")
    assert text.splitlines() == [
        "401 missing or invalid bearer token",
        "  (the token came from /repo/.local/api-token)",
    ]


def test_an_import_that_stopped_says_what_was_imported_before() -> None:
    body = {"error": "line 7 is not UTF-8", "line": 7, "accepted": 5, "total": 5}
    error = ApiError(400, "POST", "/api/campaigns/c/contacts", body["error"], [], body)  # type: ignore[arg-type]
    assert api_error_text(error, token_source="x").splitlines()[1] == (
        "  the rows before line 7 were imported: 5 added, the campaign has 5 contacts"
    )


def test_tables_pad_columns_and_align_numbers_right() -> None:
    assert table(["ID", "LAG"], [["a", 5], ["bbb", 120]]).splitlines() == [
        "ID   LAG",
        "a      5",
        "bbb  120",
    ]


def test_times_are_shown_in_the_offset_they_came_in() -> None:
    assert short_time("2026-11-29T21:06:03.123000Z") == "2026-11-29 21:06:03Z"
    assert short_time("2026-12-01T09:00:00+01:00") == "2026-12-01 09:00:00+01:00"
    assert short_time(None) == "-"


def test_an_import_lists_its_rejected_lines() -> None:
    result: dict[str, Any] = {
        "accepted": 5,
        "duplicates": 1,
        "rejected": [{"line": 8, "phone": "12345", "reason": "invalid phone number"}],
        "rejectedCount": 1,
        "total": 5,
    }
    assert import_summary("cmp_1", "contacts.csv", result).splitlines() == [
        "Imported contacts.csv into cmp_1: 5 added, 1 duplicate, 1 rejected; "
        "the campaign has 5 contacts.",
        "Rejected:",
        "  LINE  PHONE  REASON",
        "     8  12345  invalid phone number",
    ]


def progress(**counts: int) -> Any:
    campaign = {"id": "cmp_1", "name": "Summer Sale", "status": "running", "contactCount": 10}
    stats = {"total": 10, "pending": 0, "sent": 0, "failed": 0, "delivered": 0}
    return progress_of(campaign, {**stats, **counts, "successRate": "60.00"})


def test_the_bar_fills_with_the_fraction() -> None:
    assert bar(0.5, 10) == "[█████░░░░░]"
    assert bar(1.2, 4, unicode=False) == "[####]"
    assert bar(0.0, 4, unicode=False) == "[----]"


def test_the_progress_line_fits_the_terminal_and_shows_rate_and_time_left() -> None:
    line = progress_line(
        progress(pending=4, sent=6),
        Verdict.SENDING,
        rate=2.0,
        seconds_left=2.0,
        columns=120,
    )
    assert line.startswith("Summer Sale  running  [")
    assert "60%  6/10  sent 6  failed 0  pending 4  2.0/s  ETA 0:02" in line
    assert len(line) < 120
    narrow = progress_line(
        progress(pending=4, sent=6), Verdict.SENDING, rate=None, seconds_left=None, columns=60
    )
    assert len(narrow) <= 59


def test_when_every_message_ended_the_line_says_the_campaign_is_completing() -> None:
    line = progress_line(
        progress(sent=9, failed=1), Verdict.ALL_ENDED, rate=3.0, seconds_left=0, columns=120
    )
    assert "completing" in line
    assert "/s" not in line
    log = progress_log_line(progress(sent=9, failed=1), Verdict.ALL_ENDED, datetime(2026, 1, 1))
    assert log == "00:00:00  completing  10/10 (100%)  sent 9  delivered 0  failed 1  pending 0"


def test_the_outcome_sums_up_the_counts() -> None:
    done = progress(sent=9, failed=1, delivered=7)
    assert watch_outcome(done, Verdict.COMPLETED) == (
        "Campaign cmp_1 completed: 9 sent, 7 delivered, 1 failed, 0 pending of 10; success 60.00%."
    )


def test_accounts_show_each_sessions_health_and_when_it_was_checked() -> None:
    now = datetime(2026, 11, 29, 12, 0, 30, tzinfo=UTC)
    listing = {
        "accounts": [
            {
                "id": "acc_1",
                "phone": "+14155550100",
                "name": "Sales",
                "status": "enabled",
                "dailyAllowance": 50,
                "primary": {"health": {"status": "WORKING", "checkedAt": "2026-11-29T12:00:18Z"}},
                "fallback": {
                    "health": {
                        "status": "FAILED",
                        "checkedAt": "2026-11-29T11:58:30Z",
                        "detail": "gateway unreachable",
                    }
                },
            },
            {"id": "acc_2", "phone": "+14155550101", "status": "disabled", "primary": {}},
        ],
        "total": 2,
        "limit": 50,
        "offset": 0,
    }
    lines = accounts_table(listing, now).splitlines()
    assert lines[0].split() == ["ID", "PHONE", "NAME", "STATUS", "PRIMARY", "FALLBACK", "TODAY"]
    assert "WORKING (12s ago)" in lines[1]
    assert "FAILED (2m ago): gateway unreachable" in lines[1]
    assert "UNKNOWN" in lines[2]
    assert lines[-1] == "1-2 of 2"


def test_queue_stats_show_statuses_lag_and_open_circuits() -> None:
    text = queue_stats_text(
        {
            "byStatus": {"queued": 3, "sent": 120},
            "consumers": [
                {
                    "group": "herald-dispatcher",
                    "topic": "campaign.events",
                    "lag": 0,
                    "committed": 12,
                    "endOffset": 12,
                }
            ],
            "circuits": [
                {
                    "accountId": "default",
                    "engine": "primary",
                    "state": "open",
                    "consecutiveFailures": 5,
                    "openUntil": "2026-11-29T12:01:00Z",
                    "reason": "gateway 5xx",
                }
            ],
        }
    )
    assert "queued  sent" in text
    assert "herald-dispatcher  campaign.events" in text
    assert "default  primary  open" in text
