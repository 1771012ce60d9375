"""Pause, resume and cancel a campaign. The REST API and the command consumer both call these.

- **pause** (running → paused): the senders stop calling the gateway for the campaign within
  ``campaign_state_cache_seconds`` and hand its messages back (``queued``); nothing is lost.
- **resume** (paused → running): records ``countsAtResume`` and publishes the messages that
  wait (handed back by the senders, or created ``pending`` while paused), so sending goes on
  where it stopped.
- **cancel** (draft, scheduled, running or paused → cancelled): the senders refuse the
  campaign's messages within ``campaign_state_cache_seconds``, which the cancel waits out; its
  messages not sent yet (``cancelledMessages`` counts them) are then queued to become
  ``cancelled`` in the background, in batches (:mod:`herald_infra.messages.unsent_endings`), so
  the cancel answers in the same time whatever the campaign's size; the campaign's schedule,
  if it has one, stops.

Each change is a compare-and-set on the campaign's status, then its follow-up (publishing,
cancelling messages), then its event on ``campaign.events``. A change whose follow-up or event
did not make it (Kafka away, a crash) is finished by the next request for the same action, or by
its command delivered again (see :mod:`herald_campaign.domain.lifecycle`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from herald_campaign.domain.campaigns import derived_event_id
from herald_campaign.domain.lifecycle import (
    LIFECYCLE_CHANGE,
    PausedBy,
    cancel_fields,
    change_record,
    is_repeat,
    pause_fields,
    resume_fields,
)
from herald_campaign.service_layer.campaigns import stored_now
from herald_campaign.service_layer.errors import CampaignConflict, CampaignNotFound
from herald_campaign.service_layer.ports import CampaignEventPublisher, MessageQueue
from herald_campaign.service_layer.quotas import TenantQuotas
from herald_core.attempt_plan import AttemptPlan
from herald_core.campaigns.lifecycle import TARGET, CampaignAction, CampaignStatus, refusal
from herald_core.contracts.common import new_event_id
from herald_core.contracts.events import CampaignCancelled, CampaignPaused, CampaignResumed
from herald_core.messages.states import MessageStatus
from herald_core.schedules import campaign_schedule_id
from herald_infra.messages.unsent import UNSENT_STATUSES
from herald_infra.messages.unsent_endings import queue_unsent_ending
from herald_infra.mongo.client import CAMPAIGNS, SCHEDULES, Database, Document
from herald_infra.runtime.logging import bind_context, get_logger

log = get_logger(__name__)

LifecycleEvent = CampaignPaused | CampaignResumed | CampaignCancelled

EVENT_TYPES: dict[CampaignAction, str] = {
    CampaignAction.PAUSE: "campaign.paused",
    CampaignAction.RESUME: "campaign.resumed",
    CampaignAction.CANCEL: "campaign.cancelled",
}

ATTEMPTS_ON_RACE = 3
"""Compare-and-sets tried when the campaign's status moves under us (a concurrent request)."""


FollowUp = Callable[[Document], Awaitable[None]]


