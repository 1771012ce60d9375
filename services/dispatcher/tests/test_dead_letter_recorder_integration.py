"""The dead-letter recorder against the real Kafka broker and MongoDB-wire server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import DEAD_LETTER_GROUP, MESSAGE_DLT, MESSAGE_SEND_FALLBACK
from herald_core.messages.dead_letters import (
    dead_letter_headers,
    message_dead_letter_id,
    record_dead_letter_id,
)
from herald_devstack.asgi import running
from herald_devstack.kafka_offsets import handled
from herald_devstack.waiting import eventually
from herald_dispatcher.dead_letter_recorder import record_dead_letter
from herald_dispatcher.main import create_app
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_dead_letters_{uuid.uuid4().hex[:8]}",
        attempt_plan="primary, fallback, fallback@2s",
    )


@pytest.fixture(scope="module")
async def recorder(settings: HeraldSettings) -> AsyncIterator[None]:
    async with running(create_app(settings)):
        yield


async def dead_letter_twice(
    settings: HeraldSettings, payload: bytes, headers: dict[str, str] | list[tuple[str, bytes]]
) -> list[Any]:
    """Publish the same dead letter twice (as a retried producer may); returns both records."""
    raw = [(k, v.encode()) for k, v in headers.items()] if isinstance(headers, dict) else headers
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        key = f"k-{uuid.uuid4().hex[:8]}".encode()
        return [
            await producer.send_and_wait(MESSAGE_DLT, payload, key=key, partition=0, headers=raw)
            for _ in range(2)
        ]
    finally:
        await producer.stop()


async def both_handled(settings: HeraldSettings, records: list[Any]) -> None:
    last = records[-1]
    await eventually(
        lambda: handled(
            settings.kafka_bootstrap_servers, DEAD_LETTER_GROUP, MESSAGE_DLT, 0, last.offset
        ),
        bool,
        what="both deliveries recorded",
    )


async def test_a_poison_record_is_stored_once_with_its_bytes_and_origin(
    recorder: None, settings: HeraldSettings, db: Any
) -> None:
    offset = uuid.uuid4().int % 1_000_000
    poison = b"\x00\xff{not json"
    headers = dead_letter_headers(
        topic="campaign.events",
        partition=3,
        offset=offset,
        error="json.decoder.JSONDecodeError",
        error_message="Expecting value",
        reason="undecodable",
    )

    records = await dead_letter_twice(settings, poison, headers)
    await both_handled(settings, records)

    [stored] = await db["dead_letters"].find({"originalOffset": offset}).to_list()
    assert stored["_id"] == record_dead_letter_id("campaign.events", 3, offset)
    assert stored["rawPayload"] == poison
    assert stored["reason"] == "undecodable"
    assert stored["originalTopic"] == "campaign.events"
    assert stored["originalPartition"] == 3
    assert stored["tenantId"] is None  # a poison record names no tenant: the operators' to see
    assert stored["dltOffset"] == records[0].offset  # the first delivery is the one kept
    assert stored["status"] == "open"


async def test_a_message_dead_letter_is_stored_once_under_its_tenant_campaign_and_message(
    recorder: None, settings: HeraldSettings, db: Any
) -> None:
    message_id = f"m-{uuid.uuid4().hex[:12]}"
    exhausted = SendMessage(
        tenant_id="t-dlt",
        campaign_id="c-dlt",
        message_id=message_id,
        account_id="acc-1",
        phone="+919800000001",
        body="hello",
        attempt=3,
        step=2,
    )
    headers = dead_letter_headers(
        topic=MESSAGE_SEND_FALLBACK,
        partition=1,
        offset=77,
        error="herald_gateways.failures.GatewayTimeout",
        reason="exhausted",
        attempts=3,
        dead_letter_id=message_dead_letter_id(message_id, 3),
    )

    records = await dead_letter_twice(settings, exhausted.model_dump_json().encode(), headers)
    await both_handled(settings, records)

    [stored] = await db["dead_letters"].find({"messageId": message_id}).to_list()
    assert stored["_id"] == message_dead_letter_id(message_id, 3)
    assert (stored["tenantId"], stored["campaignId"]) == ("t-dlt", "c-dlt")
    assert stored["reason"] == "exhausted"
    assert stored["attempts"] == 3
    assert stored["originalTopic"] == MESSAGE_SEND_FALLBACK


async def test_a_foreign_record_with_binary_headers_is_stored_under_its_dead_letter_place(
    recorder: None, settings: HeraldSettings, db: Any
) -> None:
    records = await dead_letter_twice(settings, b"", [("trace", b"\xff\xfe\x00")])
    await both_handled(settings, records)

    # Without Herald's headers each record is its own dead letter, named by its place.
    for record in records:
        stored = await db["dead_letters"].find_one(
            {"_id": record_dead_letter_id(MESSAGE_DLT, record.partition, record.offset)}
        )
        assert stored is not None
        assert stored["originalTopic"] == "unknown"
        assert stored["rawPayload"] == b""


async def test_the_same_record_delivered_twice_is_stored_once(
    settings: HeraldSettings, db: Any
) -> None:
    message_id = f"m-{uuid.uuid4().hex[:12]}"
    value = b'{"tenant_id": "t-dup", "campaign_id": "c-dup", "message_id": "%s"}' % (
        message_id.encode()
    )
    record = ConsumerRecord(
        topic=MESSAGE_DLT,
        partition=2,
        offset=uuid.uuid4().int % 1_000_000,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=value,
        checksum=None,
        serialized_key_size=-1,
        serialized_value_size=len(value),
        headers=[("herald-dlt-id", f"dlt_{message_id}".encode()), ("herald-dlt-reason", b"x")],
    )
    now = datetime.now(UTC)

    assert await record_dead_letter(db, record, recorded_at=now) is True
    assert await record_dead_letter(db, record, recorded_at=now) is False

    [stored] = await db["dead_letters"].find({"messageId": message_id}).to_list()
    assert stored["_id"] == f"dlt_{message_id}"
    assert stored["tenantId"] == "t-dup"
