"""Dead letters: a tenant reads and redrives its own; an operator every tenant's, and the poison
records that named no tenant (:class:`~herald_campaign.domain.dead_letters.DeadLetterScope`).

Redriving a message's dead letter gives the message a fresh attempt plan (shared
:func:`~herald_infra.messages.redrive.requeue_failed_message`: same id, attempt history kept) and
publishes its send event on the plan's first topic; only a ``failed`` message can be redriven,
so a dead letter never makes a message send twice. Redriving a poison record (no message) publishes
its original bytes and key again on the Herald topic it came from, for when the consumer was
fixed or the campaign it named exists now. Either way the dead letter is marked ``redriven``
once Kafka has acknowledged the publish.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Collection, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from herald_campaign.domain.dead_letters import DeadLetterScope, message_refusal, poison_refusal
from herald_campaign.service_layer.campaigns import CampaignService
from herald_campaign.service_layer.errors import DeadLetterNotFound, RedriveRefused
from herald_campaign.service_layer.ports import RedrivePublisher
from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.events import SendMessage
from herald_core.messages.dead_letters import DeadLetterStatus
from herald_core.messages.states import MessageStatus
from herald_infra.messages.redrive import mark_ids_redriven, requeue_failed_message
from herald_infra.mongo.client import DEAD_LETTERS, MESSAGES, Database, Document
from herald_infra.mongo.id_batches import find_by_ids
from herald_infra.runtime.logging import bind_context, get_logger

log = get_logger(__name__)

REDRIVE_OF = "herald-redrive-of"
"""Header of a republished poison record: the id of the dead letter it came from."""


FIRST_WINDOW = timedelta(seconds=1)
"""A page is read newest first in ``recordedAt`` windows (SecantusDB reads every document a
query matches before it sorts and limits, so a query must be bounded to be cheap); the first
window is the last second, each next one sized from what the walk found so far."""
WINDOW_GROWTH = 8
"""The most a window grows over the last one (and how much an empty one grows)."""
OLDEST = datetime(1970, 1, 1, tzinfo=UTC)
"""Once a window would reach back past this, the walk reads everything older in one go."""
COUNT_CAP = 200
"""``total`` is exact up to this many; beyond, a lower bound (``total_is_lower_bound``).
Counting means reading (SecantusDB decodes every document it counts, about 0.5 ms each on a
busy machine): an exact count of a million dead letters costs seconds a request."""


@dataclass(frozen=True)
class DeadLetterFilter:
    campaign_id: str | None = None
    reason: str | None = None
    status: DeadLetterStatus | None = None

    def index_selector(self, scope: DeadLetterScope) -> dict[str, Any]:
        """The part of the filter an index serves with a ``recordedAt`` range: the scope, and the
        campaign when the scope names a tenant (or none)."""
        selector = scope.selector()
        if selector and self.campaign_id is not None:
            selector["campaignId"] = self.campaign_id
        return selector

    def matches(self, dead_letter: Mapping[str, Any]) -> bool:
        """Whether ``dead_letter`` (already in the scope) passes every filter."""
        return (
            (self.campaign_id is None or dead_letter.get("campaignId") == self.campaign_id)
            and (self.reason is None or dead_letter.get("reason") == self.reason)
            and (self.status is None or dead_letter.get("status") == self.status.value)
        )


@dataclass(frozen=True)
class DeadLetterPage:
    dead_letters: list[Document]
    total: int
    total_is_lower_bound: bool = False
    """``total`` counts only the newest :data:`COUNT_CAP` or more; there are more."""


@dataclass(frozen=True)
class Redriven:
    """What one redrive did."""

    dead_letter: Document
    """The dead letter after the redrive."""
    topic: str
    """Where it was published: the plan's first send topic, or the poison record's own topic."""
    message: Document | None
    """The message with its new attempt; None for a poison record."""


@dataclass(frozen=True)
class CampaignRedrive:
    redriven: int
    skipped: int
    """Open dead letters left open: their message is no longer failed (or is gone), or a
    poison record has no Herald topic to go back to."""


class DeadLetterService:
    def __init__(
        self,
        db: Database,
        redrives: RedrivePublisher,
        campaigns: CampaignService,
        *,
        plan: AttemptPlan,
        redrivable_topics: Collection[str],
        batch_size: int = 500,
    ) -> None:
        self._db = db
        self._dead_letters = db[DEAD_LETTERS]
        self._messages = db[MESSAGES]
        self._redrives = redrives
        self._campaigns = campaigns
        self._plan = plan
        self._redrivable_topics = redrivable_topics
        self._batch_size = batch_size

    async def list_dead_letters(
        self, scope: DeadLetterScope, which: DeadLetterFilter, *, limit: int, offset: int
    ) -> DeadLetterPage:
        """The dead letters in ``scope`` matching ``which``, newest first; ``total`` exact up to
        :data:`COUNT_CAP`. Reads about ``max(offset + limit, COUNT_CAP)`` dead letters, however
        many the scope holds."""
        wanted = max(offset + limit, COUNT_CAP + 1)
        found: list[Document] = []
        exhausted = True
        async with aclosing(self._newest_first(scope, which, wanted)) as windows:
            async for window in windows:
                found += window
                if len(found) >= wanted:
                    exhausted = False
                    break
        return DeadLetterPage(
            found[offset : offset + limit], len(found), total_is_lower_bound=not exhausted
        )

    async def _newest_first(
        self, scope: DeadLetterScope, which: DeadLetterFilter, wanted: int
    ) -> AsyncGenerator[list[Document]]:
        """The matching dead letters, one ``recordedAt`` window at a time, newest first, each
        window sorted newest first; windows are sized to reach ``wanted`` in a few reads."""
        selector = which.index_selector(scope)
        now = datetime.now(UTC)
        upper: datetime | None = None  # the first window is open-ended: a clock a little ahead
        span = FIRST_WINDOW
        found = 0
        while True:
            lower = (upper or now) - span if (upper or now) - span > OLDEST else None
            bounds: dict[str, datetime] = {}
            if lower is not None:
                bounds["$gte"] = lower
            if upper is not None:
                bounds["$lt"] = upper
            window = [
                d
                async for d in self._dead_letters.find(
                    {**selector, "recordedAt": bounds} if bounds else selector,
                    {"rawPayload": 0, "rawKey": 0},
                ).sort([("recordedAt", -1), ("_id", -1)])
                if which.matches(d)
            ]
            yield window
            if lower is None:
                return
            found += len(window)
            walked = now - lower
            # At the density seen so far, the span that holds what is still wanted.
            needed = walked * ((wanted - found) / found) if found else span * WINDOW_GROWTH
            span = min(max(needed, FIRST_WINDOW), span * WINDOW_GROWTH)
            upper = lower

    async def get_dead_letter(self, scope: DeadLetterScope, dead_letter_id: str) -> Document:
        found = await self._dead_letters.find_one({"_id": dead_letter_id, **scope.selector()})
        if found is None:
            raise DeadLetterNotFound(dead_letter_id)
        return found

    async def redrive(self, scope: DeadLetterScope, dead_letter_id: str) -> Redriven:
        """Redrive one dead letter in ``scope`` (see the module); :class:`RedriveRefused` when
        its message is no longer failed or a poison record has nowhere to go."""
        bind_context(dead_letter_id=dead_letter_id)
        letter = await self.get_dead_letter(scope, dead_letter_id)
        if letter.get("messageId"):
            message = await self._redrive_message(letter)
            topic = self._plan.first_topic
        else:
            topic = await self._republish(letter)
            message = None
        await self._mark_redriven([letter["_id"]])
        log.info("dead letter redriven", topic=topic, message_id=letter.get("messageId"))
        return Redriven(await self.get_dead_letter(scope, dead_letter_id), topic, message)

    async def _redrive_message(self, letter: Document) -> Document:
        message_id = str(letter["messageId"])
        message = await self._messages.find_one({"_id": message_id, "tenantId": letter["tenantId"]})
        refusal = message_refusal(message_id, message["status"] if message else None)
        if refusal is not None:
            raise RedriveRefused(refusal, "message-not-failed")
        assert message is not None
        event = await requeue_failed_message(self._db, message)
        if event is None:  # moved on since we read it
            current = await self._messages.find_one({"_id": message_id}, {"status": 1})
            status = current["status"] if current else None
            raise RedriveRefused(
                message_refusal(message_id, status) or f"message {message_id} moved on",
                "message-not-failed",
            )
        await self._redrives.publish_send_events([event], self._plan.first_topic)
        requeued = await self._messages.find_one({"_id": message_id})
        assert requeued is not None
        return requeued

    async def _republish(self, letter: Document) -> str:
        refusal = poison_refusal(letter, self._redrivable_topics)
        if refusal is not None:
            raise RedriveRefused(refusal, "no-topic")
        topic = str(letter["originalTopic"])
        raw_key = letter.get("rawKey")
        await self._redrives.republish_record(
            bytes(letter["rawPayload"]),
            topic=topic,
            key=bytes(raw_key) if raw_key is not None else None,
            headers={REDRIVE_OF: str(letter["_id"])},
        )
        return topic

    async def _mark_redriven(self, dead_letter_ids: list[Any]) -> None:
        await mark_ids_redriven(self._db, dead_letter_ids)

    async def redrive_campaign(self, tenant_id: str, campaign_id: str) -> CampaignRedrive:
        """Redrive every open dead letter of a campaign, oldest first; a dead letter whose
        message is no longer failed is skipped (and stays open)."""
        bind_context(campaign_id=campaign_id)
        await self._campaigns.get_campaign(tenant_id, campaign_id)
        redriven = skipped = 0
        async for letters in self._open_letters_in_batches(tenant_id, campaign_id):
            done, events = await self._requeue_batch(letters)
            await self._redrives.publish_send_events(events, self._plan.first_topic)
            await self._mark_redriven(done)
            redriven += len(done)
            skipped += len(letters) - len(done)
        log.info("campaign dead letters redriven", redriven=redriven, skipped=skipped)
        return CampaignRedrive(redriven=redriven, skipped=skipped)

    async def _open_letters_in_batches(
        self, tenant_id: str, campaign_id: str
    ) -> AsyncIterator[list[Document]]:
        selector: Document = {
            **DeadLetterScope.of_tenant(tenant_id).selector(),
            "campaignId": campaign_id,
            "status": DeadLetterStatus.OPEN.value,
        }
        # Ids first: redriving moves the dead letters out of the selection.
        ids = [
            d["_id"]
            async for d in self._dead_letters.find(selector, {"_id": 1}).sort(
                [("recordedAt", 1), ("_id", 1)]
            )
        ]
        for start in range(0, len(ids), self._batch_size):
            chunk = ids[start : start + self._batch_size]
            yield await find_by_ids(self._dead_letters, chunk, selector)

    async def _requeue_batch(self, letters: list[Document]) -> tuple[list[Any], list[SendMessage]]:
        """Requeue the failed messages of ``letters`` and publish their poison records again;
        returns the ids of the dead letters redriven and the send events still to publish."""
        message_ids = {str(m) for letter in letters if (m := letter.get("messageId"))}
        messages = {
            m["_id"]: m
            for m in await find_by_ids(
                self._messages, sorted(message_ids), {"status": MessageStatus.FAILED.value}
            )
        }
        done: list[Any] = []
        events: list[SendMessage] = []
        for letter in letters:
            message_id = letter.get("messageId")
            if message_id:
                message = messages.get(message_id)
                if message is None or message.get("tenantId") != letter["tenantId"]:
                    continue
                # None when a dead letter earlier in the batch requeued the same message.
                event = await requeue_failed_message(self._db, message)
                if event is not None:
                    events.append(event)
                    done.append(letter["_id"])
            elif poison_refusal(letter, self._redrivable_topics) is None:
                await self._republish(letter)
                done.append(letter["_id"])
        return done, events
