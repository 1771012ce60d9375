"""One sender account that cannot be used never stops the accounts beside it, against the real
Kafka broker, MongoDB-wire server and gateway simulator.

An account whose gateway URL has a tab in it (it passed validation; httpx refuses it when the
client is built) used to fail every try of its message before the claim, so its lane retried
the record forever: the partition's commit point stopped there, the partition was paused once
its share of records waited, and every account on it stopped sending. Now its message fails
for good as ``gateway-misconfigured`` (dead letter, health FAILED) and the partition goes on;
a message whose account cannot even be read fails as ``internal-error`` after a bounded number
of tries.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from herald_core.accounts.model import (
    AccountStatus,
    GatewayAdapter,
    GatewaySession,
    SenderAccount,
    SessionEngine,
    account_document,
)
from herald_core.attempt_plan import Route
from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import MESSAGE_DLT
from herald_devstack.kafka_offsets import committed_offset
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from herald_infra.mongo.client import ACCOUNTS, ensure_indexes
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.gateway_directory import GatewayDirectory
from herald_sender.lane_consumer import LaneConsumer, LaneLimits
from herald_sender.send_records import SendRecordHandler
from herald_sender.session_polling import SessionHealthPoller

from .sending import primary_sender, queued_message

pytestmark = pytest.mark.integration

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)
TAB_URL = "http://gw\tx:3100"
LIMITS = LaneLimits(commit_interval_seconds=0.1, retry_backoff_seconds=0.05, attempts=3)


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    """A send topic of one partition: every account's records share it."""
    name = f"it-unusable-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    return name


async def add_account(db: Any, tenant: str, name: str, primary_url: str) -> str:
    def session(engine: SessionEngine, suffix: str) -> GatewaySession:
        return GatewaySession(
            engine=engine,
            gateway=GatewayAdapter.WAHA,
            base_url="http://127.0.0.1:3999",
            session="default",
            api_key=SecretStr(f"key-{name}-{suffix}"),
        )

    account = SenderAccount(
        id=f"acc_{name}_{uuid.uuid4().hex[:8]}",
        tenant_id=tenant,
        phone=f"+9199{uuid.uuid4().int % 10**8:08d}",
        status=AccountStatus.ENABLED,
        primary=session(SessionEngine.BAILEYS, "noweb"),
        fallback=session(SessionEngine.WHATSAPP_WEB_JS, "webjs"),
        hourly_cap=100,
        daily_cap=1000,
        activated_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
    await db[ACCOUNTS].insert_one(account_document(account))
    # Stored as it came in, before anything refused such a URL.
    await db[ACCOUNTS].update_one(
        {"_id": account.id}, {"$set": {"sessions.primary.baseUrl": primary_url}}
    )
    return account.id


async def produce(bootstrap: str, topic: str, events: list[SendMessage]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topic, event.model_dump_json().encode(), key=event.account_id.encode()
            )
    finally:
        await producer.stop()


async def message(db: Any, event: SendMessage) -> dict[str, Any]:
    found: dict[str, Any] = await db["messages"].find_one({"_id": event.message_id})
    return found


async def gateway_calls(gateway: httpx.AsyncClient, event: SendMessage) -> int:
    response = await gateway.get(f"/_sim/sends/{event.message_id}")
    return 0 if response.status_code == 404 else len(response.json())


@dataclass
class Lanes:
    group: str
    tries: Counter[int] = field(default_factory=Counter)
    """How often each record (by offset) was handled."""


@pytest.fixture
async def running_lanes(
    db: Any, broker: KafkaBroker, settings: HeraldSettings, topic: str
) -> AsyncIterator[Lanes]:
    """The sender's lanes on ``topic`` as a sender deployment wires them."""
    await ensure_indexes(db)
    records = SendRecordHandler(primary_sender(db, broker, settings, owner="it-unusable"), broker)
    lanes_of = Lanes(f"it-unusable-{uuid.uuid4().hex[:6]}")
    tries = lanes_of.tries

    async def handle(record: Any) -> None:
        tries[record.offset] += 1
        await records(record)

    lanes = LaneConsumer(
        lambda: AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=lanes_of.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        ),
        topic,
        handle,
        LIMITS,
        give_up=records.give_up,
    )
    await lanes.start()
    try:
        yield lanes_of
    finally:
        await lanes.stop()


