"""Account pace slots against the real MongoDB-wire server: one pace per account, shared by
every sender that sends for it."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from typing import Any

import pytest

from herald_shared.pace_slots import AccountPace, SlotTaken
from herald_shared.pacing import PaceRange
from herald_shared.settings import HeraldSettings

pytestmark = pytest.mark.integration

PACE = PaceRange(0.05, 0.1)


@pytest.fixture(scope="module")
def settings(mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_pace_{uuid.uuid4().hex[:8]}"
    )


async def test_senders_sharing_an_account_never_send_closer_than_its_minimum_gap(
    db: Any,
) -> None:
    account = f"acc-{uuid.uuid4().hex[:6]}"
    # Three sender processes (primary and fallback pods) each with sends for the same account.
    senders = [AccountPace(db, rng=random.Random(seed)) for seed in range(3)]

    async def send_all(pace: AccountPace) -> list[SlotTaken]:
        return [await pace.wait_for_slot(account, PACE) for _ in range(8)]

    slots = sorted(
        (s for taken in await asyncio.gather(*map(send_all, senders)) for s in taken),
        key=lambda s: s.at_ms,
    )

    gaps = [(b.at_ms - a.at_ms) / 1000 for a, b in itertools.pairwise(slots)]
    assert len(slots) == 24
    assert min(gaps) >= PACE.min_seconds, gaps
    # Random, not a fixed rhythm; and no slower than the range allows plus scheduling slack.
    assert len({round(g, 3) for g in gaps}) > len(gaps) // 2, gaps
    assert max(gaps) <= PACE.max_seconds + 0.1, gaps
    stored = await db["account_pace"].find_one({"_id": account})
    assert stored["lastSendMs"] == slots[-1].at_ms


async def test_accounts_do_not_wait_for_each_other(db: Any) -> None:
    pace = AccountPace(db)
    first, second = f"acc-{uuid.uuid4().hex[:6]}", f"acc-{uuid.uuid4().hex[:6]}"
    slow = PaceRange(30, 30)
    await pace.wait_for_slot(first, slow)

    taken = await asyncio.wait_for(pace.wait_for_slot(second, slow), timeout=2)

    assert taken.waited_seconds < 1
    assert (await pace.try_take(first, 30))[0] is False  # the first still waits its 30 s


async def test_the_pace_survives_a_new_sender_process(db: Any) -> None:
    account = f"acc-{uuid.uuid4().hex[:6]}"
    before = await AccountPace(db).wait_for_slot(account, PaceRange(0.3, 0.3))

    after = await AccountPace(db).wait_for_slot(account, PaceRange(0.3, 0.3))  # "restarted"

    assert after.at_ms - before.at_ms >= 300
    assert after.due_ms == before.at_ms + 300
    assert after.lateness_seconds < 0.1
