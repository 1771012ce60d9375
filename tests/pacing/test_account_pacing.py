"""The anti-ban pace belongs to the sender account: whichever sender process and engine sends an
account's messages, the gaps between its sends at the gateways are never shorter than its
profile's minimum, and they are spread over the profile's range. A rebalance in the middle (a
sender process joins, another is killed) breaks no gap.

Gaps are measured where WhatsApp would see them: at the gateway simulators, from every request
an account's sessions received (accepted or failed: each one is a send attempt WhatsApp sees).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.processes import wait_ready
from herald_devstack.waiting import eventually
from tests.system import (
    RunningStack,
    add_account,
    add_tenant_token,
    launch_campaign,
    messages_of,
    no_duplicate_sends,
    phones,
    sends_of,
    sweeper,
)

from .conftest import FAST_GAP, another_sender

pytestmark = pytest.mark.e2e

Mongo = AsyncMongoClient[dict[str, Any]]
ACCOUNTS = 10
PER_ACCOUNT = 15
JITTER = 0.005
"""Slack for clocks read in different processes. An account has one send in flight at a time
and its next gap starts when the gateway answered, so the next request reaches a gateway at
least one gap after the previous one did, however late either was stamped on a busy machine."""


@asynccontextmanager
async def tenant_with_accounts(
    stack: RunningStack, mongo: Mongo, gateways: tuple[httpx.AsyncClient, ...], label: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The API as a new tenant with ten sender accounts, each with sessions of its own."""
    token = await add_tenant_token(mongo, stack, f"pacing-{label}-{uuid.uuid4().hex[:6]}")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=stack.api, headers=headers, timeout=60) as api:
        for index in range(ACCOUNTS):
            name = f"{label}-{uuid.uuid4().hex[:4]}-{index}"
            await add_account(api, stack, gateways, name, f"+4420795{index:05d}")
        yield api


async def gaps_by_account(
    mongo: Mongo,
    stack: RunningStack,
    gateways: tuple[httpx.AsyncClient, ...],
    campaign_id: str,
) -> dict[str, list[Gap]]:
    """Per account: the gaps between consecutive requests its sessions received."""
    requests: dict[str, list[tuple[float, str]]] = {}
    for message in await messages_of(mongo, stack, campaign_id):
        for gateway, engine in zip(gateways, ("primary", "fallback"), strict=True):
            for request in await sends_of(gateway, message["_id"]):
                label = f"{engine}:{message['_id'][-6:]}:{request['outcome']}"
                requests.setdefault(message["accountId"], []).append(
                    (float(request["time"]), label)
                )
    return {
        account: [Gap(b[0] - a[0], f"{a[1]}->{b[1]}") for a, b in itertools.pairwise(sorted(r))]
        for account, r in requests.items()
    }


@dataclass(frozen=True)
class Gap:
    seconds: float
    between: str
    """Which gateways and messages the two requests were: "primary:…->fallback:…"."""


def assert_paced(gaps: dict[str, list[Gap]]) -> None:
    low, high = FAST_GAP
    assert len(gaps) == ACCOUNTS, sorted(gaps)
    shortest = {account: min(g, key=lambda gap: gap.seconds) for account, g in gaps.items()}
    assert all(s.seconds >= low - JITTER for s in shortest.values()), shortest
    # Random over the range, not a fixed rhythm: the middle 80% of the gaps spans at least half
    # of the range (a gap is its random draw plus the gateway's answer time).
    pooled = sorted(g.seconds for account_gaps in gaps.values() for g in account_gaps)
    p10, p90 = pooled[len(pooled) // 10], pooled[len(pooled) * 9 // 10]
    assert p90 - p10 >= (high - low) / 2, (p10, p90)


async def all_terminal(
    mongo: Mongo, stack: RunningStack, campaign_id: str, size: int
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        messages = await messages_of(mongo, stack, campaign_id)
        return len(messages) == size and all(m["status"] in {"sent", "failed"} for m in messages)

    return check


async def test_three_senders_keep_every_account_s_gaps(
    stack: RunningStack, mongo: Mongo, gateways: tuple[httpx.AsyncClient, ...]
) -> None:
    second_primary = another_sender(stack, "primary-sender", "primary-sender-2")
    second_primary.start()
    try:
        wait_ready([second_primary], timeout=60)
        async with tenant_with_accounts(stack, mongo, gateways, "three") as api:
            campaign_id = await launch_campaign(
                api, phones(ACCOUNTS * PER_ACCOUNT, prefix="+1617"), delay_type="fast"
            )
            await eventually(
                await all_terminal(mongo, stack, campaign_id, ACCOUNTS * PER_ACCOUNT),
                bool,
                timeout=120,
                what="every message sent",
            )
    finally:
        second_primary.stop(timeout=20)

    messages = await messages_of(mongo, stack, campaign_id)
    assert {m["status"] for m in messages} == {"sent"}
    # The three processes shared the work: both engines sent for the accounts.
    assert {m["deliveryMethod"] for m in messages} == {"baileys", "web-js"}
    assert_paced(await gaps_by_account(mongo, stack, gateways, campaign_id))
    await no_duplicate_sends(*gateways)


async def test_a_rebalance_in_the_middle_breaks_no_gap(
    stack: RunningStack, mongo: Mongo, gateways: tuple[httpx.AsyncClient, ...]
) -> None:
    size = ACCOUNTS * PER_ACCOUNT
    joining = another_sender(stack, "primary-sender", "primary-sender-joining")
    async with tenant_with_accounts(stack, mongo, gateways, "rebalance") as api:
        campaign_id = await launch_campaign(api, phones(size, prefix="+1618"), delay_type="fast")

        async def sent() -> int:
            return sum(
                1 for m in await messages_of(mongo, stack, campaign_id) if m["status"] == "sent"
            )

        await eventually(sent, lambda n: n >= size // 5, timeout=60, what="under way")
        joining.start()  # a fourth sender process joins the group…
        try:
            wait_ready([joining], timeout=60)
            await eventually(sent, lambda n: n >= size // 2, timeout=60, what="half sent")
            stack.processes["primary-sender"].kill()  # …and one dies
            async with sweeper(stack) as sweep:
                await eventually(
                    lambda: sweep(campaign_id),
                    lambda busy: busy == 0,
                    timeout=120,
                    interval=0.5,
                    what="every message terminal",
                )
        finally:
            joining.stop(timeout=20)
            stack.processes["primary-sender"].start()
            wait_ready([stack.processes["primary-sender"]], timeout=60)

    messages = await messages_of(mongo, stack, campaign_id)
    # Only what the killed process had in hand can be of unknown outcome.
    unknown = [m for m in messages if m["status"] == "failed"]
    assert all(m["failedReason"] == "outcome-unknown" for m in unknown), unknown[:2]
    assert len(unknown) <= ACCOUNTS
    # The killed process held some accounts mid-send: they stayed held until the hold ran out.
    assert_paced(await gaps_by_account(mongo, stack, gateways, campaign_id))
    await no_duplicate_sends(*gateways)
