"""Poison records on every topic Herald consumes go to ``message.dlt`` with their origin, and
the records behind them are still handled.

One campaign is driven through every consumed topic behind poison records placed on the very
partitions its own records take: its send command (``campaign.commands``), its launch event
(``campaign.events``), its message on the primary and the fallback send topics (both keyed by
sender account), and its delayed third attempt (the delay topic).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from tests.system import (
    RunningStack,
    add_operator_token,
    api_client,
    sends_of,
    set_gateway_mode,
    wait_for_statuses,
)

from .conftest import RETRY_TOPIC

pytestmark = pytest.mark.e2e

ACCOUNT = b"default"
POISONS = {
    "undecodable": b"\x00\xff{not json",
    "schema-invalid": json.dumps({"unexpected": True, "attempt": "many"}).encode(),
}


def consumed_topics(campaign_key: bytes) -> dict[str, bytes]:
    """Each topic Herald consumes, with the key its records for this campaign carry."""
    return {
        "campaign.commands": campaign_key,
        "campaign.events": campaign_key,
        "message.send.primary": ACCOUNT,
        "message.send.fallback": ACCOUNT,
        RETRY_TOPIC: ACCOUNT,
    }


async def create_campaign(api: httpx.AsyncClient, phone: str) -> str:
    created = await api.post("/api/campaigns", json={"name": "poison", "messageBody": "Hi"})
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    added = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": phone}]}
    )
    assert added.status_code == 200, added.text
    return campaign_id


def send_command(campaign_id: str) -> bytes:
    return json.dumps(
        {
            "type": "campaign.send",
            "event_id": uuid.uuid4().hex,
            "tenant_id": "default",
            "campaign_id": campaign_id,
        }
    ).encode()


async def test_poison_on_every_consumed_topic_is_dead_lettered_and_what_follows_is_delivered(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: Any,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    campaign_id = await create_campaign(api, "+12025550142")
    topics = consumed_topics(campaign_id.encode())
    # The message's first two attempts fail, so it passes through every send and delay topic.
    await set_gateway_mode(primary, "fail_5xx")
    await set_gateway_mode(fallback, "fail_5xx")

    producer = AIOKafkaProducer(bootstrap_servers=stack.config.kafka_bootstrap, acks="all")
    await producer.start()
    poisoned: dict[tuple[str, int, int], str] = {}
    try:
        async with TopicReader(stack.config.kafka_bootstrap, "message.dlt") as dead_letters:
            for topic, key in topics.items():
                for kind, payload in POISONS.items():
                    sent = await producer.send_and_wait(topic, payload, key=key)
                    poisoned[(topic, sent.partition, sent.offset)] = kind
            await producer.send_and_wait(
                "campaign.commands", send_command(campaign_id), key=campaign_id.encode()
            )

            # The third attempt waits on the delay topic behind the poison there; the fallback
            # is healthy again by the time it is due.
            await eventually(
                lambda: mongo[stack.config.database]["messages"].find_one(
                    {"campaignId": campaign_id}
                ),
                lambda m: m is not None and m["status"] == "retrying" and m["attempt"] == 3,
                timeout=60,
                what="the message waiting for its third attempt",
            )
            await set_gateway_mode(fallback, "ok")
            [message] = await wait_for_statuses(mongo, stack, campaign_id, 1, {"sent", "failed"})
            records = await dead_letters.read_until(
                lambda records: len(origins(records) & set(poisoned)) == len(poisoned)
            )
    finally:
        await producer.stop()

    assert message["status"] == "sent"
    assert [(a["engine"], a["outcome"]) for a in message["attempts"]] == [
        ("baileys", "failed"),
        ("web-js", "failed"),
        ("web-js", "sent"),
    ]
    [accepted] = [s for s in await sends_of(fallback, message["_id"]) if s["outcome"] == "accepted"]
    assert message["gatewayMessageId"] == accepted["gatewayMessageId"]  # the bare id

    for record in records:
        headers = {k: v.decode() for k, v in record.headers}
        origin = origin_of(headers)
        if origin not in poisoned:
            continue
        assert record.value == POISONS[poisoned[origin]], origin
        assert headers["herald-dlt-reason"] in expected_reasons(origin[0], poisoned[origin])
        assert headers["kafka_dlt-exception-fqcn"]
        assert headers["kafka_dlt-exception-message"]
        assert headers["herald-dlt-attempts"] == "1"
        assert headers["herald-dlt-first-failure"] <= headers["herald-dlt-last-failure"]

    # The dispatcher recorded each of them; they name no tenant, so operators alone see them
    # through the API (every tenant's and the unattributed dead letters).
    wanted = {topic for topic, _, _ in poisoned}
    async with api_client(stack) as operator:
        operator.headers["Authorization"] = f"Bearer {await add_operator_token(mongo, stack)}"
        listed = await eventually(
            lambda: listed_poison(operator, wanted),
            lambda found: set(poisoned) <= found,
            what="the poison records listed by the API",
        )
        assert set(poisoned) <= listed
        # Not the default tenant's: the tenant that sent the campaign sees none of them.
        assert not set(poisoned) & await listed_poison(api, wanted, "/api/dead-letters")


def expected_reasons(topic: str, kind: str) -> set[str]:
    if topic == RETRY_TOPIC:  # a delay record is read by its headers first, and these have none
        return {"invalid-retry-headers"}
    if kind == "schema-invalid":
        return {"schema-invalid"}
    return {"undecodable", "schema-invalid"}  # bytes that are not JSON fail either way


def origin_of(headers: dict[str, str]) -> tuple[str, int, int]:
    return (
        headers.get("kafka_dlt-original-topic", ""),
        int(headers.get("kafka_dlt-original-partition", -1)),
        int(headers.get("kafka_dlt-original-offset", -1)),
    )


def origins(records: list[Any]) -> set[tuple[str, int, int]]:
    return {origin_of({k: v.decode() for k, v in r.headers}) for r in records}


async def listed_poison(
    api: httpx.AsyncClient, topics: set[str], path: str = "/api/admin/dead-letters"
) -> set[tuple[str, int, int]]:
    """The origins of every dead letter the API lists at ``path`` (poison records name no
    campaign)."""
    found: set[tuple[str, int, int]] = set()
    offset = 0
    while True:
        response = await api.get(path, params={"limit": 500, "offset": offset})
        assert response.status_code == 200, response.text
        page = response.json()
        for letter in page["deadLetters"]:
            if letter["originalTopic"] in topics and letter["messageId"] is None:
                found.add(
                    (letter["originalTopic"], letter["originalPartition"], letter["originalOffset"])
                )
        offset += len(page["deadLetters"])
        if not page["deadLetters"] or offset >= page["total"]:
            return found