class CampaignLifecycle:
    def __init__(
        self,
        db: Database,
        events: CampaignEventPublisher[LifecycleEvent],
        queue: MessageQueue,
        *,
        plan: AttemptPlan,
        batch_size: int = 500,
        quotas: TenantQuotas | None = None,
        senders_see_within: float = 1.0,
    ) -> None:
        """``quotas``: the tenants' quotas (the defaults when not given): a resume is refused
        past ``runningCampaigns``. ``senders_see_within``: how long a sender trusts a campaign
        status it read (``campaign_state_cache_seconds``); a cancel waits it out."""
        self._quotas = quotas or TenantQuotas(db)
        self._db = db
        self._campaigns = db[CAMPAIGNS]
        self._events = events
        self._queue = queue
        self._plan = plan
        self._batch_size = batch_size
        self._senders_see_within = senders_see_within

    async def pause(
        self,
        tenant_id: str,
        campaign_id: str,
        *,
        by: PausedBy = "user",
        reason: str | None = None,
        command_id: str | None = None,
    ) -> Document:
        """running → paused; publishes ``CampaignPaused``. Returns the campaign."""
        campaign = await self._change(
            tenant_id,
            campaign_id,
            CampaignAction.PAUSE,
            lambda _: pause_fields(by, reason, stored_now()),
            command_id,
        )
        await self._announce(
            campaign,
            CampaignPaused(
                event_id=campaign[LIFECYCLE_CHANGE]["eventId"],
                tenant_id=tenant_id,
                campaign_id=campaign_id,
                by=campaign.get("pausedBy", by),
                reason=campaign.get("pauseReason"),
            ),
        )
        log.info("campaign paused", by=campaign.get("pausedBy"), reason=campaign.get("pauseReason"))
        return await self._reread(campaign)

    async def resume(
        self, tenant_id: str, campaign_id: str, *, command_id: str | None = None
    ) -> Document:
        """paused → running; publishes the messages that wait, then ``CampaignResumed``.
        Refused past the tenant's ``runningCampaigns`` (:class:`QuotaExceeded`)."""
        async with self._quotas.room_to_run(tenant_id, campaign_id):
            campaign = await self._change(
                tenant_id,
                campaign_id,
                CampaignAction.RESUME,
                lambda current: resume_fields(current.get("counts"), stored_now()),
                command_id,
            )
        published = await self._queue.republish_waiting(
            campaign_id, self._plan, batch_size=self._batch_size
        )
        await self._announce(
            campaign,
            CampaignResumed(
                event_id=campaign[LIFECYCLE_CHANGE]["eventId"],
                tenant_id=tenant_id,
                campaign_id=campaign_id,
            ),
        )
        log.info("campaign resumed", republished=published)
        return await self._reread(campaign)

    async def cancel(
        self,
        tenant_id: str,
        campaign_id: str,
        *,
        reason: str | None = None,
        command_id: str | None = None,
    ) -> Document:
        """draft, scheduled, running or paused → cancelled: once no sender sends its messages
        any more, its unsent messages are counted (``cancelledMessages``) and queued to end
        ``cancelled`` in the background; its schedule stops; publishes ``CampaignCancelled``.
        Takes the same time whatever the campaign's size."""
        campaign = await self._change(
            tenant_id,
            campaign_id,
            CampaignAction.CANCEL,
            lambda _: cancel_fields(reason, stored_now()),
            command_id,
        )
        at_cancel = campaign.get("counts")
        if int(campaign.get("run") or 0) >= 1:
            # Launched: a sender that read it running just before may still claim its messages
            # until it reads it again; once that is over, what is unsent stays so.
            await asyncio.sleep(self._senders_see_within)
        campaign = await self._reread(campaign)
        # What the senders' checks ended meanwhile, and what is left for the background.
        cancelled = _cancelled_since(at_cancel, campaign.get("counts")) + _unsent(
            campaign.get("counts")
        )
        await self._campaigns.update_one(
            {"_id": campaign_id, "cancelledMessages": {"$exists": False}},
            {"$set": {"cancelledMessages": cancelled}},
        )
        await queue_unsent_ending(
            self._db,
            tenant_id=tenant_id,
            campaign_id=campaign_id,
            target=MessageStatus.CANCELLED,
            at=stored_now(),
        )
        await self._stop_schedule(campaign_id)
        campaign = await self._reread(campaign)
        await self._announce(
            campaign,
            CampaignCancelled(
                event_id=campaign[LIFECYCLE_CHANGE]["eventId"],
                tenant_id=tenant_id,
                campaign_id=campaign_id,
                cancelled_messages=int(campaign.get("cancelledMessages", 0)),
                reason=campaign.get("cancelReason"),
            ),
        )
        log.info("campaign cancelled", cancelled_messages=cancelled)
        return await self._reread(campaign)

    async def _change(
        self,
        tenant_id: str,
        campaign_id: str,
        action: CampaignAction,
        fields: Callable[[Document], dict[str, Any]],
        command_id: str | None,
    ) -> Document:
        """Move the campaign by ``action`` (compare-and-set on its status) and record the
        change; returns the campaign as changed. A repeat of an unfinished change returns the
        campaign as it is; a status that does not allow ``action`` is a conflict."""
        bind_context(campaign_id=campaign_id)
        for _ in range(ATTEMPTS_ON_RACE):
            campaign = await self._get(tenant_id, campaign_id)
            if is_repeat(campaign, action, command_id):
                log.info("finishing a change that applied earlier", action=action.value)
                return campaign
            status = CampaignStatus(campaign["status"])
            refused = refusal(action, status)
            if refused is not None:
                raise CampaignConflict(refused.message, refused.reason)
            now = stored_now()
            event_id = (
                derived_event_id(EVENT_TYPES[action], command_id) if command_id else new_event_id()
            )
            change = {
                "status": TARGET[action].value,
                "updatedAt": now,
                LIFECYCLE_CHANGE: change_record(
                    action, event_id=event_id, command_id=command_id, at=now
                ),
                **fields(campaign),
            }
            moved = await self._campaigns.update_one(
                {"_id": campaign_id, "tenantId": tenant_id, "status": status.value},
                {"$set": change},
            )
            if moved.modified_count == 1:
                return {**campaign, **change}
        raise CampaignConflict(
            f"the campaign's status kept changing; try to {action.value} it again",
            "campaign-busy",
        )

    async def _announce(self, campaign: Document, event: LifecycleEvent) -> None:
        """Publish the change's event, then mark the change finished."""
        await self._events.publish(event)
        await self._campaigns.update_one(
            {"_id": campaign["_id"], f"{LIFECYCLE_CHANGE}.eventId": event.event_id},
            {"$set": {f"{LIFECYCLE_CHANGE}.publishedAt": stored_now()}},
        )

    async def _stop_schedule(self, campaign_id: str) -> None:
        now = stored_now()
        stopped = await self._db[SCHEDULES].update_one(
            {"_id": campaign_schedule_id(campaign_id), "active": True},
            {"$set": {"active": False, "stoppedAt": now, "updatedAt": now}},
        )
        if stopped.modified_count:
            log.info("schedule stopped with its campaign")

    async def _get(self, tenant_id: str, campaign_id: str) -> Document:
        campaign = await self._campaigns.find_one({"_id": campaign_id, "tenantId": tenant_id})
        if campaign is None:
            raise CampaignNotFound(campaign_id)
        return campaign

    async def _reread(self, campaign: Document) -> Document:
        return await self._get(campaign["tenantId"], campaign["_id"])


def _unsent(counts: Mapping[str, int] | None) -> int:
    """Messages not sent yet, by the campaign's counters."""
    return sum(int((counts or {}).get(status.value) or 0) for status in UNSENT_STATUSES)


def _cancelled_since(before: Mapping[str, int] | None, now: Mapping[str, int] | None) -> int:
    status = MessageStatus.CANCELLED.value
    return max(0, int((now or {}).get(status) or 0) - int((before or {}).get(status) or 0))
