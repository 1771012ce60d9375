"""Parsing the command line: options anywhere, times, and the request bodies it makes."""

from __future__ import annotations

import shlex
from datetime import datetime, timedelta

import pytest

from herald_cli.arguments import parse_arguments
from herald_cli.commands import create_request, paging, schedule_request


def test_connection_options_work_before_and_after_the_command() -> None:
    before = parse_arguments(["--api", "h:1", "--token", "t", "--json", "queue", "stats"])
    after = parse_arguments(["queue", "stats", "--api", "h:1", "--token", "t", "--json"])
    neither = parse_arguments(["queue", "stats"])

    assert (before.api, before.token, before.json) == ("h:1", "t", True)
    assert (after.api, after.token, after.json) == ("h:1", "t", True)
    assert (neither.api, neither.token, neither.json) == (None, None, False)


def test_an_option_before_the_command_is_kept_when_the_command_has_none() -> None:
    args = parse_arguments(["--json", "campaigns", "list", "--limit", "5"])
    assert args.json is True
    assert args.limit == 5


def test_create_sends_what_was_given_in_the_apis_names() -> None:
    args = parse_arguments(
        [
            "campaigns", "create", "--name", "Summer Sale", "--body", "Hi {{name|there}}",
            "--min-delay", "3", "--max-delay", "8", "--valid-for", "3600",
        ]
    )  # fmt: skip
    assert create_request(args) == {
        "name": "Summer Sale",
        "messageBody": "Hi {{name|there}}",
        "customDelay": {"minSeconds": 3.0, "maxSeconds": 8.0},
        "validForSeconds": 3600,
    }
    plain = parse_arguments(["campaigns", "create", "--name", "n", "--body", "b"])
    assert create_request(plain) == {"name": "n", "messageBody": "b"}


def test_send_at_keeps_an_offset_and_gives_a_time_without_one_the_local_zone() -> None:
    with_offset = parse_arguments(["campaigns", "send", "c", "--at", "2026-12-01T09:00:00+01:00"])
    assert schedule_request(with_offset) == {"sendAt": "2026-12-01T09:00:00+01:00"}

    local = parse_arguments(["campaigns", "send", "c", "--at", "2026-12-01T09:00"])
    sent_at = datetime.fromisoformat(schedule_request(local)["sendAt"])  # type: ignore[index]
    assert sent_at.tzinfo is not None
    assert sent_at.utcoffset() == datetime(2026, 12, 1, 9).astimezone().utcoffset()
    assert sent_at.replace(tzinfo=None) == datetime(2026, 12, 1, 9)

    utc = parse_arguments(["campaigns", "send", "c", "--at", "2026-12-01T08:00:00Z"])
    assert datetime.fromisoformat(schedule_request(utc)["sendAt"]).utcoffset() == timedelta(0)  # type: ignore[index]


def test_send_now_has_no_body_and_cron_takes_its_timezone() -> None:
    assert schedule_request(parse_arguments(["campaigns", "send", "c"])) is None
    cron = parse_arguments(
        ["campaigns", "send", "c", "--cron", "0 9 * * MON", "--timezone", "Europe/Berlin"]
    )
    assert schedule_request(cron) == {"cron": "0 9 * * MON", "timezone": "Europe/Berlin"}


@pytest.mark.parametrize(
    ("command_line", "complaint"),
    [
        ("campaigns send c --at 'next tuesday'", "is not an ISO 8601 time"),
        ("campaigns send c --at 2026-12-01T09:00 --cron '* * * * *'", "not allowed"),
        ("campaigns send c --timezone UTC", "--timezone goes with --cron"),
        ("campaigns create --name n --body b --min-delay 3", "go together"),
        ("campaigns create --name n --body b --min-delay 0 --max-delay 2", "more than 0"),
        ("campaigns create --name n", "--body"),
        ("campaigns watch c --interval soon", "not a number of seconds"),
        ("dead-letters redrive", "give dead-letter IDs or --campaign"),
        ("dead-letters redrive dlt_1 --campaign c", "give dead-letter IDs or --campaign"),
        ("campaigns create --name n --body b --delay-type slow", "invalid choice"),
    ],
)
def test_bad_usage_exits_2_saying_what_is_wrong(
    command_line: str, complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_arguments(shlex.split(command_line))
    assert exit_.value.code == 2
    assert complaint in capsys.readouterr().err


def test_list_filters_leave_out_what_was_not_asked_for() -> None:
    args = parse_arguments(["dead-letters", "list", "--campaign", "c1", "--limit", "10"])
    assert paging(args, campaignId=args.campaign, reason=args.reason, status=args.status) == {
        "limit": 10,
        "offset": 0,
        "campaignId": "c1",
    }
