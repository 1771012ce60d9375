"""The delivery worker: a background task of every campaign replica that sends due
notifications.

Each delivery is claimed by compare-and-set with a lease before its request is sent, so of
several replicas only one sends a given attempt; a replica that dies mid-request leaves a claim
that falls due again when its lease ends (that attempt may then reach the receiver twice: the
``X-Herald-Delivery`` id lets the receiver tell). Every attempt is recorded on the delivery and
on the endpoint's health. Requests run concurrently (up to ``max_in_flight``), so one slow
endpoint does not hold up the others.

Endpoint URLs are tenants' input: every connection is checked and pinned
(``herald_infra.outbound``), redirects are not followed, and what is recorded of an attempt is
a fixed form (a status code, or why there was none) that never quotes what came back. An
endpoint at an address Herald may not fetch records that reason and no status code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from prometheus_client import Counter, Histogram
from structlog.contextvars import bound_contextvars

from herald_campaign.adapters.notification_repositories import (
    DeliveryRepository,
    EndpointRepository,
)
from herald_campaign.domain.notifications.attempts import (
    AttemptResult,
    DeliveryStatus,
    outcome_of_attempt,
)
from herald_campaign.domain.notifications.backoff import RetrySchedule
from herald_campaign.domain.notifications.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature,
)
from herald_core.contracts.common import utc_now
from herald_infra.mongo.client import Document
from herald_infra.outbound.pinned_connections import pinned_client
from herald_infra.outbound.public_addresses import AddressRefused, OutboundAllow
from herald_infra.runtime.logging import get_logger

USER_AGENT = "Herald-Notifications/1"
LEASE_MARGIN_SECONDS = 30.0
"""A claim's lease outlasts the request timeout by this much before another replica may
take the delivery over."""
STOP_GRACE_SECONDS = 5.0
MIN_WAIT_SECONDS = 0.01

log = get_logger(__name__)

NOTIFICATION_DELIVERIES = Counter(
    "herald_notification_deliveries_total",
    "Webhook notification attempts by outcome: delivered, retrying (failed, tried again "
    "later), failed (gave up), dropped (its endpoint was deleted).",
    ["outcome"],
)
NOTIFICATION_LATENCY = Histogram(
    "herald_notification_delivery_seconds",
    "Time of one webhook notification request, answered or not.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def worker_name() -> str:
    """Who holds a claim: host and process."""
    return f"{socket.gethostname()}-{os.getpid()}"


class DeliveryWorker:
    def __init__(
        self,
        endpoints: EndpointRepository,
        deliveries: DeliveryRepository,
        *,
        schedule: RetrySchedule,
        timeout_seconds: float,
        owner: str | None = None,
        max_in_flight: int = 16,
        poll_seconds: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
        draw: Callable[[], float] = random.random,
        outbound_allow: OutboundAllow | None = None,
    ) -> None:
        """``outbound_allow``: the non-public addresses an endpoint may be at all the same
        (HERALD_OUTBOUND_ALLOW; None: none)."""
        self._outbound_allow = outbound_allow or OutboundAllow()
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._schedule = schedule
        self._timeout = timeout_seconds
        self._lease = timedelta(seconds=timeout_seconds + LEASE_MARGIN_SECONDS)
        self._owner = owner or worker_name()
        self._max_in_flight = max_in_flight
        self._poll = poll_seconds
        self._clock = clock
        self._draw = draw
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = pinned_client(
            self._outbound_allow, timeout_seconds=self._timeout, headers={"User-Agent": USER_AGENT}
        )
        self._task = asyncio.create_task(self._run(), name="notification-delivery")

    async def stop(self) -> None:
        """Stop claiming; give requests in flight a moment, then cancel them (their claims
        fall due again when the lease ends)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        """Look for due deliveries now (new ones were queued)."""
        self._wake.set()

    async def deliver_due(self) -> int:
        """Claim due deliveries while there is room and start their attempts; how many."""
        room = self._max_in_flight - len(self._in_flight)
        if room <= 0:
            return 0
        now = self._clock()
        started = 0
        for document in await self._deliveries.due(now, room):
            claim_id = uuid.uuid4().hex
            claimed = await self._deliveries.claim(
                document,
                claim_id=claim_id,
                owner=self._owner,
                now=now,
                lease_until=now + self._lease,
            )
            if not claimed:
                continue  # another replica took it
            task = asyncio.create_task(self._attempt(document, claim_id))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
            started += 1
        return started

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            wait = self._poll
            try:
                await self.deliver_due()
                wait = await self._seconds_to_next_due()
            except Exception as error:
                log.warning("notification delivery pass failed; trying again", error=repr(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, MIN_WAIT_SECONDS))

    async def _seconds_to_next_due(self) -> float:
        """How long to sleep: until the next delivery falls due, at most ``poll_seconds`` (other
        replicas queue deliveries too; this one wakes at once for its own)."""
        if len(self._in_flight) >= self._max_in_flight:
            return self._poll  # a finishing attempt wakes the loop
        due = await self._deliveries.next_due_at()
        if due is None:
            return self._poll
        return min(max((due - self._clock()).total_seconds(), 0.0), self._poll)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()
        if not task.cancelled() and (error := task.exception()) is not None:
            # The claim stays; the delivery falls due again when its lease ends.
            log.error("notification attempt crashed", error=repr(error))

    async def _attempt(self, delivery: Document, claim_id: str) -> None:
        delivery_id: str = delivery["_id"]
        endpoint_id: str = delivery["endpointId"]
        with bound_contextvars(
            delivery_id=delivery_id, endpoint_id=endpoint_id, campaign_id=delivery.get("campaignId")
        ):
            endpoint = await self._endpoints.by_id(endpoint_id)
            if endpoint is None:
                await self._deliveries.drop(delivery_id)
                NOTIFICATION_DELIVERIES.labels(outcome="dropped").inc()
                log.info("notification dropped: its endpoint was deleted")
                return
            attempt = int(delivery["attempts"]) + 1
            body = str(delivery["body"]).encode("ascii")
            headers = {
                "Content-Type": "application/json",
                EVENT_HEADER: str(delivery["type"]),
                DELIVERY_HEADER: delivery_id,
                SIGNATURE_HEADER: signature(body, endpoint.secret),
            }
            started = time.perf_counter()
            result = await self._post(endpoint.url, body, headers)
            seconds = time.perf_counter() - started
            NOTIFICATION_LATENCY.observe(seconds)
            at = self._clock()
            outcome = outcome_of_attempt(result, attempt, self._schedule, at, self._draw())
            if not await self._deliveries.record_outcome(
                delivery_id, claim_id, outcome, at, seconds
            ):
                log.info("notification claim lost meanwhile; outcome not recorded", attempt=attempt)
                return
            await self._endpoints.record_attempt(endpoint_id, outcome, at)
            NOTIFICATION_DELIVERIES.labels(outcome=outcome.status.value).inc()
            if outcome.status is DeliveryStatus.DELIVERED:
                log.info(
                    "notification delivered",
                    type=delivery["type"],
                    attempt=attempt,
                    status_code=outcome.status_code,
                )
            else:
                log.warning(
                    "notification delivery failed",
                    type=delivery["type"],
                    attempt=attempt,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    gave_up=outcome.status is DeliveryStatus.FAILED,
                    next_attempt_at=(
                        outcome.next_attempt_at.isoformat() if outcome.next_attempt_at else None
                    ),
                )

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        """POST the body; the answer's status (its body is not read), or why there was none."""
        if self._client is None:
            raise RuntimeError("the delivery worker is not started")
        try:
            # The client's timeout bounds each phase; this bounds the whole request.
            async with (
                asyncio.timeout(self._timeout),
                self._client.stream("POST", url, content=body, headers=headers) as response,
            ):
                return AttemptResult.answered(response.status_code, response.reason_phrase)
        except (TimeoutError, httpx.TimeoutException):
            return AttemptResult.no_answer(f"no answer within {self._timeout:g}s")
        except AddressRefused as refused:
            return AttemptResult.no_answer(f"not sent: {refused}")
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as error:
            # The exception's words may quote what the address sent back (a banner): not kept.
            return AttemptResult.no_answer(f"request failed: {type(error).__name__}")
