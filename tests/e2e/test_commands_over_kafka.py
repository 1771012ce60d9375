"""Another service drives Herald with plain Kafka records on ``campaign.commands``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from tests.system import RunningStack

from .test_seed_walkthrough import campaign_stats

pytestmark = pytest.mark.e2e


def command(kind: str, **fields: Any) -> bytes:
    body = {"type": kind, "event_id": uuid.uuid4().hex, "tenant_id": "default", **fields}
    return json.dumps(body).encode()


async def get_campaign(api: httpx.AsyncClient, campaign_id: str) -> int:
    return (await api.get(f"/api/campaigns/{campaign_id}")).status_code


async def test_campaign_flow_driven_only_by_commands(
    api: httpx.AsyncClient, stack: RunningStack
) -> None:
    campaign_id = f"cmd-{uuid.uuid4().hex[:12]}"
    producer = AIOKafkaProducer(bootstrap_servers=stack.config.kafka_bootstrap)
    await producer.start()
    try:
        key = campaign_id.encode()
        await producer.send_and_wait(
            "campaign.commands",
            command(
                "campaign.create",
                campaign_id=campaign_id,
                name="Via Kafka",
                message_body="Hello {{name|friend}}",
                delay_type="fast",
            ),
            key=key,
        )
        await producer.send_and_wait(
            "campaign.commands",
            command(
                "campaign.contacts.add",
                campaign_id=campaign_id,
                contacts=[{"phone": "+919812345678", "name": "Ravi"}, {"phone": "+14155550100"}],
            ),
            key=key,
        )
        send = command("campaign.send", campaign_id=campaign_id)
        await producer.send_and_wait("campaign.commands", send, key=key)
        # The same command delivered twice acts once.
        await producer.send_and_wait("campaign.commands", send, key=key)
    finally:
        await producer.stop()

    stats = await eventually(
        lambda: campaign_stats(api, campaign_id),
        lambda s: s["sent"] == 2,
        timeout=60,
        what="both messages sent",
    )
    assert stats["total"] == 2
    assert stats["successRate"] == "100.00"


async def test_poison_command_is_dead_lettered_and_the_next_one_goes_through(
    api: httpx.AsyncClient, stack: RunningStack
) -> None:
    campaign_id = f"after-poison-{uuid.uuid4().hex[:8]}"
    poison_key = f"poison-{uuid.uuid4().hex}".encode()
    bootstrap = stack.config.kafka_bootstrap
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    async with TopicReader(bootstrap, "message.dlt") as dead_letters:
        await producer.start()
        try:
            # Same key, so the same partition: the valid command sits right behind the poison.
            await producer.send_and_wait("campaign.commands", b"{not json", key=poison_key)
            valid = command(
                "campaign.create",
                campaign_id=campaign_id,
                name="After poison",
                message_body="still works",
            )
            await producer.send_and_wait("campaign.commands", valid, key=poison_key)
        finally:
            await producer.stop()

        await eventually(
            lambda: get_campaign(api, campaign_id),
            lambda code: code == 200,
            what="the command behind the poison record handled",
        )
        found = await dead_letters.read_until(
            lambda records: any(r.key == poison_key for r in records)
        )
    [letter] = [r for r in found if r.key == poison_key]
    headers = {k: v.decode() for k, v in letter.headers}
    assert letter.value == b"{not json"
    assert headers["kafka_dlt-original-topic"] == "campaign.commands"
    assert int(headers["kafka_dlt-original-offset"]) >= 0
    assert headers["herald-dlt-reason"] == "undecodable"
    assert headers["kafka_dlt-exception-message"]
