"""What people read, as a pipe receives it: errors naming fields and flags, tables, the texts
of a watch."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from rich.console import RenderableType

from herald_cli.api import ApiError, FieldError
from herald_cli.output import console_for
from herald_cli.progress import Verdict, progress_of
from herald_cli.views.accounts import accounts_table
from herald_cli.views.campaigns import campaign_details, campaigns_table
from herald_cli.views.contacts import import_summary
from herald_cli.views.errors import api_error_text
from herald_cli.views.queue import queue_stats_view
from herald_cli.views.tables import listing_table, number
from herald_cli.views.times import duration, short_time
from herald_cli.views.watching import (
    bar_counts,
    bar_label,
    progress_log_line,
    rate_text,
    watch_outcome,
)


def shown(view: RenderableType) -> list[str]:
    """The lines a pipe receives (Rich pads a table's last column; nobody sees that)."""
    stream = io.StringIO()
    console_for(stream).print(view)
    return [line.rstrip() for line in stream.getvalue().splitlines()]


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


def test_tables_have_a_rule_under_the_headers_and_align_numbers_right() -> None:
    table = listing_table("ID", number("LAG"))
    table.add_row("a", "5")
    table.add_row("bbb", "120")
    assert shown(table) == [
        "ID   LAG",
        "────────",
        "a      5",
        "bbb  120",
    ]


def test_in_a_pipe_a_wide_row_is_neither_wrapped_nor_cut_and_has_no_colour() -> None:
    name = "A campaign with a long name, [bold]as typed[/bold] :smile:"
    listing: dict[str, Any] = {
        "campaigns": [
            {
                "id": "cmp_" + "x" * 40,
                "name": name,
                "status": "running",
                "contactCount": 12000,
                "createdAt": "2026-11-29T21:06:03Z",
            }
        ],
        "total": 1,
        "offset": 0,
    }
    stream = io.StringIO()
    console_for(stream).print(campaigns_table(listing))
    text = stream.getvalue()
    assert "\x1b" not in text
    _header, _rule, row, note = text.splitlines()
    assert row.split("  ")[:2] == ["cmp_" + "x" * 40, name]  # as typed: no markup, no emoji
    assert row.rstrip().endswith("running     12000  2026-11-29 21:06:03Z")
    assert note == "1-1 of 1"


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
    assert shown(import_summary("cmp_1", "contacts.csv", result)) == [
        "Imported contacts.csv into cmp_1: 5 added, 1 duplicate, 1 rejected; "
        "the campaign has 5 contacts.",
        "Rejected:",
        "  LINE  PHONE  REASON",
        "  ─────────────────────────────────",
        "     8  12345  invalid phone number",
    ]


def progress(status: str = "running", **counts: int) -> Any:
    campaign = {"id": "cmp_1", "name": "Summer Sale", "status": status, "contactCount": 10}
    stats = {"total": 10, "pending": 0, "sent": 0, "failed": 0, "delivered": 0}
    return progress_of(campaign, {**stats, **counts, "successRate": "60.00"})


def test_a_campaigns_details_line_up_under_its_name() -> None:
    campaign = {
        "id": "cmp_1",
        "name": "Summer Sale",
        "status": "paused",
        "pausedBy": "user",
        "pauseReason": "wrong link",
        "contactCount": 10,
        "delayType": "fast",
        "createdAt": "2026-11-29T21:06:03Z",
    }
    assert shown(campaign_details(campaign, progress("paused", pending=4, sent=6))) == [
        "cmp_1  Summer Sale",
        "  status    paused by user: wrong link",
        "  contacts  10",
        "  delay     fast",
        "  messages  6 sent, 0 delivered, 0 failed, 4 pending of 10; success 60.00%",
        "  created   2026-11-29 21:06:03Z",
    ]


def test_the_live_bar_says_the_campaign_its_state_and_its_counts() -> None:
    sending = progress(pending=4, sent=6)
    assert bar_label(sending, Verdict.SENDING) == "Summer Sale  running"
    assert bar_counts(sending) == "60%  6/10  sent 6  failed 0  pending 4"
    assert bar_label(progress(sent=9, failed=1), Verdict.ALL_ENDED) == "Summer Sale  completing"


def test_rate_and_time_left_come_once_there_is_a_rate() -> None:
    assert rate_text(None, None) == ""
    assert rate_text(0.0, None) == ""
    assert rate_text(2.0, None) == "2.0/s"
    assert rate_text(2.0, 5.4) == "2.0/s  ETA 0:05"
    assert duration(3723) == "1:02:03"


def test_a_log_line_per_change_says_the_time_and_the_counts() -> None:
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
    header, _rule, first, second, note = shown(accounts_table(listing, now))
    assert header.split() == ["ID", "PHONE", "NAME", "STATUS", "PRIMARY", "FALLBACK", "TODAY"]
    assert first.startswith("acc_1  +14155550100  Sales  enabled   WORKING (12s ago)  ")
    assert "FAILED (2m ago): gateway unreachable" in first
    assert "UNKNOWN" in second
    assert note == "1-2 of 2"


def test_queue_stats_show_statuses_lag_and_open_circuits() -> None:
    lines = shown(
        queue_stats_view(
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
    )
    assert lines[:4] == ["Messages by status", "  queued  sent", "  ────────────", "       3   120"]
    assert lines[4] == "Consumer lag"
    assert lines[7] == "  herald-dispatcher  campaign.events    0         12   12"
    assert lines[8] == "Circuit breakers"
    assert lines[11].startswith("  default  primary  open")
