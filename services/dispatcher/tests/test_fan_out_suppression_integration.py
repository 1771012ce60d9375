"""The fan-out and the tenant's suppression list, against the real Kafka broker and
MongoDB-wire server: a suppressed number gets no message, is counted once per run however often
the fan-out runs, and another tenant's list does not count (unless the scope is global)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from herald_core.contracts.events import CampaignLaunched
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_core.recipients.suppression import SuppressionReason, SuppressionScope
from herald_dispatcher.fan_out import fan_out_campaign
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_infra.mongo.client import ensure_indexes
from herald_infra.recipients.suppressions import suppress
from herald_infra.runtime.settings import HeraldSettings

from .conftest import (
    ROOMY_SHARED_GATEWAY,
    add_running_campaign,
    counts_of,
    messages_of,
    new_tenant,
    phones,
)

pytestmark = pytest.mark.integration
BATCH = 3
CONTACTS = 10


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_fan_out_suppr_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
async def broker(settings: HeraldSettings, db: Any) -> AsyncIterator[KafkaBroker]:
    await ensure_indexes(db)
    await ensure_topics(settings)
    kafka = build_broker(settings, client_id="it-fan-out-suppression")
    await kafka.start()
    yield kafka
    await kafka.stop()


async def fan_out(
    db: Any, broker: KafkaBroker, tenant: str, campaign_id: str, scope: SuppressionScope
) -> int:
    return await fan_out_campaign(
        db,
        broker,
        CampaignLaunched(tenant_id=tenant, campaign_id=campaign_id),
        shared_gateway=ROOMY_SHARED_GATEWAY,
        batch_size=BATCH,
        send_topic=MESSAGE_SEND_PRIMARY,
        clock=lambda: datetime.now(UTC),
        suppression_scope=scope,
    )


async def test_a_suppressed_number_gets_no_message_and_is_counted_once(
    db: Any, broker: KafkaBroker
) -> None:
    tenant = new_tenant()
    numbers = phones(CONTACTS, start=500)
    campaign_id = await add_running_campaign(db, tenant, numbers)
    stopped = {numbers[1], numbers[4], numbers[9]}  # in the first, second and last batch
    for phone in stopped:
        await suppress(db, tenant, phone, SuppressionReason.KEYWORD, {})

    queued = await fan_out(db, broker, tenant, campaign_id, SuppressionScope.TENANT)
    again = await fan_out(db, broker, tenant, campaign_id, SuppressionScope.TENANT)

    made = {m["phone"] for m in await messages_of(db, campaign_id)}
    assert made == set(numbers) - stopped
    assert queued == CONTACTS - len(stopped)
    assert again == 0  # all there already
    campaign = await db["campaigns"].find_one({"_id": campaign_id})
    assert campaign["suppressedAtFanOut"] == len(stopped)
    assert (await counts_of(db, campaign_id))["total"] == CONTACTS - len(stopped)


async def test_another_tenants_opt_out_counts_only_in_the_global_scope(
    db: Any, broker: KafkaBroker
) -> None:
    tenant, other = new_tenant(), new_tenant()
    numbers = phones(4, start=700)
    await suppress(db, other, numbers[0], SuppressionReason.KEYWORD, {})

    own = await add_running_campaign(db, tenant, numbers)
    assert await fan_out(db, broker, tenant, own, SuppressionScope.TENANT) == 4

    shared = await add_running_campaign(db, tenant, numbers)
    assert await fan_out(db, broker, tenant, shared, SuppressionScope.GLOBAL) == 3
    assert {m["phone"] for m in await messages_of(db, shared)} == set(numbers[1:])
