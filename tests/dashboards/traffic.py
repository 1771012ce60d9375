"""Traffic the dashboards' end-to-end tests drive beyond campaigns: simulator faults, a Kafka
redelivery of a send already made, a command over Kafka."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import CAMPAIGN_COMMANDS, MESSAGE_SEND_PRIMARY
from tests.system import RunningStack, messages_of

Mongo = AsyncMongoClient[dict[str, Any]]


async def set_gateway(gateway: httpx.AsyncClient, **config: Any) -> None:
    """Change a simulator's configuration (``mode``, ``receipts`` …), as ``PUT /_sim/config``."""
    response = await gateway.put("/_sim/config", json=config)
    assert response.status_code == 200, response.text


async def redeliver_a_send(producer: Any, mongo: Mongo, stack: RunningStack, campaign: str) -> None:
    """Publish again the send event of a message that was sent, as Kafka may redeliver it."""
    message = (await messages_of(mongo, stack, campaign))[0]
    event = SendMessage(
        tenant_id=message["tenantId"],
        campaign_id=campaign,
        message_id=message["_id"],
        account_id=message["accountId"],
        phone=message["phone"],
        body=message["body"],
        attempt=1,
    )
    await producer.publish(event, topic=MESSAGE_SEND_PRIMARY, key=message["accountId"].encode())


async def send_a_command(producer: Any) -> None:
    """A ``campaign.create`` command over Kafka, for another tenant."""
    command = {
        "type": "campaign.create",
        "event_id": uuid.uuid4().hex,
        "tenant_id": "dashboards",
        "campaign_id": f"dash-{uuid.uuid4().hex[:8]}",
        "name": "Created over Kafka",
        "message_body": "Hi {{name|there}}",
    }
    await producer.publish(command, topic=CAMPAIGN_COMMANDS, key=command["campaign_id"].encode())
