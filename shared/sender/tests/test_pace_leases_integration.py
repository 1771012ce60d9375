"""Account pace under a lease against the real MongoDB-wire server: each instance of
:class:`LeasedAccountPace` stands for a sender pod (of the primary or fallback route); the pod
that sends an account keeps its pace in memory, and the guarantees of the per-send pace hold
across pods all the same, for a fraction of the MongoDB operations."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from herald_core.contracts.events import SendMessage
from herald_core.pace_lease import poll_interval_ms
from herald_core.pacing import PaceRange
from herald_devstack.waiting import eventually
from herald_infra.accounts.pace_leases import LeasedAccountPace
from herald_infra.accounts.pace_slots import AccountPace
from herald_infra.mongo.client import Database
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.pacer import SendPacer

pytestmark = pytest.mark.integration

PACE = PaceRange(0.05, 0.1)
MONGO_OPS = ("insert", "query", "update", "delete", "getmore")
SLACK = 0.002
"""Clock reads rounded to milliseconds."""


@pytest.fixture(scope="module")
def settings(mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_lease_{uuid.uuid4().hex[:8]}"
    )


def account() -> str:
    return f"acc-{uuid.uuid4().hex[:6]}"


def pod(db: Database, *, hold: float = 0.3, lease: float = 0.2, seed: int = 0) -> LeasedAccountPace:
    return LeasedAccountPace(db, hold_seconds=hold, lease_seconds=lease, rng=random.Random(seed))


async def mongo_ops(db: Database) -> int:
    """The operations the server counted so far (``serverStatus`` opcounters)."""
    status: Mapping[str, Any] = await db.client.admin.command("serverStatus")
    counters = status["opcounters"]
    return sum(int(counters.get(name, 0)) for name in MONGO_OPS)


async def pace_document(db: Database, account_id: str) -> dict[str, Any]:
    doc = await db["account_pace"].find_one({"_id": account_id})
    assert doc is not None
    return doc


async def test_pods_of_both_routes_send_an_account_one_at_a_time_a_gap_apart(
    db: Database,
) -> None:
    sending = account()
    # Two primary pods and a fallback pod with sends for the same account; each "gateway
    # call" takes 20 ms. Short leases, so that the account changes hands many times.
    pods = [pod(db, seed=seed) for seed in range(3)]
    calls: list[tuple[float, float, float, int]] = []  # (start, answer, gap, pod)

    async def send_all(index: int) -> None:
        for _ in range(8):
            slot = await pods[index].wait_for_slot(sending, PACE)
            started = time.time()
            await asyncio.sleep(0.02)
            calls.append((started, time.time(), slot.gap_seconds, index))
            await pods[index].release(slot)

    await asyncio.wait_for(asyncio.gather(*map(send_all, range(3))), timeout=60)

    calls.sort()
    assert len(calls) == 24
    for (_, answered, gap, _), (next_start, _, _, _) in itertools.pairwise(calls):
        # Never two calls at once, and the next one a whole gap after the previous answer,
        # whichever pod sent either.
        assert next_start - answered >= gap - SLACK, (answered, next_start, gap)
    # The account changed hands: the pods took turns, not one pod all of its sends first.
    senders = [index for *_, index in calls]
    changes = sum(1 for a, b in itertools.pairwise(senders) if a != b)
    assert changes >= 3, senders


async def test_a_pod_that_dies_holds_its_accounts_only_until_its_lease_ends(
    db: Database,
) -> None:
    sending, in_flight = account(), account()
    hold, lease, gap = 0.4, 0.3, PaceRange(0.1, 0.1)
    dead = pod(db, hold=hold, lease=lease)
    answered = await dead.wait_for_slot(sending, gap)
    await dead.release(answered)
    mid_send = await dead.wait_for_slot(in_flight, gap)
    # The pod dies here: it gives nothing back, and its second send is never answered.

    successor = pod(db, hold=hold, lease=lease, seed=1)
    longest = hold + gap.max_seconds + lease  # the lease taken for the slot
    for abandoned in (answered, mid_send):
        taken = await asyncio.wait_for(
            successor.wait_for_slot(abandoned.account_id, gap), timeout=longest + 5
        )
        await successor.release(taken)
        held_for = (taken.at_ms - abandoned.at_ms) / 1000
        # Nobody took the account while the lease lasted (its gateway call and gap within), and
        # it was free soon after.
        assert held_for >= longest - SLACK, held_for
        assert held_for <= longest + 1.0, held_for


async def test_a_route_waiting_for_a_leased_account_gets_it_within_a_lease_and_gives_it_back(
    db: Database,
) -> None:
    sending = account()
    hold, lease = 0.3, 0.5
    # A lease as taken for one slot, and one look of the waiting pod.
    window = hold + PACE.max_seconds + lease + poll_interval_ms(500) / 1000
    primary, fallback = pod(db, hold=hold, lease=lease), pod(db, hold=hold, lease=lease, seed=1)
    primary_sends: list[float] = []
    stop = asyncio.Event()

    async def primary_keeps_sending() -> None:
        while not stop.is_set():
            slot = await primary.wait_for_slot(sending, PACE)
            primary_sends.append(time.time())
            await asyncio.sleep(0.01)
            await primary.release(slot)

    async def primary_sent_since(moment: float) -> bool:
        return bool(primary_sends) and primary_sends[-1] > moment

    await primary.start()
    await fallback.start()
    busy = asyncio.create_task(primary_keeps_sending())
    waits, back = [], []
    try:
        await eventually(lambda: primary_sent_since(0), bool, timeout=5, interval=0.01)
        for _ in range(3):
            # A message failed on the primary route: the fallback pod sends it while the primary
            # pod still has messages of the account, and wants it back at once.
            slot = await asyncio.wait_for(fallback.wait_for_slot(sending, PACE), timeout=window + 5)
            await asyncio.sleep(0.01)
            await fallback.release(slot)
            waits.append(slot.waited_seconds)
            answered = time.time()
            await eventually(
                lambda: primary_sent_since(answered),  # noqa: B023 (awaited in this iteration)
                bool,
                timeout=window + 5,
                interval=0.01,
                what="the primary pod sending again",
            )
            back.append(primary_sends[-1] - answered)
    finally:
        stop.set()
        await asyncio.wait_for(busy, timeout=window + 5)
        await primary.stop()
        await fallback.stop()

    # Each time, the fallback pod got the account within one lease of asking, however busy the
    # primary pod kept it, and the primary pod got it back as soon (neither starves the other).
    assert max(waits) <= window + 0.3, waits
    assert max(back) <= window + 0.3, back


async def test_a_steady_account_costs_a_fraction_of_a_mongodb_operation_per_send(
    db: Database,
) -> None:
    # The fast profile scaled down 100 times, with the default 30 s lease scaled alike.
    scale, sends = 0.01, 100
    fast = PaceRange(2 * scale, 5 * scale)

    async def ops_per_send(pace: AccountPace) -> float:
        sending = account()
        before = await mongo_ops(db)
        for _ in range(sends):
            slot = await pace.wait_for_slot(sending, fast)
            await pace.release(slot)
        return (await mongo_ops(db) - before) / sends

    per_send = await ops_per_send(AccountPace(db, hold_seconds=0.5))
    leased = await ops_per_send(pod(db, hold=0.5, lease=30 * scale))

    print(f"MongoDB operations per paced send: {per_send:.2f} per send, {leased:.2f} leased")
    assert per_send >= 2
    assert leased <= 0.3


async def test_idle_leases_are_given_back_together_once_unused_for_a_grace(db: Database) -> None:
    first, second = account(), account()
    lease, gap = 4.0, PaceRange(0.1, 0.1)
    clock = [time.time_ns() // 1_000_000]
    owner = LeasedAccountPace(db, hold_seconds=0.3, lease_seconds=lease, clock_ms=lambda: clock[0])
    for sending in (first, second):
        await owner.release(await owner.wait_for_slot(sending, gap))
    next_free = clock[0] + 100

    clock[0] = next_free + 999  # the grace is a quarter of the lease: 1 s
    assert await owner.give_back_idle() == 0
    clock[0] = next_free + 1000
    assert await owner.give_back_idle() == 2

    assert owner.leased() == frozenset()
    for sending in (first, second):
        document = await pace_document(db, sending)
        # Free for anyone from the account's next free time: its gap kept, its lease not.
        assert (document["holder"], document["nextSlotMs"]) == ("", next_free)


async def test_an_idle_lease_is_given_back_in_the_background_long_before_it_ends(
    db: Database,
) -> None:
    sending = account()
    lease = 5.0  # long: waiting for it to run out would miss the deadline below
    owner, other = pod(db, lease=lease), pod(db, lease=lease, seed=1)
    await owner.release(await owner.wait_for_slot(sending, PACE))

    await owner.start()
    try:
        # Idle a quarter of a lease after its gap, given back within another quarter, taken
        # at the waiting pod's next look (a tenth of a lease).
        taken = await asyncio.wait_for(other.wait_for_slot(sending, PACE), timeout=lease * 0.8)
    finally:
        await owner.stop()
    await other.release(taken)

    assert owner.leased() == frozenset()
    assert taken.waited_seconds < lease * 0.8


async def test_a_stopping_pod_gives_back_its_leases_at_the_account_s_next_free_time(
    db: Database,
) -> None:
    sending = account()
    owner, successor = pod(db, lease=5.0), pod(db, lease=5.0, seed=1)
    slot = await owner.wait_for_slot(sending, PaceRange(0.2, 0.2))
    await owner.release(slot)

    await owner.stop()

    document = await pace_document(db, sending)
    assert document["holder"] == ""
    assert document["nextSlotMs"] >= slot.at_ms + 200
    taken = await asyncio.wait_for(successor.wait_for_slot(sending, PACE), timeout=2)
    assert taken.at_ms >= document["nextSlotMs"]  # the gap after the last answer kept


async def test_whether_an_account_is_free_now_is_answered_from_memory(db: Database) -> None:
    sending, elsewhere = account(), account()
    leased = pod(db, lease=5.0)
    pacer = SendPacer(leased, scale=1.0)
    event = SendMessage(
        tenant_id="t-lease",
        campaign_id="c-lease",
        message_id=f"m-{uuid.uuid4().hex}",
        account_id=sending,
        phone="+14155550100",
        body="hello",
    )
    other = pod(db, lease=5.0, seed=1)
    await other.wait_for_slot(elsewhere, PACE)  # another pod sends this one now
    assert pacer.free_now(elsewhere)  # never seen: may be free
    looked = asyncio.create_task(leased.wait_for_slot(elsewhere, PACE))
    await asyncio.wait({looked}, timeout=0.3)
    looked.cancel()  # this pod looked, found it leased and gave up waiting
    await asyncio.gather(looked, return_exceptions=True)
    assert not pacer.free_now(elsewhere)

    assert pacer.free_now(sending)
    slot = await pacer.wait_turn(event)
    before = await mongo_ops(db)
    in_flight = [pacer.free_now(sending) for _ in range(1000)]
    await leased.release(slot)
    in_gap = pacer.free_now(sending)
    assert await mongo_ops(db) == before  # no MongoDB call for any of them

    assert not any(in_flight)
    assert not in_gap
    await asyncio.sleep(slot.gap_seconds + 0.01)
    assert pacer.free_now(sending)
    assert SendPacer(leased, scale=0).free_now(sending)


async def test_a_send_given_up_while_waiting_leaves_the_account_to_the_next(db: Database) -> None:
    sending = account()
    leased = pod(db, lease=5.0)
    first = await leased.wait_for_slot(sending, PACE)
    waiting = asyncio.create_task(leased.wait_for_slot(sending, PACE))
    done, _ = await asyncio.wait({waiting}, timeout=0.3)
    assert not done, "one send in flight per account: the second waits for the answer"

    waiting.cancel()  # the sender is stopping: the waiting send is handed back
    await asyncio.gather(waiting, return_exceptions=True)
    await leased.release(first)

    after = await asyncio.wait_for(leased.wait_for_slot(sending, PACE), timeout=2)
    assert after.at_ms - first.at_ms >= first.gap_seconds * 1000