async def test_an_account_whose_gateway_url_cannot_be_used_holds_up_no_other_account(
    db: Any,
    settings: HeraldSettings,
    topic: str,
    running_lanes: Lanes,
    gateway: httpx.AsyncClient,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    tabbed = await add_account(db, tenant, "tabbed", TAB_URL)
    corrupt = await add_account(db, tenant, "corrupt", "http://127.0.0.1:3999")
    await db[ACCOUNTS].update_one({"_id": corrupt}, {"$unset": {"phone": ""}})
    # offsets 0, 1, 2, 3: one of each broken account first, the default account behind them.
    events = [
        await queued_message(db, tenant, tabbed),
        await queued_message(db, tenant, corrupt),
        await queued_message(db, "tenant-without-accounts", "default"),
        await queued_message(db, "tenant-without-accounts", "default"),
    ]
    bootstrap = settings.kafka_bootstrap_servers
    async with TopicReader(bootstrap, MESSAGE_DLT) as dead_letters:
        await produce(bootstrap, topic, events)
        await eventually(
            lambda: committed_offset(bootstrap, running_lanes.group, topic, 0),
            lambda offset: offset == len(events),
            timeout=60,
            what="the partition committed to its end",
        )
        ids = {e.message_id for e in events[:2]}
        found = await dead_letters.read_until(
            lambda records: {json.loads(r.value)["message_id"] for r in records} >= ids
        )

    # The default account's messages went out, behind the broken ones on the same partition.
    for sent in events[2:]:
        assert (await message(db, sent))["status"] == "sent"
        assert await gateway_calls(gateway, sent) == 1

    misconfigured = await message(db, events[0])
    assert (misconfigured["status"], misconfigured["failedReason"]) == (
        "failed",
        "gateway-misconfigured",
    )
    assert misconfigured["retryable"] is False
    assert "InvalidURL" in misconfigured["failedDetail"]
    unreadable = await message(db, events[1])
    assert (unreadable["status"], unreadable["failedReason"]) == ("failed", "internal-error")
    assert "KeyError" in unreadable["failedDetail"] and "phone" in unreadable["failedDetail"]

    letters = {
        json.loads(r.value)["message_id"]: {k: v.decode() for k, v in r.headers}
        for r in found
        if json.loads(r.value).get("message_id") in ids
    }
    assert letters[events[0].message_id]["herald-dlt-reason"] == "gateway-misconfigured"
    assert letters[events[1].message_id]["herald-dlt-reason"] == "internal-error"
    assert letters[events[1].message_id]["kafka_dlt-original-topic"] == topic

    # A bounded number of tries: the misconfigured one fails at its first, the unreadable one
    # at LaneLimits.attempts; the partition is committed to its end.
    assert running_lanes.tries == {0: 1, 1: LIMITS.attempts, 2: 1, 3: 1}


async def test_the_health_check_shows_the_misconfigured_session_failed_and_goes_on(
    db: Any, settings: HeraldSettings
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    tabbed = await add_account(db, tenant, "tabbed", TAB_URL)
    directory = GatewayDirectory.for_route(db, settings, Route.PRIMARY)
    poller = SessionHealthPoller(db, directory, interval_seconds=30)
    try:
        checked = await poller.poll_once()
    finally:
        await directory.close()

    health = next(c.health for c in checked if tabbed in c.account_ids)
    assert (health.status.value, health.misconfigured) == ("FAILED", True)
    default = next(c for c in checked if c.default)
    assert default.health.status.value == "WORKING"  # the simulator's session, checked too
    stored = (await db[ACCOUNTS].find_one({"_id": tabbed}))["sessions"]["primary"]["health"]
    assert stored["status"] == "FAILED"
    assert "cannot be used" in stored["detail"] and "InvalidURL" in stored["detail"]
