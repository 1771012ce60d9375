"""A campaign's statistics come from counters that move with its messages' transitions, never
from a count of its messages: after a mix of outcomes (sent, failed, failed because the number
is not on WhatsApp, a failure recorded twice, a redrive) they equal what the messages say, and
the sweep's reconciliation puts a counter that drifted right. On the real app, Kafka and
MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker

from herald_core.messages.states import NOT_ON_WHATSAPP_FAILURES, MessageStatus
from herald_gateways.failures import NOT_ON_WHATSAPP
from herald_gateways.interface import GatewayError
from herald_infra.kafka.broker import build_broker
from herald_infra.messages.attempt_outcomes import RecordOrigin, fail_message
from herald_infra.messages.counters import reconcile_counters
from herald_infra.messages.queueing import send_event_from_document
from herald_infra.messages.redrive import requeue_failed_message
from herald_infra.messages.transitions import transition

from .conftest import (
    RunningService,
    campaign_settings,
    running_campaign_with_messages,
    running_service,
)

pytestmark = pytest.mark.integration

S = MessageStatus
ORIGIN = RecordOrigin("message.send.primary", 0, 0)


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    async with running_service(campaign_settings(kafka_bootstrap, mongodb_url, "stats")) as svc:
        yield svc


@pytest.fixture
def api(service: RunningService) -> httpx.AsyncClient:
    return service.client


@pytest.fixture(scope="module")
async def broker(service: RunningService) -> AsyncIterator[KafkaBroker]:
    broker = build_broker(service.settings, client_id="it-stats-counters")
    await broker.start()
    yield broker
    await broker.stop()


async def message(service: RunningService, campaign_id: str, n: int) -> Any:
    return await service.db["messages"].find_one({"_id": f"msg-{campaign_id}-{n}"})


async def fail(
    service: RunningService, broker: KafkaBroker, campaign_id: str, n: int, reason: str
) -> bool:
    """The sender's record of attempt ``n``'s permanent (not on WhatsApp) or retryable failure
    that ends its plan."""
    event = send_event_from_document(await message(service, campaign_id, n))
    error = GatewayError(reason, f"{reason} (test)", retryable=reason != NOT_ON_WHATSAPP)
    return await fail_message(
        service.db, broker, event, engine="primary", error=error, origin=ORIGIN
    )


async def counted_truth(service: RunningService, campaign_id: str) -> dict[str, int]:
    messages = service.db["messages"]
    failed = {"campaignId": campaign_id, "status": S.FAILED.value}
    return {
        "failed": await messages.count_documents(failed),
        "notOnWhatsapp": await messages.count_documents(
            {**failed, "failedReason": NOT_ON_WHATSAPP}
        ),
        "sent": await messages.count_documents({"campaignId": campaign_id, "status": "sent"}),
    }


async def test_stats_after_a_mix_of_outcomes_equal_the_counted_truth(
    api: httpx.AsyncClient, service: RunningService, broker: KafkaBroker
) -> None:
    campaign_id = await running_campaign_with_messages(api, service, [(S.SENDING, False)] * 8)
    for n in (0, 1, 2):
        assert await fail(service, broker, campaign_id, n, NOT_ON_WHATSAPP)
    for n in (3, 4):
        assert await fail(service, broker, campaign_id, n, "gateway-timeout")
    for n in (5, 6):
        assert await transition(
            service.db,
            message_id=f"msg-{campaign_id}-{n}",
            campaign_id=campaign_id,
            source=S.SENDING,
            target=S.SENT,
            attempt=1,
        )
    # A failure recorded a second time (a redelivered send record) moves nothing.
    assert not await fail(service, broker, campaign_id, 0, NOT_ON_WHATSAPP)
    # A redriven number that was not on WhatsApp leaves the failed ones: fails again, then is
    # redriven for good.
    assert await requeue_failed_message(service.db, await message(service, campaign_id, 1))
    assert await requeue_failed_message(service.db, await message(service, campaign_id, 3))

    stats = (await api.get(f"/api/messages/campaign/{campaign_id}/stats")).json()
    truth = await counted_truth(service, campaign_id)
    assert truth == {"failed": 3, "notOnWhatsapp": 2, "sent": 2}
    assert (stats["failed"], stats["notOnWhatsapp"], stats["sent"]) == (3, 2, 2)
    campaign = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None
    assert campaign[NOT_ON_WHATSAPP_FAILURES] == truth["notOnWhatsapp"]
    # Every counter equals a recount of the messages: the sweep has nothing to correct.
    assert await reconcile_counters(service.db, campaign_id) == {}


async def test_the_stats_read_the_counter_and_the_sweep_sets_a_drifted_one_right(
    api: httpx.AsyncClient, service: RunningService, broker: KafkaBroker
) -> None:
    campaign_id = await running_campaign_with_messages(api, service, [(S.SENDING, False)] * 3)
    for n in (0, 1):
        assert await fail(service, broker, campaign_id, n, NOT_ON_WHATSAPP)
    path = f"/api/messages/campaign/{campaign_id}/stats"
    # A process that died between a message's move and its counter's leaves the counter off;
    # the statistics show the counter (they count no messages) until the sweep corrects it.
    campaigns = service.db["campaigns"]
    await campaigns.update_one({"_id": campaign_id}, {"$set": {NOT_ON_WHATSAPP_FAILURES: 1}})
    assert (await api.get(path)).json()["notOnWhatsapp"] == 1
    assert await reconcile_counters(service.db, campaign_id) == {NOT_ON_WHATSAPP_FAILURES: 1}
    assert (await api.get(path)).json()["notOnWhatsapp"] == 2

    # A campaign from before the counter has none: its statistics count, until the sweep
    # gives it one.
    await campaigns.update_one({"_id": campaign_id}, {"$unset": {NOT_ON_WHATSAPP_FAILURES: ""}})
    assert (await api.get(path)).json()["notOnWhatsapp"] == 2
    assert await reconcile_counters(service.db, campaign_id) == {NOT_ON_WHATSAPP_FAILURES: 2}
    campaign = await campaigns.find_one({"_id": campaign_id})
    assert campaign is not None and campaign[NOT_ON_WHATSAPP_FAILURES] == 2


async def test_queue_stats_sum_the_tenants_counters(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    before = (await api.get("/api/messages/queue-stats")).json()["byStatus"]
    campaign_id = await running_campaign_with_messages(
        api, service, [(S.QUEUED, False), (S.SENT, False)]
    )
    # Counters are what queue-stats shows: a message whose counter moved is shown where the
    # counter says, without a count of the messages.
    await service.db["campaigns"].update_one(
        {"_id": campaign_id}, {"$inc": {"counts.queued": -1, "counts.sending": 1}}
    )
    after = (await api.get("/api/messages/queue-stats")).json()["byStatus"]
    assert after["queued"] == before["queued"]
    assert after["sending"] == before["sending"] + 1
    assert after["sent"] == before["sent"] + 1
