"""``herald suppressions`` against a suppression list answered in memory: the requests each
command makes, what it prints (for people, and with ``--json``), and its exit status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from .running_herald import Herald

ENTRIES: list[dict[str, Any]] = [
    {
        "phone": "+14155550100",
        "reason": "keyword",
        "suppressedAt": "2026-11-29T21:06:03Z",
        "source": {"text": "Stop!", "accountId": "acc_1", "campaignId": "cmp_1"},
    },
    {
        "phone": "+14155550101",
        "reason": "manual",
        "suppressedAt": "2026-11-30T08:00:00Z",
        "source": {"by": "tenant"},
    },
    {
        "phone": "+14155550102",
        "reason": "not-on-whatsapp",
        "suppressedAt": "2026-11-30T09:00:00Z",
        "source": {"by": "tenant", "campaignId": "cmp_2"},
    },
    {
        "phone": "+919876543210",
        "reason": "import",
        "suppressedAt": "2026-12-01T10:00:00+05:30",
        "source": {"by": "import"},
    },
]

KEYWORDS: dict[str, Any] = {
    "languages": ["en"],
    "extra": {"opt-out": ["PARAR"]},
    "removed": ["cancel"],
    "replies": {"opt-out": "You will get no more messages. Send START to undo."},
    "keywords": {
        "opt-out": ["parar", "quit", "stop", "stopall", "unsubscribe"],
        "opt-in": ["start", "unstop", "yes"],
        "help": ["help", "info"],
    },
    "availableLanguages": ["en", "es", "hi", "pt"],
}


def not_on_the_list(phone: str) -> httpx.Response:
    return httpx.Response(404, json={"error": f"{phone} is not on the list"})


@dataclass
class SuppressionList:
    """The routes of ``/api/suppressions`` over a list in memory, paged as the API pages."""

    entries: list[dict[str, Any]] = field(default_factory=lambda: [dict(e) for e in ENTRIES])
    keywords: dict[str, Any] = field(default_factory=lambda: json.loads(json.dumps(KEYWORDS)))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/suppressions")
        if (request.method, path) == ("GET", ""):
            return self.page(request.url.params)
        if (request.method, path) == ("GET", "/keywords"):
            return httpx.Response(200, json=self.keywords)
        if (request.method, path) == ("PUT", "/keywords"):
            self.keywords.update(json.loads(request.content))
            return httpx.Response(200, json=self.keywords)
        phone = path.removeprefix("/")
        entry = next((e for e in self.entries if e["phone"] == phone), None)
        if entry is None:
            return not_on_the_list(phone)
        if request.method == "DELETE":
            self.entries.remove(entry)
            return httpx.Response(204)
        return httpx.Response(200, json=entry)

    def page(self, params: httpx.QueryParams) -> httpx.Response:
        after, limit = params.get("after", ""), int(params.get("limit", "100"))
        page = [e for e in self.entries if e["phone"] > after][:limit]
        next_after = page[-1]["phone"] if len(page) == limit else None
        listing = {"items": page, "count": len(self.entries), "nextAfter": next_after}
        return httpx.Response(200, json={**listing, "scope": "tenant"})


@pytest.fixture
def suppressions(herald: Herald) -> SuppressionList:
    herald.answer = answer = SuppressionList()
    return answer


def refused(status: int, error: str, *fields: tuple[str, str]) -> httpx.Response:
    body: dict[str, Any] = {"error": error}
    if fields:
        body["fields"] = [{"field": name, "message": message} for name, message in fields]
    return httpx.Response(status, json=body)


# list


def test_list_shows_a_page_with_what_put_each_number_there(
    herald: Herald, suppressions: SuppressionList
) -> None:
    assert herald("suppressions list --limit 3") == 0

    assert dict(herald.requests[-1].url.params) == {"limit": "3"}
    header, _rule, *rows, note = herald.out.splitlines()
    assert header.split() == ["PHONE", "REASON", "SINCE", "SOURCE"]
    assert [row.rstrip() for row in rows] == [
        '+14155550100  keyword          2026-11-29 21:06:03Z  "Stop!" (campaign cmp_1)',
        "+14155550101  manual           2026-11-30 08:00:00Z  by tenant",
        "+14155550102  not-on-whatsapp  2026-11-30 09:00:00Z  by tenant, campaign cmp_2",
    ]
    assert note == "3 of 4 numbers; next page: herald suppressions list --after +14155550102"


def test_list_after_a_number_sends_it_in_e164_whichever_way_it_was_written(
    herald: Herald, suppressions: SuppressionList
) -> None:
    assert herald("suppressions list --after '+1 (415) 555-0101' --json") == 0

    request = herald.requests[-1]
    assert b"after=%2B14155550101" in request.url.query
    assert dict(request.url.params) == {"limit": "100", "after": "+14155550101"}
    listing = json.loads(herald.out)
    assert [e["phone"] for e in listing["items"]] == ["+14155550102", "+919876543210"]
    assert listing["nextAfter"] is None


def test_all_follows_next_after_to_the_last_page(
    herald: Herald, suppressions: SuppressionList
) -> None:
    assert herald("suppressions list --all --limit 2 --json") == 0

    assert [dict(r.url.params) for r in herald.requests] == [
        {"limit": "2"},
        {"limit": "2", "after": "+14155550101"},
        {"limit": "2", "after": "+919876543210"},
    ]
    listing = json.loads(herald.out)
    assert [e["phone"] for e in listing["items"]] == [e["phone"] for e in ENTRIES]
    assert (listing["count"], listing["nextAfter"], listing["scope"]) == (4, None, "tenant")

    assert herald("suppressions list --all") == 0
    assert [dict(r.url.params) for r in herald.requests[3:]] == [{"limit": "1000"}]
    assert herald.out.splitlines()[-1] == "4 of 4 numbers"


def test_an_empty_list_and_a_global_scope_say_so(herald: Herald) -> None:
    herald.answer = lambda _: httpx.Response(
        200, json={"items": [], "count": 0, "nextAfter": None, "scope": "global"}
    )
    assert herald("suppressions list") == 0
    assert herald.out.splitlines()[-2:] == [
        "the list is empty",
        "(scope global: every tenant's opt-outs apply to all tenants; these are yours)",
    ]


def test_a_limit_the_api_refuses_names_the_flag(herald: Herald) -> None:
    herald.answer = lambda _: refused(
        422, "validation failed", ("limit", "Input should be less than or equal to 1000")
    )
    assert herald("suppressions list --limit 5000") == 1
    assert herald.err == (
        "herald: 422 validation failed\n"
        "  limit (--limit): Input should be less than or equal to 1000\n"
    )


# add, show, remove, not-on-whatsapp


def test_add_sends_the_numbers_as_given_and_says_what_was_new(herald: Herald) -> None:
    herald.answer = lambda _: httpx.Response(200, json={"added": 2, "already": 1})

    assert herald("suppressions add +919876543210 09876543210 '+1 415 555 0100'") == 0
    request = herald.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/api/suppressions")
    assert herald.body == {"numbers": ["+919876543210", "09876543210", "+1 415 555 0100"]}
    assert herald.out == "Added 2 numbers to the suppression list; 1 was on it already.\n"

    assert herald("suppressions add +919876543210 --json") == 0
    assert json.loads(herald.out) == {"added": 2, "already": 1}


def test_an_invalid_number_is_named_with_what_was_typed_and_exits_1(herald: Herald) -> None:
    herald.answer = lambda _: refused(
        422, "validation failed", ("numbers[1]", "invalid phone number")
    )
    assert herald("suppressions add +919876543210 12345") == 1
    assert herald.out == ""
    assert herald.err == (
        "herald: 422 validation failed\n  numbers[1] (12345): invalid phone number\n"
    )


def test_more_numbers_than_one_request_takes_is_bad_usage(herald: Herald) -> None:
    numbers = " ".join(f"+1415555{n:04d}" for n in range(1001))
    assert herald(f"suppressions add {numbers}") == 2
    assert "at most 1000 numbers at a time" in herald.err
    assert herald.requests == []


def test_show_asks_for_the_number_with_its_plus_encoded(
    herald: Herald, suppressions: SuppressionList
) -> None:
    assert herald("suppressions show +14155550100") == 0

    assert herald.requests[-1].url.raw_path == b"/api/suppressions/%2B14155550100"
    assert [line.rstrip() for line in herald.out.splitlines()] == [
        "+14155550100",
        "  reason    keyword",
        "  since     2026-11-29 21:06:03Z",
        "  message   Stop!",
        "  account   acc_1",
        "  campaign  cmp_1",
    ]
    assert herald("suppressions show +14155550100 --json") == 0
    assert json.loads(herald.out) == ENTRIES[0]


def test_a_number_not_on_the_list_is_a_404_that_exits_1(
    herald: Herald, suppressions: SuppressionList
) -> None:
    for verb in ("show", "remove"):
        assert herald(f"suppressions {verb} +4915112345678") == 1
        assert herald.out == ""
        assert herald.err == "herald: 404 +4915112345678 is not on the list\n"


def test_a_number_without_its_country_code_is_bad_usage(herald: Herald) -> None:
    assert herald("suppressions remove 9876543210") == 2
    assert "'9876543210' is not an E.164 number: + and the country code" in herald.err
    assert herald.requests == []


def test_remove_deletes_the_entry(herald: Herald, suppressions: SuppressionList) -> None:
    assert herald("suppressions remove +14155550101") == 0

    request = herald.requests[-1]
    assert (request.method, request.url.raw_path) == ("DELETE", b"/api/suppressions/%2B14155550101")
    assert herald.out == (
        "Took +14155550101 off the suppression list: Herald may send to it again.\n"
    )
    assert "+14155550101" not in [e["phone"] for e in suppressions.entries]

    assert herald("suppressions remove +14155550102 --json") == 0
    assert json.loads(herald.out) == {"phone": "+14155550102", "removed": True}


def test_not_on_whatsapp_names_the_campaign(herald: Herald) -> None:
    herald.answer = lambda _: httpx.Response(200, json={"added": 3, "already": 0})
    assert herald("suppressions not-on-whatsapp cmp_1") == 0
    assert herald.requests[-1].url.path == "/api/suppressions/not-on-whatsapp"
    assert herald.body == {"campaignId": "cmp_1"}
    assert herald.out == (
        "Added 3 numbers of campaign cmp_1 that are not on WhatsApp to the suppression list.\n"
    )

    herald.answer = lambda _: refused(404, "campaign not found")
    assert herald("suppressions not-on-whatsapp cmp_gone") == 1
    assert herald.err == "herald: 404 campaign not found\n"


# import and export


def test_import_streams_the_file_and_lists_the_rejected_rows(
    herald: Herald, tmp_path: Path
) -> None:
    csv = b"phone,reason\n+919876543210,keyword\n12345,\n+14155550100,manual\n"
    (tmp_path / "stop.csv").write_bytes(csv)
    herald.answer = lambda _: httpx.Response(
        200,
        json={
            "added": 1,
            "already": 1,
            "rejected": [{"line": 3, "phone": "12345", "reason": "invalid phone number"}],
            "rejectedCount": 1,
        },
    )

    assert herald(f"suppressions import {tmp_path / 'stop.csv'}") == 0

    request = herald.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/api/suppressions/import")
    assert request.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert request.content == csv
    assert [line.rstrip() for line in herald.out.splitlines()] == [
        "Imported stop.csv into the suppression list: 1 added, 1 already on it, 1 rejected.",
        "Rejected:",
        "  LINE  PHONE  REASON",
        "  ─────────────────────────────────",
        "     3  12345  invalid phone number",
    ]

    assert herald(f"suppressions import {tmp_path / 'stop.csv'} --json") == 0
    assert json.loads(herald.out)["rejectedCount"] == 1


def test_import_reads_standard_input_for_a_dash(
    herald: Herald, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    csv = tmp_path / "piped.csv"
    csv.write_bytes(b"phone\n+919876543210\n")
    herald.answer = lambda _: httpx.Response(
        200, json={"added": 1, "already": 0, "rejected": [], "rejectedCount": 0}
    )
    with csv.open("rb") as piped:
        monkeypatch.setattr("sys.stdin", type("Stdin", (), {"buffer": piped})())
        assert herald("suppressions import -") == 0
    assert herald.requests[-1].content == b"phone\n+919876543210\n"
    assert herald.out.startswith("Imported standard input into the suppression list: 1 added")


def test_an_import_with_a_bad_header_names_the_header(herald: Herald, tmp_path: Path) -> None:
    (tmp_path / "numbers.csv").write_bytes(b"number\n+919876543210\n")
    herald.answer = lambda _: refused(
        422, "validation failed", ("header", "no phone column (columns: number)")
    )
    assert herald(f"suppressions import {tmp_path / 'numbers.csv'}") == 1
    assert herald.err == (
        "herald: 422 validation failed\n  header: no phone column (columns: number)\n"
    )


def test_an_import_that_stopped_at_an_unreadable_line_says_a_retry_is_safe(
    herald: Herald, tmp_path: Path
) -> None:
    (tmp_path / "latin1.csv").write_bytes(b"phone\n+919876543210\n+91987654321\xe9\n")
    herald.answer = lambda _: refused(400, "line 3 is not UTF-8")
    assert herald(f"suppressions import {tmp_path / 'latin1.csv'}") == 1
    assert herald.err.splitlines() == [
        "herald: 400 line 3 is not UTF-8",
        "  numbers of the lines before it may be on the list already: importing the file again "
        "once fixed is safe",
    ]


def test_a_missing_file_to_import_is_bad_usage(herald: Herald, tmp_path: Path) -> None:
    assert herald(f"suppressions import {tmp_path / 'nope.csv'}") == 2
    assert herald.err == f"herald: {tmp_path / 'nope.csv'}: no such file\n"
    assert herald.requests == []


EXPORT_HEADER = b"phone,reason,suppressedAt,keyword,campaignId\n"
EXPORT_ROWS = [
    b'+14155550100,keyword,2026-11-29T21:06:03+00:00,"Stop!\nplease",cmp_1\n',
    b"+14155550101,manual,2026-11-30T08:00:00+00:00,,\n",
]


def exported(chunks: Iterator[bytes]) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Type": "text/csv; charset=utf-8"}, content=chunks)


def test_export_writes_the_csv_to_standard_output_as_it_comes(herald: Herald) -> None:
    herald.answer = lambda _: exported(iter([EXPORT_HEADER, *EXPORT_ROWS]))

    assert herald("suppressions export") == 0

    assert herald.requests[-1].url.path == "/api/suppressions/export"
    assert herald.out == (EXPORT_HEADER + b"".join(EXPORT_ROWS)).decode()
    assert herald.err == ""


def test_export_to_a_file_writes_each_chunk_as_it_arrives_and_counts_the_numbers(
    herald: Herald, tmp_path: Path
) -> None:
    target = tmp_path / "suppressions.csv"
    partial = tmp_path / ".suppressions.csv.part"
    seen_while_streaming: list[bytes] = []

    def chunks() -> Iterator[bytes]:
        yield EXPORT_HEADER
        # The first chunk is on disk before the second is sent, in a file beside the target.
        seen_while_streaming.append(partial.read_bytes())
        assert not target.exists()
        yield from EXPORT_ROWS

    herald.answer = lambda _: exported(chunks())

    assert herald(f"suppressions export -o {target}") == 0

    assert seen_while_streaming == [EXPORT_HEADER]
    assert target.read_bytes() == EXPORT_HEADER + b"".join(EXPORT_ROWS)
    assert not partial.exists()
    assert herald.out == f"Exported 2 numbers to {target}.\n"

    herald.answer = lambda _: exported(iter([EXPORT_HEADER, *EXPORT_ROWS]))
    assert herald(f"suppressions export --output {target} --json") == 0
    assert json.loads(herald.out) == {"file": str(target), "numbers": 2}


def test_an_export_cut_short_leaves_the_earlier_file_as_it_was(
    herald: Herald, tmp_path: Path
) -> None:
    target = tmp_path / "suppressions.csv"
    target.write_bytes(b"yesterday's export\n")

    def chunks() -> Iterator[bytes]:
        yield EXPORT_HEADER
        raise httpx.ReadError("connection reset by peer")

    herald.answer = lambda _: exported(chunks())

    assert herald(f"suppressions export -o {target}") == 3
    assert herald.err == (
        "herald: cannot reach the Herald API at http://herald.test: connection reset by peer\n"
    )
    assert target.read_bytes() == b"yesterday's export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["suppressions.csv"]


def test_an_export_the_api_refuses_writes_nothing(herald: Herald, tmp_path: Path) -> None:
    herald.answer = lambda _: refused(401, "missing or invalid bearer token")
    assert herald(f"suppressions export -o {tmp_path / 'out.csv'}") == 1
    assert herald.err.splitlines() == [
        "herald: 401 missing or invalid bearer token",
        "  (the token came from --token)",
    ]
    assert list(tmp_path.iterdir()) == []

    assert herald("suppressions export") == 1
    assert herald.out == ""


def test_export_into_a_folder_that_is_not_there_is_bad_usage(
    herald: Herald, tmp_path: Path
) -> None:
    assert herald(f"suppressions export -o {tmp_path / 'missing' / 'out.csv'}") == 2
    assert f"--output {tmp_path / 'missing' / 'out.csv'}: no such folder" in herald.err
    assert herald("suppressions export -o " + str(tmp_path)) == 2
    assert "is a folder" in herald.err
    assert herald.requests == []


# keywords


def test_keywords_show_what_is_in_force_per_class(
    herald: Herald, suppressions: SuppressionList
) -> None:
    assert herald("suppressions keywords") == 0

    assert herald.requests[-1].url.path == "/api/suppressions/keywords"
    lines = [line.rstrip() for line in herald.out.splitlines()]
    assert lines[:3] == [
        "languages: en (available: en, es, hi, pt)",
        "built-ins turned off: cancel",
        "CLASS    KEYWORDS IN FORCE                        OWN    REPLY",
    ]
    assert lines[4:] == [
        "opt-out  parar, quit, stop, stopall, unsubscribe  PARAR  "
        "You will get no more messages. Send START to undo.",
        "opt-in   start, unstop, yes                       -      -",
        "help     help, info                               -      -",
        "A keyword is a whole message; case, accents and punctuation or emoji around it do not "
        "matter.",
    ]

    assert herald("--json suppressions keywords") == 0
    assert json.loads(herald.out) == KEYWORDS


def test_keywords_set_changes_only_what_is_given(
    herald: Herald, suppressions: SuppressionList
) -> None:
    assert herald("suppressions keywords set --language en --language es --opt-in VOLVER") == 0

    get, put = herald.requests
    assert (get.method, put.method) == ("GET", "PUT")
    assert put.url.path == "/api/suppressions/keywords"
    assert herald.body == {
        "languages": ["en", "es"],
        "extra": {"opt-out": ["PARAR"], "opt-in": ["VOLVER"]},
        "removed": ["cancel"],
        "replies": {"opt-out": "You will get no more messages. Send START to undo."},
    }
    assert herald.out.startswith("languages: en, es (available: ")


def test_keywords_set_empties_a_list_or_a_reply_given_as_empty(
    herald: Herald, suppressions: SuppressionList
) -> None:
    command_line = (
        "suppressions keywords set --opt-out '' --remove '' --reply-opt-out '' "
        "--reply-help 'Reply STOP to stop.'"
    )
    assert herald(command_line) == 0
    assert herald.body == {
        "languages": ["en"],
        "extra": {"opt-out": []},
        "removed": [],
        "replies": {"help": "Reply STOP to stop."},
    }


def test_keywords_set_takes_the_connection_flags_before_set_too(
    herald: Herald, suppressions: SuppressionList
) -> None:
    argv = "suppressions keywords --json --api h.test:1 --token t set --help-word AYUDA"
    assert herald(argv, connected=False) == 0
    assert [str(r.url) for r in herald.requests] == [
        "http://h.test:1/api/suppressions/keywords"
    ] * 2
    assert herald.requests[-1].headers["Authorization"] == "Bearer t"
    assert json.loads(herald.out)["extra"]["help"] == ["AYUDA"]


def test_keywords_set_without_a_setting_is_bad_usage(herald: Herald) -> None:
    assert herald("suppressions keywords set") == 2
    assert "give a setting to change" in herald.err
    assert herald.requests == []


def test_a_refused_keyword_names_the_field_and_its_flag(
    herald: Herald, suppressions: SuppressionList
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return refused(
                422, "validation failed", ("extra.opt-out[1]", "'start' is an opt-in keyword")
            )
        return suppressions(request)

    herald.answer = answer
    assert herald("suppressions keywords set --opt-out PARAR --opt-out START") == 1
    assert herald.out == ""
    assert herald.err == (
        "herald: 422 validation failed\n"
        "  extra.opt-out[1] (--opt-out): 'start' is an opt-in keyword\n"
    )
