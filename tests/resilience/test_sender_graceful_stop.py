"""A sender stopped with SIGTERM in the middle of paced campaigns, as Kubernetes stops a pod in a
rollout or a scale-down, and a new sender taking over.

At the stop, one tenant's accounts are each waiting 20 s for their next anti-ban turn and
another tenant's accounts are each in a gateway call. The sender exits long before those turns
come: the sends at the gateway finish and are recorded, the sends waiting for their turn are
handed back unsent, and the Kafka offsets are committed exactly up to what finished. The new
sender sends what was left, at the accounts' pace, and nothing reaches a gateway twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY, PRIMARY_SENDER_GROUP
from herald_devstack.processes import wait_ready
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from tests.system import (
    RunningStack,
    add_account,
    add_tenant_token,
    messages_of,
    no_duplicate_sends,
    phones,
    running_stack,
    sends_of,
    stack_config,
    wait_for_statuses,
)

pytestmark = pytest.mark.e2e

Mongo = AsyncMongoClient[dict[str, Any]]

GATEWAY_TIMEOUT_SECONDS = 10
STOP_ENV = {
    # Real gaps: each campaign's custom delay is what its accounts wait between two sends.
    "HERALD_PACE_SCALE": "1",
    "HERALD_GATEWAY_TIMEOUT_SECONDS": str(GATEWAY_TIMEOUT_SECONDS),
    "HERALD_CIRCUIT_FAILURE_THRESHOLD": "100000",
    # The scenario counts send turns: no number checks (each would take a turn of its own).
    "HERALD_NUMBER_CHECK_HOURS": "0",
}
LONG_GAP = {"minSeconds": 20, "maxSeconds": 21}
SHORT_GAP = {"minSeconds": 1, "maxSeconds": 2}
GATEWAY_LATENCY_MS = 4000
ACCOUNTS = 3
PER_ACCOUNT = 2
UNSENT = {"queued", "pending"}
EXITS_WITHIN = 12.0
"""Seconds from SIGTERM to exit: the gateway calls in flight (4 s) and their recording, and
well before the waiting accounts' next turns (20 s after their first sends were answered)."""


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap, mongodb_url, tmp_path_factory.mktemp("herald-graceful-stop"), STOP_ENV
    )
    with running_stack(config) as running:
        yield running


