"""Cancelling a campaign with many unsent messages, against the real Kafka broker and
MongoDB-wire server: the cancel answers in a time that does not depend on how many messages
wait (the senders refuse the campaign from the moment it answers), and the messages then all
end ``cancelled`` in batches, with exact counters, the unsent worker running beside it as the
scheduler runs it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from herald_core.contracts.events import CampaignCancelled, campaign_event_adapter
from herald_core.contracts.topics import CAMPAIGN_EVENTS
from herald_core.messages.states import MessageStatus
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from herald_infra.messages.counters import recount
from herald_infra.messages.unsent_endings import UnsentEndings
from herald_sender.campaign_gate import CampaignGate, GateDecision

from .conftest import (
    RunningService,
    by_key,
    campaign_settings,
    campaign_with_contacts,
    message_document,
    running_service,
)

pytestmark = pytest.mark.integration
S = MessageStatus
SIZE = 20_000
SENT = 100
SENDERS_SEE_WITHIN = 1.0
"""How long a sender trusts a campaign status it read (the default of
``HERALD_CAMPAIGN_STATE_CACHE_SECONDS``)."""


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "cancel_scale")
    assert settings.campaign_state_cache_seconds == SENDERS_SEE_WITHIN
    async with running_service(settings) as svc:
        yield svc


async def running_campaign(service: RunningService, unsent: int, sent: int) -> str:
    """A running campaign with ``unsent`` messages waiting (queued, some pending or retrying)
    and ``sent`` sent, its counters matching them."""
    api = service.client
    campaign_id = await campaign_with_contacts(api)
    assert (await api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202
    statuses = [S.SENT] * sent + [S.PENDING, S.RETRYING] + [S.QUEUED] * (unsent - 2)
    documents = [message_document(campaign_id, n, s) for n, s in enumerate(statuses)]
    for start in range(0, len(documents), 5000):
        await service.db["messages"].insert_many(documents[start : start + 5000])
    counts = {"total": len(documents), "sent": sent, "pending": 1, "retrying": 1}
    counts["queued"] = unsent - 2
    await service.db["campaigns"].update_one(
        {"_id": campaign_id}, {"$set": {f"counts.{k}": v for k, v in counts.items()}}
    )
    return campaign_id


async def cancelled(service: RunningService, campaign_id: str) -> int:
    return int(
        await service.db["messages"].count_documents(
            {"status": "cancelled", "campaignId": campaign_id}
        )
    )


@contextlib.asynccontextmanager
async def unsent_worker(service: RunningService, *, batch_size: int) -> AsyncIterator[None]:
    """The scheduler's unsent worker, rounds after rounds, while the block runs."""
    endings = UnsentEndings(service.db, batch_size=batch_size)

    async def rounds() -> None:
        while True:
            report = await endings.run_round()
            if not (report.found or report.finished):
                await asyncio.sleep(0.05)

    task = asyncio.create_task(rounds())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_cancel_of_twenty_thousand_unsent_messages_answers_before_they_move(
    service: RunningService,
) -> None:
    api: httpx.AsyncClient = service.client
    campaign_id = await running_campaign(service, SIZE, SENT)
    gate = CampaignGate.reading(service.db, cache_seconds=SENDERS_SEE_WITHIN)
    # A sender sending the campaign just before the cancel: it trusts "running" for a while.
    assert await gate.decide(campaign_id, None, datetime.now(UTC)) is GateDecision.SEND

    async with (
        unsent_worker(service, batch_size=1000),
        TopicReader(service.kafka, CAMPAIGN_EVENTS) as events,
    ):
        started = time.perf_counter()
        response = await api.post(f"/api/campaigns/{campaign_id}/cancel", json={"reason": "stop"})
        answered_after = time.perf_counter() - started
        # From the answer on, no sender sends a message of the campaign.
        assert await gate.decide(campaign_id, None, datetime.now(UTC)) is GateDecision.CANCEL
        moved_at_answer = await cancelled(service, campaign_id)

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["cancelReason"], body["cancelledMessages"]) == (
            "cancelled",
            "stop",
            SIZE,
        )
        await eventually(
            lambda: service.db["unsent_endings"].find_one({"_id": campaign_id}),
            lambda entry: entry is None,
            timeout=900,
            interval=0.5,
            what="every unsent message ended",
        )
        all_moved_after = time.perf_counter() - started
        published = [
            campaign_event_adapter.validate_json(r.value)
            for r in by_key(await events.read_to_end(), campaign_id)
        ]

    print(
        f"\ncancel of {SIZE} unsent: answered in {answered_after:.2f} s "
        f"({moved_at_answer} moved by then), all moved in {all_moved_after:.2f} s"
    )
    # The answer came before the messages moved, and took a fraction of their moving.
    assert moved_at_answer < SIZE / 2
    assert answered_after < all_moved_after / 4
    assert await cancelled(service, campaign_id) == SIZE
    stored = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert stored is not None
    counts = {k: v for k, v in stored["counts"].items() if v}
    assert counts == {"total": SIZE + SENT, "sent": SENT, "cancelled": SIZE}
    assert counts == {k: v for k, v in (await recount(service.db, campaign_id)).items() if v}
    assert [e.type for e in published] == ["campaign.cancelled"]
    assert isinstance(published[0], CampaignCancelled)
    assert published[0].cancelled_messages == SIZE


async def test_a_cancel_whose_worker_stopped_mid_way_is_finished_by_the_next(
    service: RunningService,
) -> None:
    size = 3000
    campaign_id = await running_campaign(service, size, 0)
    async with unsent_worker(service, batch_size=200):
        response = await service.client.post(f"/api/campaigns/{campaign_id}/cancel")
        assert response.status_code == 200, response.text
        await eventually(
            lambda: cancelled(service, campaign_id),
            lambda moved: moved >= 400,
            timeout=300,
            what="a few batches moved",
        )
    # The worker's process died: part of the messages moved, the rest wait, still queued.
    stopped_at = await cancelled(service, campaign_id)
    assert stopped_at < size
    assert await service.db["unsent_endings"].find_one({"_id": campaign_id}) is not None

    async with unsent_worker(service, batch_size=200):
        await eventually(
            lambda: service.db["unsent_endings"].find_one({"_id": campaign_id}),
            lambda entry: entry is None,
            timeout=300,
            what="the next worker finished it",
        )

    assert await cancelled(service, campaign_id) == size
    stored = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert stored is not None
    assert {k: v for k, v in stored["counts"].items() if v} == {"total": size, "cancelled": size}
