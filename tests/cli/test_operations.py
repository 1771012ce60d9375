"""Operating a campaign with the ``herald`` executable: pause, resume and cancel a running one;
list and redrive dead letters; list sender accounts with the health of their sessions."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.waiting import eventually
from tests.system import RunningStack, add_account, add_tenant_token, phones, set_gateway_mode

from .conftest import CliRun, Herald

pytestmark = pytest.mark.e2e


async def launched(herald: Herald, tmp_path: Path, count: int, delay_type: str) -> str:
    created = await herald(
        "campaigns", "create", "--name", "ops", "--body", "Hi {{name|there}}",
        "--delay-type", delay_type, "--json",
    )  # fmt: skip
    campaign_id: str = created.json()["id"]
    contacts = tmp_path / f"{campaign_id}.csv"
    contacts.write_text("phone\n" + "\n".join(phones(count, prefix="+1650")) + "\n")
    imported = await herald("contacts", "import", campaign_id, str(contacts), "--json")
    assert imported.json()["accepted"] == count
    sent = await herald("campaigns", "send", campaign_id)
    assert sent.code == 0, sent
    return campaign_id


async def test_pause_resume_and_cancel_a_running_campaign(herald: Herald, tmp_path: Path) -> None:
    # 20 messages 1-3 s apart on one account: it runs for half a minute or more.
    campaign_id = await launched(herald, tmp_path, 20, "safe")

    paused = await herald("campaigns", "pause", campaign_id, "--reason", "wrong link")
    assert paused.code == 0, paused
    assert paused.stdout == f"Campaign {campaign_id} is paused by user: wrong link.\n"

    watched = await herald("campaigns", "watch", campaign_id, "--timeout", "2", "--interval", "0.5")
    assert watched.code == 4, watched
    assert "  paused  " in watched.stdout.splitlines()[-1]
    assert watched.stderr.startswith(f"herald: gave up after 2 s: campaign {campaign_id} is paused")

    again = await herald("campaigns", "pause", campaign_id)
    assert (again.code, again.stderr) == (
        1,
        "herald: 409 cannot pause a paused campaign (only: running)\n",
    )

    resumed = await herald("campaigns", "resume", campaign_id, "--json")
    assert resumed.json()["status"] == "running"

    cancelled = await herald("campaigns", "cancel", campaign_id, "--reason", "changed our mind")
    assert cancelled.code == 0, cancelled
    assert cancelled.stdout.startswith(f"Campaign {campaign_id} is cancelled: changed our mind. ")
    assert cancelled.stdout.rstrip().endswith("unsent messages cancelled.")

    ended = await herald("campaigns", "watch", campaign_id, "--json", "--timeout", "60")
    assert ended.code == 1, ended
    last = ended.json_lines()[-1]
    assert last["outcome"] == "cancelled"
    assert last["cancelled"] >= 1
    assert last["expected"] == 20


async def test_dead_letters_are_listed_and_redriven(
    herald: Herald, tmp_path: Path, primary: httpx.AsyncClient, fallback: httpx.AsyncClient
) -> None:
    for gateway in (primary, fallback):
        await set_gateway_mode(gateway, "bad_request")
    campaign_id = await launched(herald, tmp_path, 3, "fast")
    herald.keep_operator_token()
    finished = await herald("campaigns", "watch", campaign_id, "--json", "--timeout", "60")
    assert finished.code == 0, finished
    assert (finished.json_lines()[-1]["failed"], finished.json_lines()[-1]["sent"]) == (3, 0)

    listing = (await herald("dead-letters", "list", "--campaign", campaign_id, "--json")).json()
    letters = listing["deadLetters"]
    assert listing["total"] == 3
    assert {letter["status"] for letter in letters} == {"open"}
    assert {letter["campaignId"] for letter in letters} == {campaign_id}
    (reason,) = {letter["reason"] for letter in letters}
    assert reason

    table = await herald("dead-letters", "list", "--campaign", campaign_id)
    assert table.code == 0, table
    rows = table.stdout.splitlines()
    assert rows[0].split() == [
        "ID", "CAMPAIGN", "MESSAGE", "REASON", "ATTEMPTS", "STATUS", "LAST", "FAILURE",
    ]  # fmt: skip
    assert set(rows[1]) == {"─"}  # the rule under the headers
    assert len(rows) == 6 and rows[-1] == "1-3 of 3"
    assert all(campaign_id in row and reason in row and "  open  " in row for row in rows[2:5])

    for gateway in (primary, fallback):
        await set_gateway_mode(gateway, "ok")
    first = letters[0]
    one = await herald("dead-letters", "redrive", first["id"])
    assert one.code == 0, one
    assert one.stdout.startswith(f"{first['id']}: message {first['messageId']} is queued again")
    assert one.stdout.rstrip().endswith("on message.send.primary")

    # Its message is no longer failed: a redrive never sends a message twice.
    twice = await herald("dead-letters", "redrive", first["id"], "--json")
    assert twice.code == 1, twice
    (refused,) = json.loads(twice.stdout)
    assert (refused["id"], refused["status"]) == (first["id"], 409)
    assert refused["error"]

    everything = await herald("dead-letters", "redrive", "--campaign", campaign_id)
    assert everything.code == 0, everything
    assert everything.stdout == f"{campaign_id}: 2 dead letters redriven\n"

    async def show() -> CliRun:
        return await herald("campaigns", "show", campaign_id, "--json")

    shown = await eventually(
        show,
        lambda run: run.code == 0 and run.json()["stats"]["sent"] == 3,
        timeout=60,
        what="the redriven messages sent",
    )
    assert shown.json()["stats"]["failed"] == 0
    redriven = await herald(
        "dead-letters", "list", "--campaign", campaign_id, "--status", "redriven", "--json"
    )
    assert redriven.json()["total"] == 3


async def test_accounts_are_listed_with_the_health_of_their_sessions(
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    # A tenant of its own: its account changes nothing for the other tests' campaigns.
    token = await add_tenant_token(mongo, stack, f"cli-accounts-{uuid.uuid4().hex[:6]}")
    tenant = Herald(stack, tmp_path, token)
    async with httpx.AsyncClient(
        base_url=stack.api, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as api:
        account = await add_account(api, stack, (primary, fallback), "sales", "+14155550142")

    async def listing() -> CliRun:
        return await tenant("accounts", "list", "--json")

    checked = await eventually(
        listing,
        lambda run: (
            run.code == 0
            and all(
                run.json()["accounts"][0][engine]["health"]["status"] == "WORKING"
                for engine in ("primary", "fallback")
            )
        ),
        timeout=30,
        what="both sessions checked WORKING",
    )
    assert [a["id"] for a in checked.json()["accounts"]] == [account["id"]]

    table = await tenant("accounts", "list")
    assert table.code == 0, table
    header, rule, row, footer = table.stdout.splitlines()
    assert header.split() == ["ID", "PHONE", "NAME", "STATUS", "PRIMARY", "FALLBACK", "TODAY"]
    assert set(rule) == {"─"}
    assert row.startswith(f"{account['id']}  +14155550142  sales  enabled  WORKING (")
    assert row.count("WORKING (") == 2
    assert footer == "1-1 of 1"