@asynccontextmanager
async def tenant_with_accounts(
    stack: RunningStack, mongo: Mongo, gateways: tuple[httpx.AsyncClient, ...], label: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The API as a new tenant with sender accounts of its own (fresh sessions, fresh pace)."""
    token = await add_tenant_token(mongo, stack, f"stop-{label}-{uuid.uuid4().hex[:6]}")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=stack.api, headers=headers, timeout=60) as api:
        for index in range(ACCOUNTS):
            name = f"stop-{label}-{uuid.uuid4().hex[:4]}-{index}"
            await add_account(api, stack, gateways, name, f"+4420796{index:05d}")
        yield api


async def launch(api: httpx.AsyncClient, numbers: list[str], gap: dict[str, int]) -> str:
    created = await api.post(
        "/api/campaigns",
        json={"name": "graceful stop", "messageBody": "Hello {{name|there}}", "customDelay": gap},
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    added = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": p} for p in numbers]}
    )
    assert added.status_code == 200 and added.json()["accepted"] == len(numbers), added.text
    sent = await api.post(f"/api/campaigns/{campaign_id}/send")
    assert sent.status_code == 202, sent.text
    return campaign_id


def by_status(messages: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in messages:
        counts[message["status"]] = counts.get(message["status"], 0) + 1
    return counts


def accounts_of(messages: list[dict[str, Any]]) -> set[str]:
    return {m["accountId"] for m in messages}


def exit_status(pid: int) -> int | None:
    """The wait status of the sender process once it exited (it is this test's child); None
    while it runs. Does not block."""
    reaped, status = os.waitpid(pid, os.WNOHANG)
    return status if reaped == pid else None


async def committed_offsets(bootstrap: str) -> dict[int, int]:
    """The primary senders' committed offset of each partition of their send topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(PRIMARY_SENDER_GROUP)
    finally:
        await admin.close()
    return {
        tp.partition: meta.offset
        for tp, meta in offsets.items()
        if tp.topic == MESSAGE_SEND_PRIMARY
    }


def assert_committed_up_to_the_first_unfinished(
    records: list[Any], statuses: dict[str, str], committed: dict[int, int]
) -> None:
    """On each partition, everything below the committed offset is sent (offsets follow
    durability), and the committed offset is the first record not sent (all that finished
    before it was committed)."""
    by_partition: dict[int, list[tuple[int, str]]] = {}
    for record in records:
        message_id = json.loads(record.value)["message_id"]
        if message_id in statuses:
            by_partition.setdefault(record.partition, []).append((record.offset, message_id))
    assert by_partition, "no send record of these campaigns was read"
    for partition, ours in by_partition.items():
        unfinished = [offset for offset, m in ours if statuses[m] != "sent"]
        expected = min(unfinished) if unfinished else max(offset for offset, _ in ours) + 1
        assert committed.get(partition) == expected, (partition, sorted(ours), committed)


async def test_a_sender_stopped_mid_campaign_finishes_or_hands_back_what_it_holds(
    stack: RunningStack, mongo: Mongo, primary: httpx.AsyncClient, fallback: httpx.AsyncClient
) -> None:
    gateways = (primary, fallback)
    db = mongo[stack.config.database]
    sender = stack.processes["primary-sender"]
    size = ACCOUNTS * PER_ACCOUNT
    async with (
        TopicReader(stack.config.kafka_bootstrap, MESSAGE_SEND_PRIMARY) as send_records,
        tenant_with_accounts(stack, mongo, gateways, "waiting") as waiting_api,
        tenant_with_accounts(stack, mongo, gateways, "calling") as calling_api,
    ):
        # One campaign's accounts send their first message at once, then wait 20 s each.
        waiting = await launch(waiting_api, phones(size, prefix="+1415"), LONG_GAP)
        await eventually(
            lambda: messages_of(mongo, stack, waiting),
            lambda docs: (
                len(docs) == size and by_status(docs).get("sent", 0) == len(accounts_of(docs))
            ),
            timeout=60,
            what="each account of the first campaign sent once and waits for its next turn",
        )
        # The other campaign's accounts are each in a 4-second gateway call.
        latency = await primary.put("/_sim/config", json={"latencyMs": GATEWAY_LATENCY_MS})
        assert latency.status_code == 200, latency.text
        calling = await launch(calling_api, phones(size, prefix="+1646"), SHORT_GAP)
        calling_accounts = accounts_of(
            await eventually(
                lambda: messages_of(mongo, stack, calling),
                lambda docs: len(docs) == size,
                timeout=60,
                what="the second campaign's messages",
            )
        )
        await eventually(
            lambda: db["account_pace"].count_documents({"_id": {"$in": list(calling_accounts)}}),
            lambda taken: taken == len(calling_accounts),
            timeout=30,
            interval=0.05,
            what="each account of the second campaign at its gateway",
        )

        pid = sender.pid()
        assert pid is not None
        stopped_at = time.monotonic()
        sender.signal(signal.SIGTERM)
        status = await eventually(
            lambda: asyncio.sleep(0, exit_status(pid)),
            lambda s: s is not None,
            timeout=GATEWAY_TIMEOUT_SECONDS + 60,
            interval=0.05,
            what="the primary sender exited",
        )
        took = time.monotonic() - stopped_at
        assert status is not None and os.waitstatus_to_exitcode(status) == 0, status
        assert took < EXITS_WITHIN, f"the sender took {took:.1f}s to stop"

        held = await messages_of(mongo, stack, waiting)
        in_flight = await messages_of(mongo, stack, calling)
        # Nothing is left claimed (``sending``): what the sender held was finished or handed
        # back; the accounts' first sends are sent, their second ones wait to be sent.
        for messages in (held, in_flight):
            counts = by_status(messages)
            assert counts.pop("sent") == len(accounts_of(messages)), by_status(messages)
            assert set(counts) <= UNSENT, by_status(messages)
        # Whatever a gateway accepted is recorded as sent, and nothing else is.
        for message in held + in_flight:
            outcomes = [r["outcome"] for r in await sends_of(primary, message["_id"])]
            assert outcomes == (["accepted"] if message["status"] == "sent" else []), message
        statuses = {m["_id"]: m["status"] for m in held + in_flight}
        assert_committed_up_to_the_first_unfinished(
            await send_records.read_to_end(),
            statuses,
            await committed_offsets(stack.config.kafka_bootstrap),
        )

    sender.start()
    wait_ready([sender], timeout=60)
    held = await wait_for_statuses(mongo, stack, waiting, size, {"sent"}, timeout=90)
    in_flight = await wait_for_statuses(mongo, stack, calling, size, {"sent"}, timeout=90)
    accepted = await no_duplicate_sends(primary, fallback)
    assert all(accepted[m["_id"]] == 1 for m in held + in_flight)
    # Handed back, not failed: still the first attempt, on the primary.
    assert {(m["attempt"], m["deliveryMethod"]) for m in held + in_flight} == {(1, "baileys")}
    # The account's pace survived the hand-back: its second send reached the gateway a whole
    # gap after its first one was answered.
    requests: dict[str, list[float]] = {}
    for message in held:
        for request in await sends_of(primary, message["_id"]):
            requests.setdefault(message["accountId"], []).append(float(request["time"]))
    for times in requests.values():
        first, second = sorted(times)
        assert second - first >= LONG_GAP["minSeconds"] - 0.01, (first, second)
