"""The ``herald`` command line run as a user runs it, against an API answered in memory: the
requests its flags make, what it prints, and its exit status."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from .running_herald import Herald


def test_connection_options_work_before_and_after_the_command(herald: Herald) -> None:
    for command_line in (
        "--api h.test:1 --token t --json queue stats",
        "queue stats --api h.test:1 --token t --json",
    ):
        assert herald(command_line, connected=False) == 0
        request = herald.requests[-1]
        assert str(request.url) == "http://h.test:1/api/messages/queue-stats"
        assert request.headers["Authorization"] == "Bearer t"
        assert json.loads(herald.out)["id"] == "cmp_1"


def test_without_flags_the_environment_says_where_and_output_is_for_people(
    herald: Herald, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_API_TOKEN", "env-token")
    monkeypatch.delenv("HERALD_API_URL", raising=False)
    herald.answer = lambda _: httpx.Response(200, json={"byStatus": {"sent": 3}})

    assert herald("queue stats", connected=False) == 0

    assert str(herald.requests[-1].url) == "http://localhost:3000/api/messages/queue-stats"
    assert herald.requests[-1].headers["Authorization"] == "Bearer env-token"
    assert herald.out.splitlines()[0] == "Messages by status"


def test_an_option_before_the_command_is_kept_when_the_command_has_none(herald: Herald) -> None:
    assert herald("--json campaigns list --limit 5") == 0
    assert dict(herald.requests[-1].url.params) == {"limit": "5", "offset": "0"}
    assert json.loads(herald.out) == {"id": "cmp_1", "name": "n", "status": "draft"}


def test_create_sends_what_was_given_in_the_apis_names(herald: Herald) -> None:
    herald(
        "campaigns create --name 'Summer Sale' --body 'Hi {{name|there}}' "
        "--min-delay 3 --max-delay 8 --valid-for 3600"
    )
    assert herald.body == {
        "name": "Summer Sale",
        "messageBody": "Hi {{name|there}}",
        "customDelay": {"minSeconds": 3.0, "maxSeconds": 8.0},
        "validForSeconds": 3600,
    }
    herald("campaigns create --name n --body b --delay-type fast")
    assert herald.body == {"name": "n", "messageBody": "b", "delayType": "fast"}
    assert herald.out.startswith('Created campaign cmp_1 "n" (draft, delay balanced).\n')


def test_send_at_keeps_an_offset_and_gives_a_time_without_one_the_local_zone(
    herald: Herald,
) -> None:
    herald("campaigns send c --at 2026-12-01T09:00:00+01:00")
    assert herald.body == {"sendAt": "2026-12-01T09:00:00+01:00"}

    herald("campaigns send c --at 2026-12-01T09:00")
    sent_at = datetime.fromisoformat(herald.body["sendAt"])
    assert sent_at.utcoffset() == datetime(2026, 12, 1, 9).astimezone().utcoffset()
    assert sent_at.replace(tzinfo=None) == datetime(2026, 12, 1, 9)

    herald("campaigns send c --at 2026-12-01T08:00:00Z")
    assert datetime.fromisoformat(herald.body["sendAt"]).utcoffset() == timedelta(0)


def test_send_now_has_no_body_and_cron_takes_its_timezone(herald: Herald) -> None:
    herald("campaigns send c")
    assert herald.requests[-1].url.path == "/api/campaigns/c/send"
    assert herald.body is None
    herald("campaigns send c --cron '0 9 * * MON' --timezone Europe/Berlin")
    assert herald.body == {"cron": "0 9 * * MON", "timezone": "Europe/Berlin"}


@pytest.mark.parametrize(
    ("command_line", "complaint"),
    [
        ("campaigns send c --at 'next tuesday'", "'--at': 'next tuesday' is not an ISO 8601"),
        ("campaigns send c --at 2026-12-01T09:00 --cron '0 9 * * *'", "--cron is not allowed"),
        ("campaigns send c --timezone UTC", "--timezone goes with --cron"),
        ("campaigns create --name n --body b --min-delay 3", "--min-delay and --max-delay go"),
        ("campaigns create --name n --body b --min-delay 0 --max-delay 2", "more than 0 seconds"),
        ("campaigns create --name n --body b --expires-at 2026-12-01 --valid-for 9", "not allowed"),
        ("campaigns create --name n", "Missing option '--body'"),
        ("campaigns watch c --interval soon", "'soon' is not a number of seconds"),
        ("dead-letters redrive", "give dead-letter IDs or --campaign (one of them)"),
        ("dead-letters redrive dlt_1 --campaign c", "give dead-letter IDs or --campaign"),
        ("campaigns create --name n --body b --delay-type slow", "'slow' is not one of 'fast'"),
        ("campaigns launch c", "No such command 'launch'"),
    ],
)  # fmt: skip
def test_bad_usage_exits_2_saying_what_is_wrong_and_sends_nothing(
    herald: Herald, command_line: str, complaint: str
) -> None:
    assert herald(command_line) == 2
    first, hint = herald.err.splitlines()
    assert first.startswith("herald: ")
    assert complaint in first
    assert hint.startswith("Try 'herald ") and hint.endswith(" --help' for help.")
    assert herald.requests == []


def test_a_noun_without_a_verb_shows_its_verbs(herald: Herald) -> None:
    assert herald("campaigns", connected=False) == 2
    assert "watch" in herald.out and "Create a draft campaign." in herald.out


def test_list_filters_leave_out_what_was_not_asked_for(herald: Herald) -> None:
    herald("dead-letters list --campaign c1 --limit 10")
    assert dict(herald.requests[-1].url.params) == {
        "limit": "10",
        "offset": "0",
        "campaignId": "c1",
    }


def test_a_refusal_names_the_field_and_its_flag_and_exits_1(herald: Herald) -> None:
    herald.answer = lambda _: httpx.Response(
        422,
        json={
            "error": "validation failed",
            "fields": [{"field": "cron", "message": "not a cron expression"}],
        },
    )
    assert herald("campaigns send c --cron 'every monday'") == 1
    assert herald.out == ""
    assert herald.err == "herald: 422 validation failed\n  cron (--cron): not a cron expression\n"


def test_an_unreachable_api_exits_3(herald: Herald) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    herald.answer = refuse
    assert herald("campaigns list") == 3
    assert herald.err == (
        "herald: cannot reach the Herald API at http://herald.test: connection refused "
        "(is it up? `make up` starts it)\n"
    )


def test_a_missing_file_and_a_missing_token_are_bad_usage(
    herald: Herald, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert herald(f"contacts import cmp_1 {tmp_path / 'nope.csv'}") == 2
    assert herald.err == f"herald: {tmp_path / 'nope.csv'}: no such file\n"

    monkeypatch.delenv("HERALD_API_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert herald("queue stats --api http://herald.test", connected=False) == 2
    assert herald.err.startswith("herald: no API token: give --token, set HERALD_API_TOKEN")
    assert herald.requests == []


def test_each_dead_letter_is_redriven_on_its_own_and_a_refusal_exits_1(herald: Herald) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if "dlt_gone" in request.url.path:
            return httpx.Response(404, json={"error": "dead letter not found"})
        return httpx.Response(
            200,
            json={
                "deadLetter": {"id": "dlt_1"},
                "message": {"id": "msg_1", "status": "queued", "attempt": 2},
                "topic": "message.send.primary",
            },
        )

    herald.answer = answer
    assert herald("dead-letters redrive dlt_gone dlt_1") == 1
    assert herald.err == "herald: dlt_gone: 404 dead letter not found\n"
    assert herald.out == "dlt_1: message msg_1 is queued again, attempt 2 on message.send.primary\n"

    assert herald("dead-letters redrive dlt_gone dlt_1 --json") == 1
    gone, redriven = json.loads(herald.out)
    assert gone == {"id": "dlt_gone", "error": "dead letter not found", "status": 404}
    assert redriven["deadLetter"] == {"id": "dlt_1"}


def test_version(herald: Herald) -> None:
    assert herald("--version", connected=False) == 0
    assert herald.out == f"herald {version('herald-cli')}\n"
