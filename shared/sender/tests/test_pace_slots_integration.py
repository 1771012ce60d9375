"""Account pace slots against the real MongoDB-wire server: one pace per account, shared by
every sender that sends for it."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from typing import Any

import pytest

from herald_core.contracts.events import SendMessage
from herald_core.pacing import PaceRange
from herald_infra.accounts.pace_slots import AccountPace, SlotTaken
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.pacer import SendPacer

pytestmark = pytest.mark.integration

PACE = PaceRange(0.05, 0.1)


@pytest.fixture(scope="module")
def settings(mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_pace_{uuid.uuid4().hex[:8]}"
    )


def account() -> str:
    return f"acc-{uuid.uuid4().hex[:6]}"


async def test_senders_sharing_an_account_send_one_at_a_time_a_gap_apart(db: Any) -> None:
    sending = account()
    # Three sender processes (primary and fallback pods) each with sends for the same account;
    # each "gateway call" takes 20 ms.
    senders = [AccountPace(db, hold_seconds=5, rng=random.Random(seed)) for seed in range(3)]
    calls: list[tuple[float, float, float]] = []  # (start, answer, gap)

    async def send_all(pace: AccountPace) -> None:
        for _ in range(8):
            slot = await pace.wait_for_slot(sending, PACE)
            started = time.time()
            await asyncio.sleep(0.02)
            calls.append((started, time.time(), slot.gap_seconds))
            assert await pace.release(slot)

    await asyncio.gather(*map(send_all, senders))

    calls.sort()
    assert len(calls) == 24
    for (_, answered, gap), (next_start, _, _) in itertools.pairwise(calls):
        # Never two calls at once, and the next one a whole gap after the previous answer.
        assert next_start - answered >= gap - 0.002, (answered, next_start, gap)
    gaps = [gap for _, _, gap in calls]
    assert len(set(gaps)) == len(gaps)  # drawn at random each time, never a fixed interval


async def test_accounts_do_not_wait_for_each_other(db: Any) -> None:
    pace = AccountPace(db, hold_seconds=5)
    first, second = account(), account()
    slow = PaceRange(30, 30)
    await pace.release(await pace.wait_for_slot(first, slow))

    taken = await asyncio.wait_for(pace.wait_for_slot(second, slow), timeout=2)

    assert taken.waited_seconds < 1
    assert isinstance(await pace.try_take(first, 30), int)  # the first still waits its 30 s


async def test_the_pace_survives_a_new_sender_process(db: Any) -> None:
    sending = account()
    before = await AccountPace(db, hold_seconds=5).wait_for_slot(sending, PaceRange(0.3, 0.3))
    # Read before the release: the account is free one gap after the release was asked for,
    # not after its answer came back (the round trip may take a while on a busy machine).
    released_at = time.time_ns() // 1_000_000
    await AccountPace(db, hold_seconds=5).release(before)

    restarted = AccountPace(db, hold_seconds=5)
    after = await restarted.wait_for_slot(sending, PaceRange(0.3, 0.3))

    assert after.at_ms - released_at >= 300 - 2
    assert after.lateness_seconds < 0.1


async def test_an_account_held_by_a_dead_sender_is_free_once_the_hold_runs_out(db: Any) -> None:
    sending = account()
    dead = AccountPace(db, hold_seconds=0.4)
    abandoned: SlotTaken = await dead.wait_for_slot(sending, PaceRange(0.1, 0.1))
    # The sender dies here: it never releases the account.

    successor = AccountPace(db, hold_seconds=0.4)
    taken = await successor.wait_for_slot(sending, PaceRange(0.1, 0.1))

    assert taken.at_ms - abandoned.at_ms >= 500  # the hold plus the gap
    assert not await dead.release(abandoned)  # too late: it no longer holds the account


async def test_with_pacing_off_a_send_takes_its_turn_at_once_and_holds_nothing(db: Any) -> None:
    sending = account()
    pacer = SendPacer(AccountPace(db, hold_seconds=5), scale=0)
    event = SendMessage(
        tenant_id="t-pace",
        campaign_id="c-pace",
        message_id=f"m-{uuid.uuid4().hex}",
        account_id=sending,
        phone="+14155550100",
        body="hello",
    )

    first = await asyncio.wait_for(pacer.wait_turn(event), timeout=1)
    second = await asyncio.wait_for(pacer.wait_turn(event), timeout=1)  # not held by the first

    assert (first.gap_seconds, first.waited_seconds, second.gap_seconds) == (0, 0, 0)
    await pacer.gateway_answered(first)
    await pacer.slot_unused(second)
    assert await db["account_pace"].find_one({"_id": sending}) is None
