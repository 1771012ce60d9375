"""The sender accounts, campaign, queued messages and send events of one pacing run.

Everything is written the way Herald writes it: account documents from
:func:`herald_core.accounts.model.account_document`, message documents from the dispatcher's
:func:`herald_dispatcher.message_plan.build_message` (then ``queued``, as after their publish),
send events from :func:`herald_infra.messages.queueing.send_event_from_document`, keyed by account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr

from herald_core.accounts.model import (
    AccountStatus,
    GatewayAdapter,
    GatewaySession,
    SenderAccount,
    SessionEngine,
    account_document,
)
from herald_core.contracts.common import DelayType
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY, PRIMARY_SENDER_GROUP
from herald_core.messages.states import MessageStatus
from herald_core.pacing import PaceRange, pace_range
from herald_dispatcher.message_plan import build_message
from herald_infra.messages.queueing import send_event_from_document
from herald_infra.mongo.client import (
    ACCOUNTS,
    CAMPAIGNS,
    MESSAGES,
    NUMBER_CHECKS,
    Database,
    Document,
)
from herald_infra.recipients.number_checks import number_check_id

TENANT_ID = "bench"
BODY = "Herald pacing benchmark"
PROFILE = DelayType.FAST
"""The campaign's pacing profile: every gap drawn at random from 2-5 s, times the pace scale."""
INSERT_BATCH = 5_000


def account_id(index: int) -> str:
    return f"acc_bench_{index:05d}"


def session_name(index: int) -> str:
    """The simulator session of account ``index``: one per account, as one per number."""
    return f"bench-{index:05d}"


def gap_range(pace_scale: float) -> PaceRange:
    """The range each account's gaps are drawn from at ``pace_scale``."""
    return pace_range(PROFILE, scale=pace_scale)


def mean_gap_seconds(pace_scale: float) -> float:
    """The mean gap an account keeps at ``pace_scale`` (gaps are uniform over the range)."""
    gaps = gap_range(pace_scale)
    return (gaps.min_seconds + gaps.max_seconds) / 2


# Documents


def _session(engine: SessionEngine, index: int, gateway_url: str, api_key: str) -> GatewaySession:
    return GatewaySession(
        engine=engine,
        gateway=GatewayAdapter.WAHA,
        base_url=gateway_url,
        session=session_name(index),
        api_key=SecretStr(api_key),
    )


def account_documents(
    count: int, gateway_url: str, api_key: str, now: datetime, *, fallback_url: str | None = None
) -> list[Document]:
    """``count`` enabled accounts of the bench tenant, each with its own session on the
    simulator at ``gateway_url`` (the fallback session on ``fallback_url`` when given), with
    caps no benchmark reaches."""
    return [
        account_document(
            SenderAccount(
                id=account_id(index),
                tenant_id=TENANT_ID,
                phone=f"+1444{index:07d}",
                name=f"bench account {index}",
                status=AccountStatus.ENABLED,
                primary=_session(SessionEngine.BAILEYS, index, gateway_url, api_key),
                fallback=_session(
                    SessionEngine.WHATSAPP_WEB_JS, index, fallback_url or gateway_url, api_key
                ),
                hourly_cap=10_000_000,
                daily_cap=10_000_000,
                activated_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        for index in range(count)
    ]


def campaign_document(campaign_id: str, total: int, now: datetime) -> Document:
    """A running campaign of ``total`` messages at the :data:`PROFILE` pace."""
    return {
        "_id": campaign_id,
        "tenantId": TENANT_ID,
        "name": "pacing benchmark",
        "messageBody": BODY,
        "delayType": PROFILE.value,
        "status": "running",
        "counts": {"total": total, MessageStatus.QUEUED.value: total},
        "createdAt": now,
        "updatedAt": now,
        "launchedAt": now,
    }


def queued_messages(
    campaign: Document, accounts: int, per_account: int, now: datetime
) -> list[Document]:
    """``per_account`` queued messages for each account, round by round (every account's
    first message, then every account's second…), as a dispatcher spreads a campaign."""
    documents = []
    for round_number in range(per_account):
        for index in range(accounts):
            phone = f"+1555{round_number * accounts + index:07d}"
            contact = {"_id": f"{campaign['_id']}|{phone}", "phone": phone, "fields": {}}
            document = build_message(campaign, contact, account_id=account_id(index), now=now)
            document["status"] = MessageStatus.QUEUED.value
            documents.append(document)
    return documents


# Writing them


async def insert_documents(db: Database, collection: str, documents: Sequence[Document]) -> None:
    for start in range(0, len(documents), INSERT_BATCH):
        await db[collection].insert_many(documents[start : start + INSERT_BATCH], ordered=False)


async def load_run(
    db: Database, accounts: Sequence[Document], campaign: Document, messages: Sequence[Document]
) -> None:
    await insert_documents(db, ACCOUNTS, accounts)
    await db[CAMPAIGNS].insert_one(campaign)
    await insert_documents(db, MESSAGES, messages)


async def remember_recipients(db: Database, messages: Sequence[Document], now: datetime) -> None:
    """Every recipient remembered as on WhatsApp, as an earlier campaign's number check leaves
    it (the documents ``remember_answers`` writes, inserted rather than upserted: SecantusDB
    upserts ten times slower): each message then takes one paced turn of its account, its send.
    (A number never checked takes one more turn first, its check: twice the turns per message.)"""
    expires = now + timedelta(days=1)
    answers = [
        {
            "_id": number_check_id(TENANT_ID, document["phone"]),
            "tenantId": TENANT_ID,
            "phone": document["phone"],
            "onWhatsapp": True,
            "checkedAt": now,
            "expiresAt": expires,
        }
        for document in messages
    ]
    await insert_documents(db, NUMBER_CHECKS, answers)


async def publish_send_events(bootstrap: str, messages: Sequence[Document]) -> None:
    """The messages' send events on ``message.send.primary``, keyed by account; returns once
    Kafka acknowledged all of them (acks=all)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []
        for document in messages:
            event = send_event_from_document(document)
            pending.append(
                await producer.send(
                    MESSAGE_SEND_PRIMARY,
                    key=event.account_id.encode(),
                    value=event.model_dump_json().encode(),
                )
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def send_topic_partitions(bootstrap: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (topic,) = await admin.describe_topics([MESSAGE_SEND_PRIMARY])
    finally:
        await admin.close()
    return [TopicPartition(MESSAGE_SEND_PRIMARY, p["partition"]) for p in topic["partitions"]]


async def skip_sender_to_end(bootstrap: str) -> None:
    """Commit the primary sender group's offsets at the end of its topic, so that a run's sender
    reads only the events published for it, never what an earlier run left (call it while no
    sender of the group runs)."""
    partitions = await send_topic_partitions(bootstrap)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=PRIMARY_SENDER_GROUP, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()
