"""Sender accounts end to end: a tenant's two WhatsApp numbers, each with its own sessions on the
gateway simulators, set up through the API; a campaign goes out through each account's own
session; a session that loses its pairing (SCAN_QR_CODE) shows in the account API after the
senders' next health check, its messages go to the fallback without the primary gateway being
called, and the account API passes the gateway's login QR code through for the operator.

The stack checks sessions every second (``HERALD_SESSION_POLL_SECONDS`` in the package's stack).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.waiting import eventually
from tests.system import (
    RunningStack,
    add_account,
    add_tenant_token,
    gateway_client,
    launch_campaign,
    metric_value,
    phones,
    sends_of,
    set_gateway_session,
    wait_for_statuses,
)

pytestmark = pytest.mark.e2e

PER_ACCOUNT = 3
TIMEOUT = 90.0


@pytest.fixture
async def gateways(stack: RunningStack) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    async with (
        gateway_client(stack, stack.primary_gateway) as primary,
        gateway_client(stack, stack.fallback_gateway) as fallback,
    ):
        yield primary, fallback


@pytest.fixture
async def tenant_api(
    stack: RunningStack, mongo: AsyncMongoClient[dict[str, Any]]
) -> AsyncIterator[httpx.AsyncClient]:
    """The API as a tenant of its own: its accounts change nothing for the other tests."""
    token = await add_tenant_token(mongo, stack, f"accounts-{uuid.uuid4().hex[:6]}")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=stack.api, headers=headers, timeout=60) as client:
        yield client


async def sessions_used(
    gateway: httpx.AsyncClient, messages: list[dict[str, Any]]
) -> dict[str, list[tuple[str, str]]]:
    """Message id → (session, outcome) of every request the simulator got for it."""
    return {
        m["_id"]: [(r["session"], r["outcome"]) for r in await sends_of(gateway, m["_id"])]
        for m in messages
    }


async def test_each_account_sends_through_its_own_sessions_and_a_lost_pairing_moves_to_the_fallback(
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    tenant_api: httpx.AsyncClient,
    gateways: tuple[httpx.AsyncClient, ...],
) -> None:
    primary_gw, fallback_gw = gateways
    run = uuid.uuid4().hex[:6]
    first = await add_account(tenant_api, stack, gateways, f"sales-{run}", "+14155550100")
    second = await add_account(tenant_api, stack, gateways, f"support-{run}", "+14155550101")
    session_of = {
        a["id"]: (a["primary"]["session"], a["fallback"]["session"]) for a in (first, second)
    }
    recipients = phones(2 * PER_ACCOUNT, prefix="+1628")

    # 1. A campaign: split over both accounts, each message sent through its account's session.
    campaign = await launch_campaign(tenant_api, recipients)
    sent = await wait_for_statuses(
        mongo, stack, campaign, len(recipients), {"sent"}, timeout=TIMEOUT
    )
    by_account: dict[str, int] = {}
    for account_id in (m["accountId"] for m in sent):
        by_account[account_id] = by_account.get(account_id, 0) + 1
    assert by_account == {first["id"]: PER_ACCOUNT, second["id"]: PER_ACCOUNT}
    used = await sessions_used(primary_gw, sent)
    for message in sent:
        assert message["deliveryMethod"] == "baileys"
        assert used[message["_id"]] == [(session_of[message["accountId"]][0], "accepted")]

    # 2. The first account's primary session loses its pairing: the senders' next check shows
    # it in the account API and on the primary sender's metrics.
    lost, lost_fallback = session_of[first["id"]]
    await set_gateway_session(primary_gw, "SCAN_QR_CODE", name=lost)

    async def first_account() -> dict[str, Any]:
        answer = await tenant_api.get(f"/api/accounts/{first['id']}")
        assert answer.status_code == 200, answer.text
        account: dict[str, Any] = answer.json()
        return account

    # Each sender checks its own engine's sessions: the fallback's shows up on its own time.
    reported = await eventually(
        first_account,
        lambda a: (
            (a["primary"]["health"]["status"], a["fallback"]["health"]["status"])
            == ("SCAN_QR_CODE", "WORKING")
        ),
        timeout=30,
        what="the lost pairing in the account API",
    )
    assert reported["primary"]["health"]["checkedAt"] is not None
    assert "QR code" in reported["primary"]["health"]["detail"]

    async def second_account() -> dict[str, Any]:
        account: dict[str, Any] = (await tenant_api.get(f"/api/accounts/{second['id']}")).json()
        return account

    await eventually(
        second_account,
        lambda a: a["primary"]["health"]["status"] == "WORKING",
        timeout=30,
        what="the other account's session still working",
    )
    labels = {"account": first["id"], "route": "primary"}

    async def sender_sees() -> tuple[float | None, float | None]:
        return (
            await metric_value(
                stack,
                "primary-sender",
                "herald_session_status",
                {**labels, "status": "SCAN_QR_CODE"},
            ),
            await metric_value(
                stack, "primary-sender", "herald_session_status", {**labels, "status": "WORKING"}
            ),
        )

    # The gateway's own report may reach the account API before the sender's next check: the
    # sender's gauge follows within a poll interval.
    await eventually(
        sender_sees, lambda seen: seen == (1.0, 0.0), timeout=30, what="the sender's gauge"
    )

    # 3. The operator gets the gateway's QR code through the API to pair the number again.
    qr = await tenant_api.get(f"/api/accounts/{first['id']}/sessions/primary/qr")
    assert qr.status_code == 200, qr.text
    shown = await primary_gw.get(f"/api/{lost}/auth/qr", headers={"Accept": "application/json"})
    assert (qr.json()["mimetype"], qr.json()["imageBase64"]) == (
        shown.json()["mimetype"],
        shown.json()["data"],
    )
    paired = await tenant_api.get(f"/api/accounts/{second['id']}/sessions/primary/qr")
    assert paired.status_code == 409, paired.text

    # 4. Until then, the first account's messages go out on its fallback session, without the
    # primary gateway being called for them; the second account's still go out on its primary.
    again = await launch_campaign(tenant_api, recipients, body="Second round, {{name|there}}")
    resent = await wait_for_statuses(
        mongo, stack, again, len(recipients), {"sent"}, timeout=TIMEOUT
    )
    on_primary = await sessions_used(primary_gw, resent)
    on_fallback = await sessions_used(fallback_gw, resent)
    moved = [m for m in resent if m["accountId"] == first["id"]]
    stayed = [m for m in resent if m["accountId"] == second["id"]]
    assert (len(moved), len(stayed)) == (PER_ACCOUNT, PER_ACCOUNT)  # recipients keep their number
    for message in moved:
        assert message["deliveryMethod"] == "web-js"
        assert on_primary[message["_id"]] == []
        assert on_fallback[message["_id"]] == [(lost_fallback, "accepted")]
        assert message["attempts"][0]["reason"] in {"session-not-connected", "circuit-open"}
    assert "session-not-connected" in {m["attempts"][0]["reason"] for m in moved}
    for message in stayed:
        assert message["deliveryMethod"] == "baileys"
        assert on_primary[message["_id"]] == [(session_of[second["id"]][0], "accepted")]
