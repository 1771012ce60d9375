"""The attempt plan end to end: primary, fallback at once, fallback after the back-off, then a
dead letter; permanent errors stop at once. Simulator fault injection, real processes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from tests.system import (
    RunningStack,
    launch_campaign,
    phones,
    sends_of,
    set_gateway_mode,
    wait_for_statuses,
)

from .conftest import BACK_OFF_SECONDS

pytestmark = pytest.mark.e2e

Mongo = AsyncMongoClient[dict[str, Any]]


async def stats_of(api: httpx.AsyncClient, campaign_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/messages/campaign/{campaign_id}/stats")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("mode", "reason"), [("fail_5xx", "gateway-error"), ("rate_limit", "rate-limited")]
)
async def test_a_retryable_primary_failure_is_sent_by_the_fallback(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: Mongo,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
    mode: str,
    reason: str,
) -> None:
    await set_gateway_mode(primary, mode)
    campaign_id = await launch_campaign(api, phones(1, prefix="+1212"))

    [message] = await wait_for_statuses(mongo, stack, campaign_id, 1, {"sent", "failed"})

    assert message["status"] == "sent"
    assert message["deliveryMethod"] == "web-js"
    assert message["retryCount"] == 1
    assert [(a["engine"], a["outcome"], a["reason"]) for a in message["attempts"]] == [
        ("baileys", "failed", reason),
        ("web-js", "sent", None),
    ]
    assert [s["outcome"] for s in await sends_of(primary, message["_id"])] == [mode]
    [accepted] = await sends_of(fallback, message["_id"])
    assert accepted["outcome"] == "accepted"
    assert message["gatewayMessageId"] == accepted["gatewayMessageId"]  # the bare id


async def test_both_engines_failing_make_a_third_attempt_after_the_back_off_then_a_dead_letter(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: Mongo,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    await set_gateway_mode(primary, "fail_5xx")
    await set_gateway_mode(fallback, "fail_5xx")
    async with TopicReader(stack.config.kafka_bootstrap, "message.dlt") as dead_letter_topic:
        campaign_id = await launch_campaign(api, phones(1, prefix="+1213"))
        [message] = await wait_for_statuses(mongo, stack, campaign_id, 1, {"sent", "failed"})
        found = await dead_letter_topic.read_until(
            lambda records: any(message["_id"].encode() in r.value for r in records)
        )

    assert message["status"] == "failed"
    assert message["failedReason"] == "gateway-error"
    assert message["retryCount"] == 2
    assert [(a["engine"], a["outcome"]) for a in message["attempts"]] == [
        ("baileys", "failed"),
        ("web-js", "failed"),
        ("web-js", "failed"),
    ]
    fallback_sends = await sends_of(fallback, message["_id"])
    assert len(fallback_sends) == 2
    waited = fallback_sends[1]["time"] - fallback_sends[0]["time"]
    assert BACK_OFF_SECONDS <= waited < BACK_OFF_SECONDS + 10, waited

    [record] = [r for r in found if message["_id"].encode() in r.value]
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["kafka_dlt-original-topic"] == "message.send.fallback"
    assert int(headers["kafka_dlt-original-partition"]) >= 0
    assert int(headers["kafka_dlt-original-offset"]) >= 0
    assert headers["kafka_dlt-exception-fqcn"] == "herald_gateways.interface.GatewayError"
    assert "attempt plan exhausted" in headers["kafka_dlt-exception-message"]
    assert headers["herald-dlt-reason"] == "gateway-error"
    assert headers["herald-dlt-attempts"] == "3"
    assert headers["herald-dlt-first-failure"] < headers["herald-dlt-last-failure"]

    # The dispatcher recorded it; the API lists exactly that one for the campaign.
    listed = await eventually(
        lambda: api.get("/api/dead-letters", params={"campaignId": campaign_id}),
        lambda r: r.status_code == 200 and len(r.json()["deadLetters"]) == 1,
        what="the dead letter recorded",
    )
    [letter] = listed.json()["deadLetters"]
    assert letter["messageId"] == message["_id"]
    assert letter["reason"] == "gateway-error"
    assert letter["attempts"] == 3
    assert letter["originalTopic"] == "message.send.fallback"

    stats = await stats_of(api, campaign_id)
    assert (stats["total"], stats["failed"], stats["sent"]) == (1, 1, 0)


async def test_a_permanent_error_fails_the_message_at_once(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: Mongo,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    await set_gateway_mode(primary, "bad_request")  # a 400 the gateway really answers
    campaign_id = await launch_campaign(api, phones(1, prefix="+1214"))

    [message] = await wait_for_statuses(mongo, stack, campaign_id, 1, {"sent", "failed"})
    assert message["status"] == "failed"
    assert message["failedReason"] == "body-rejected"
    assert message["retryable"] is False
    assert message["retryCount"] == 0
    assert len(message["attempts"]) == 1
    # Its dead letter is the last thing that happens to it; by then no other call was made.
    await eventually(
        lambda: api.get("/api/dead-letters", params={"campaignId": campaign_id}),
        lambda r: r.status_code == 200 and len(r.json()["deadLetters"]) == 1,
        what="the dead letter recorded",
    )
    assert len(await sends_of(primary, message["_id"])) == 1
    assert await sends_of(fallback, message["_id"]) == []
    stats = await stats_of(api, campaign_id)
    assert stats["failed"] == 1
