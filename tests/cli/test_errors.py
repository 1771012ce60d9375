"""What the ``herald`` executable says when something is wrong: the field the API names (and
the flag that set it), where it tried to connect, where the token came from; and its exit
status."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald_devstack.processes import free_port
from tests.system import RunningStack

from .conftest import Herald, run_herald

pytestmark = pytest.mark.e2e


async def draft(herald: Herald) -> str:
    created = await herald("campaigns", "create", "--name", "errors", "--body", "Hi", "--json")
    campaign_id: str = created.json()["id"]
    return campaign_id


async def test_an_invalid_template_names_the_field_and_the_flag(herald: Herald) -> None:
    result = await herald("campaigns", "create", "--name", "n", "--body", "Hi {{name")
    assert result.code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "herald: 422 validation failed"
    assert lines[1].startswith("  messageBody (--body): ")
    assert "line 1" in lines[1]


async def test_an_unreadable_cron_names_the_field_and_nothing_is_scheduled(herald: Herald) -> None:
    campaign_id = await draft(herald)
    result = await herald("campaigns", "send", campaign_id, "--cron", "every monday")
    assert result.code == 1
    assert result.stderr.startswith("herald: 422 ")
    assert "  cron (--cron): " in result.stderr
    shown = (await herald("campaigns", "show", campaign_id, "--json")).json()
    assert shown["status"] == "draft"


async def test_an_unknown_campaign_is_404(herald: Herald) -> None:
    result = await herald("campaigns", "send", "cmp_does_not_exist")
    assert (result.code, result.stderr) == (1, "herald: 404 campaign not found\n")


async def test_what_the_lifecycle_rules_out_is_409_with_the_reason(herald: Herald) -> None:
    campaign_id = await draft(herald)
    result = await herald("campaigns", "pause", campaign_id)
    assert result.code == 1
    assert result.stderr == "herald: 409 cannot pause a draft campaign (only: running)\n"


async def test_a_csv_with_a_bad_header_names_the_column(herald: Herald, tmp_path: Path) -> None:
    campaign_id = await draft(herald)
    contacts = tmp_path / "bad.csv"
    contacts.write_text("name,city\nAda,Oakland\n", encoding="utf-8")
    result = await herald("contacts", "import", campaign_id, str(contacts))
    assert result.code == 1
    assert result.stderr.startswith("herald: 422 invalid CSV header\n  header: ")
    assert "phone" in result.stderr


async def test_a_csv_from_standard_input_is_imported(herald: Herald) -> None:
    campaign_id = await draft(herald)
    result = await herald(
        "contacts", "import", campaign_id, "-", "--json", stdin=b"phone\n+14155550199\n"
    )
    assert result.json()["accepted"] == 1


async def test_a_missing_file_is_bad_usage(herald: Herald, tmp_path: Path) -> None:
    result = await herald("contacts", "import", "cmp_x", str(tmp_path / "nope.csv"))
    assert result.code == 2
    assert result.stderr == f"herald: {tmp_path / 'nope.csv'}: no such file\n"


async def test_a_wrong_token_is_401_saying_where_the_token_came_from(
    stack: RunningStack, tmp_path: Path
) -> None:
    result = await run_herald(
        "queue",
        "stats",
        env={"HERALD_API_URL": stack.api, "HERALD_API_TOKEN": "wrong"},
        cwd=tmp_path,
    )
    assert result.code == 1
    assert result.stderr.splitlines() == [
        "herald: 401 missing or invalid bearer token",
        "  (the token came from HERALD_API_TOKEN)",
    ]


async def test_a_refused_connection_says_where_it_tried(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = await run_herald(
        "campaigns", "list", env={"HERALD_API_URL": nowhere, "HERALD_API_TOKEN": "t"}, cwd=tmp_path
    )
    assert result.code == 3
    assert result.stderr.startswith(f"herald: cannot reach the Herald API at {nowhere}: ")
    assert "connection refused" in result.stderr


async def test_flags_and_make_ups_token_file_are_used_when_the_environment_has_none(
    stack: RunningStack, tmp_path: Path
) -> None:
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "api-token").write_text(stack.token + "\n")
    below = tmp_path / "somewhere"
    below.mkdir()

    result = await run_herald("--api", stack.api, "queue", "stats", "--json", env={}, cwd=below)

    assert result.code == 0, result
    assert "consumers" in result.json()
    no_token = await run_herald("--api", stack.api, "queue", "stats", env={}, cwd=Path("/"))
    assert no_token.code == 2
    assert "no API token" in no_token.stderr
