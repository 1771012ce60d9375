"""The main flow with the real ``herald`` executable: create, import a CSV, send, watch until
completed; the JSON outputs a script reads; the messages reached the gateway once each."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.system import RunningStack, no_duplicate_sends

from .conftest import Herald, run_herald_on_a_terminal, terminal_screen

pytestmark = pytest.mark.e2e

CONTACTS_CSV = """\
phone,name,city
+14155550101,Ada,Oakland
+14155550102,Grace,
+14155550103,Linus,"San Francisco, CA"
+14155550104,,Berkeley
+14155550105,Barbara,Palo Alto
+14155550101,Ada again,Oakland
12345,Broken,Nowhere
"""


async def test_create_import_send_and_watch_until_completed(
    herald: Herald,
    stack: RunningStack,
    tmp_path: Path,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    created = await herald(
        "campaigns", "create",
        "--name", "Summer Sale",
        "--body", "Hi {{name|there}}, 50% OFF in {{city|your city}}!",
        "--delay-type", "fast",
        "--json",
    )  # fmt: skip
    campaign = created.json()
    campaign_id = campaign["id"]
    assert (campaign["status"], campaign["delayType"]) == ("draft", "fast")

    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS_CSV, encoding="utf-8")
    imported = await herald("contacts", "import", campaign_id, str(contacts))
    assert imported.code == 0, imported
    assert imported.stdout.splitlines()[0] == (
        f"Imported contacts.csv into {campaign_id}: 5 added, 1 duplicate, 1 rejected; "
        "the campaign has 5 contacts."
    )
    assert re.search(r"^\s+8\s+12345\s+\S", imported.stdout, re.MULTILINE), imported.stdout

    sent = (await herald("campaigns", "send", campaign_id, "--json")).json()
    assert sent == {"campaignId": campaign_id, "status": "running"}

    herald.keep_operator_token()
    watched = await herald("campaigns", "watch", campaign_id, "--interval", "0.2", timeout=90)
    assert watched.code == 0, watched
    lines = watched.stdout.splitlines()
    assert lines[-1].startswith(f"Campaign {campaign_id} completed: 5 sent, ")
    assert lines[-1].endswith("0 failed, 0 pending of 5; success 100.00%.")
    progress = [line for line in lines if re.match(r"\d\d:\d\d:\d\d  ", line)]
    ended = [int(re.search(r"  (\d+)/5 ", line).group(1)) for line in progress]  # type: ignore[union-attr]
    assert ended == sorted(ended) and ended[-1] == 5, watched.stdout
    # The stack's sweep runs every five minutes, as make up's: the watch asked for it.
    assert any(line.startswith("every message ended: asked the scheduler") for line in lines)

    drawn = await run_herald_on_a_terminal(
        "campaigns", "watch", campaign_id, env=herald.env, cwd=herald.cwd
    )
    # Rich's live bar, drawn in place (back to the line's start, erase, the line), then the
    # outcome under it.
    assert "\r\x1b[2K" in drawn, drawn
    bar, outcome, end = terminal_screen(drawn)[-3:]
    assert re.fullmatch(
        r"Summer Sale  completed ━{30,} 100%  5/5  sent 5  failed 0  pending 0 *", bar
    ), drawn
    assert outcome.endswith("0 failed, 0 pending of 5; success 100.00%.")
    assert end == ""

    final = (await herald("campaigns", "watch", campaign_id, "--json")).json_lines()
    assert final[-1]["outcome"] == "completed"
    assert (final[-1]["sent"], final[-1]["failed"], final[-1]["expected"]) == (5, 0, 5)

    shown = (await herald("campaigns", "show", campaign_id, "--json")).json()
    assert shown["status"] == "completed"
    assert shown["stats"]["sent"] == 5 and shown["stats"]["successRate"] == "100.00"
    listed = (await herald("campaigns", "list", "--json")).json()
    assert campaign_id in [c["id"] for c in listed["campaigns"]]

    await no_duplicate_sends(primary, fallback)


async def test_queue_stats_for_people_and_for_scripts(herald: Herald) -> None:
    stats = (await herald("queue", "stats", "--json")).json()
    assert {"byStatus", "consumers", "circuits"} <= set(stats)
    groups = {consumer["group"] for consumer in stats["consumers"]}
    assert {"herald-dispatcher", "herald-campaign", "herald-dead-letters"} <= groups

    text = await herald("queue", "stats")
    assert text.code == 0, text
    assert text.stdout.splitlines()[0] == "Messages by status"
    assert re.search(r"herald-dispatcher\s+campaign\.events\s+\d+", text.stdout), text.stdout
