"""One campaign (or message) a sweep step fails on must not stop the step for the others.

Each sweep step works through campaigns or messages one at a time. An item whose work fails for
a reason other than an outage of MongoDB or Kafka (a document the step cannot read, an event it
cannot build) is skipped, and the step goes on with the next; its failure is in the sweep's
report. An item that failed ``HERALD_HANDLER_ATTEMPTS`` sweeps in a row gets a dead letter on
``message.dlt`` (reason ``internal-error``, the step and the error named), once per run of
failures; later sweeps still try it, so that it is handled once it is fixed. An outage stops
the step (every item would wait for it): the next sweep tries again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

from faststream.kafka import KafkaBroker

from herald_core.contracts.topics import MESSAGE_DLT
from herald_core.messages.dead_letters import dead_letter_headers
from herald_infra.kafka.handler_retries import (
    INTERNAL_ERROR,
    RetryPolicy,
    RetryState,
    describe,
    is_outage,
)
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import DEAD_LETTERED, HANDLER_FAILURES

log = get_logger(__name__)

T = TypeVar("T")

SWEEP_ORIGIN = "sweep"
"""The original topic a sweep item's dead letter names: nothing publishes it again."""


def sweep_dead_letter_id(step: str, item_id: str) -> str:
    """One dead letter per step and item, however often it is given up."""
    return "dlt_" + hashlib.sha256(f"sweep|{step}|{item_id}".encode()).hexdigest()[:32]


class SweepItemFailures:
    """Runs each item's work of a sweep step, keeping one item's failure from the others."""

    def __init__(self, broker: KafkaBroker, policy: RetryPolicy) -> None:
        self._broker = broker
        self._policy = policy
        self._failures: RetryState[tuple[str, str]] = RetryState(policy)

    async def run(
        self,
        step: str,
        work: Callable[[], Awaitable[T]],
        *,
        campaign_id: str,
        tenant_id: str | None = None,
        message_id: str | None = None,
        errors: dict[str, str] | None = None,
    ) -> T | None:
        """``work()``'s result, or None when it failed for a reason other than an outage
        (recorded in ``errors`` under ``step:item``; dead-lettered once it failed the policy's
        attempts in a row); an outage is raised."""
        item_id = message_id or campaign_id
        key = (step, item_id)
        try:
            result = await work()
        except Exception as error:
            if is_outage(error):
                raise
            if errors is not None:
                errors[f"{step}:{item_id}"] = describe(error)[:500]
            given_up = self._failures.failed(key, error) is None
            HANDLER_FAILURES.labels(
                topic=SWEEP_ORIGIN, outcome="given-up" if given_up else "retried"
            ).inc()
            log.error(
                "sweep step failed on one item; the others go on",
                step=step,
                campaign_id=campaign_id,
                message_id=message_id,
                error=describe(error)[:300],
            )
            if given_up:
                await self._dead_letter(step, item_id, campaign_id, tenant_id, message_id, error)
            return None
        self._failures.succeeded(key)
        return result

    async def _dead_letter(
        self,
        step: str,
        item_id: str,
        campaign_id: str,
        tenant_id: str | None,
        message_id: str | None,
        error: Exception,
    ) -> None:
        payload = {
            "step": step,
            "tenant_id": tenant_id,
            "campaign_id": campaign_id,
            "message_id": message_id,
        }
        headers = dead_letter_headers(
            topic=SWEEP_ORIGIN,
            partition=-1,
            offset=-1,
            error=error,
            error_message=f"sweep step {step}: {describe(error)}",
            reason=INTERNAL_ERROR,
            attempts=self._policy.attempts,
            dead_letter_id=sweep_dead_letter_id(step, item_id),
        )
        try:
            await self._broker.publish(
                json.dumps(payload).encode(),
                topic=MESSAGE_DLT,
                key=campaign_id.encode(),
                headers=headers,
            )
        except Exception as failure:  # the sweep goes on; the next one tries again
            if is_outage(failure):
                raise
            log.error("sweep item's dead letter not published", error=describe(failure)[:300])
            return
        DEAD_LETTERED.labels(topic=SWEEP_ORIGIN, reason=INTERNAL_ERROR).inc()
