"""Campaign schedules: schedule a draft campaign to send at a time or on a cron expression, and
the operations on a tenant's schedules (list, stop one, stop all, run now). The REST API and the
command consumer both call these. The system jobs (the redrive, the sweep) are the operator's:
a tenant neither sees nor runs them (404 as for another tenant's schedule); an operator lists
and runs them. No run is requested on top of one still in progress
(:func:`~herald_campaign.domain.schedule_runs.run_in_progress`).

This service only writes what the scheduler service reads (``schedules``, see
:mod:`herald_core.schedules`) and the campaign status that goes with it; the scheduler fires
the schedules, and its ``StartCampaignRun`` commands come back to
:mod:`herald_campaign.service_layer.scheduled_runs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from herald_campaign.domain.campaigns import derived_event_id
from herald_campaign.domain.schedule_runs import run_in_progress
from herald_campaign.domain.schedules import (
    SendSchedule,
    first_run_at,
    schedule_fields,
    status_when_stopped,
    window_closed_before,
)
from herald_campaign.service_layer.campaigns import CampaignService, stored_now
from herald_campaign.service_layer.errors import (
    CampaignConflict,
    EventBusUnavailable,
    OperationRefused,
)
from herald_campaign.service_layer.ports import CampaignEventPublisher
from herald_core.campaigns.lifecycle import CampaignAction, CampaignStatus, refusal
from herald_core.contracts.common import new_event_id
from herald_core.contracts.events import CampaignScheduled
from herald_core.schedules import (
    FIRING_STARTED,
    SYSTEM_KINDS,
    campaign_schedule_id,
    system_schedule_id,
)
from herald_infra.mongo.client import (
    CAMPAIGNS,
    CONTACTS,
    SCHEDULE_FIRINGS,
    SCHEDULES,
    Database,
    Document,
)
from herald_infra.runtime.logging import bind_context, get_logger

log = get_logger(__name__)

SYSTEM_JOB_IDS: tuple[str, ...] = tuple(system_schedule_id(kind) for kind in sorted(SYSTEM_KINDS))


class ScheduleNotFound(OperationRefused):
    """No schedule with this id is visible to the caller: for a tenant, another tenant's and
    the system jobs included; for an operator, anything but a system job."""

    reason = "unknown-schedule"

    def __init__(self, schedule_id: str) -> None:
        super().__init__(f"schedule {schedule_id} not found")
        self.schedule_id = schedule_id


class ScheduleConflict(CampaignConflict):
    """The schedule cannot do this: a stopped schedule cannot run, nor one whose run is still
    in progress. ``reason``: ``schedule-stopped``, ``run-in-progress``."""


@dataclass(frozen=True)
class ScheduledCampaign:
    campaign: Document
    schedule: Document


@dataclass(frozen=True)
class StoppedSchedule:
    schedule: Document
    campaign_status: str | None
    """The campaign's status after the stop (None for a campaign that no longer exists)."""
    stopped_now: bool
    """False when the schedule had stopped before (stopping again changes nothing)."""


@dataclass(frozen=True)
class ScheduleList:
    own: list[Document]
    """The tenant's schedules on this page, newest first."""
    total: int
    """The tenant's schedules in all."""


def is_system_job(schedule: Document) -> bool:
    return schedule.get("tenantId") is None and schedule.get("kind") in SYSTEM_KINDS


class ScheduleService:
    def __init__(
        self,
        db: Database,
        campaigns: CampaignService,
        events: CampaignEventPublisher[CampaignScheduled],
    ) -> None:
        self._campaigns = campaigns
        self._campaign_docs = db[CAMPAIGNS]
        self._contacts = db[CONTACTS]
        self._schedules = db[SCHEDULES]
        self._firings = db[SCHEDULE_FIRINGS]
        self._events = events

    async def schedule_campaign(
        self,
        tenant_id: str,
        campaign_id: str,
        schedule: SendSchedule,
        *,
        command_id: str | None = None,
    ) -> ScheduledCampaign:
        """Make a draft campaign that has contacts ``scheduled``, store its schedule (the
        scheduler fires it) and publish ``CampaignScheduled``.

        Under a command, a second delivery of the command that scheduled the campaign stores
        the schedule if it is missing and publishes the event again. Through the API, a
        schedule whose event Kafka did not take is undone, so the client can send again.
        The tenant's ``schedules`` and ``minCronIntervalSeconds`` quotas hold
        (:class:`QuotaExceeded`).
        """
        bind_context(campaign_id=campaign_id)
        campaign = await self._campaigns.get_campaign(tenant_id, campaign_id)
        if command_id is not None and campaign.get("scheduleCommandId") == command_id:
            log.info("schedule command delivered again; publishing its event again")
            stored = await self._redo(tenant_id, campaign_id, schedule, command_id)
            await self._announce(stored, command_id)
            return ScheduledCampaign(campaign, stored)
        _refuse_unless_schedulable(campaign["status"])
        if await self._contacts.find_one({"campaignId": campaign_id}, {"_id": 1}) is None:
            raise CampaignConflict("campaign has no contacts", "no-contacts")
        now = stored_now()
        next_run_at = first_run_at(schedule, now)
        if (closed_at := window_closed_before(campaign, next_run_at)) is not None:
            raise CampaignConflict(
                f"the campaign's validity window ends at {closed_at.isoformat()}, before its "
                f"first run at {next_run_at.isoformat()}",
                "campaign-expired",
            )
        marks: Document = {
            "status": CampaignStatus.SCHEDULED.value,
            "scheduleId": campaign_schedule_id(campaign_id),
            "scheduledAt": now,
            "updatedAt": now,
        }
        if command_id is not None:
            marks["scheduleCommandId"] = command_id
        async with self._campaigns.quotas.room_for_schedule(tenant_id, schedule, now):
            result = await self._campaign_docs.update_one(
                {"_id": campaign_id, "tenantId": tenant_id, "status": CampaignStatus.DRAFT.value},
                {"$set": marks},
            )
            if result.modified_count != 1:
                # Sent or scheduled by a concurrent request since we read it.
                current = await self._campaigns.get_campaign(tenant_id, campaign_id)
                _refuse_unless_schedulable(current["status"])
            stored = await self._store(
                tenant_id, campaign_id, schedule, next_run_at, command_id, now
            )
        try:
            await self._announce(stored, command_id)
        except EventBusUnavailable:
            if command_id is None:
                await self._undo(campaign_id)
            raise
        log.info("campaign scheduled", next_run_at=next_run_at.isoformat(), cron=schedule.cron)
        return ScheduledCampaign({**campaign, **marks}, stored)

    async def _store(
        self,
        tenant_id: str,
        campaign_id: str,
        schedule: SendSchedule,
        next_run_at: datetime,
        command_id: str | None,
        now: datetime,
    ) -> Document:
        fields, unset = schedule_fields(tenant_id, campaign_id, schedule, next_run_at)
        schedule_id = campaign_schedule_id(campaign_id)
        await self._schedules.update_one(
            {"_id": schedule_id},
            {
                "$set": {**fields, "commandId": command_id, "updatedAt": now},
                "$unset": unset,
                "$setOnInsert": {"createdAt": now},
            },
            upsert=True,
        )
        stored = await self._schedules.find_one({"_id": schedule_id})
        assert stored is not None
        return stored

    async def _redo(
        self, tenant_id: str, campaign_id: str, schedule: SendSchedule, command_id: str
    ) -> Document:
        """The schedule a command stored, storing it if the first delivery stopped before."""
        stored = await self._schedules.find_one({"_id": campaign_schedule_id(campaign_id)})
        if stored is not None and stored.get("commandId") == command_id:
            return stored
        now = stored_now()
        return await self._store(
            tenant_id, campaign_id, schedule, first_run_at(schedule, now), command_id, now
        )

    async def _announce(self, stored: Document, command_id: str | None) -> None:
        await self._events.publish(
            CampaignScheduled(
                event_id=(
                    derived_event_id("campaign.scheduled", command_id)
                    if command_id
                    else new_event_id()
                ),
                tenant_id=stored["tenantId"],
                campaign_id=stored["campaignId"],
                schedule_id=stored["_id"],
                send_at=stored.get("sendAt"),
                cron=stored.get("cron"),
                timezone=stored.get("timezone") or "UTC",
                next_run_at=stored.get("nextRunAt") or stored.get("lastRunAt") or stored_now(),
            )
        )

    async def _undo(self, campaign_id: str) -> None:
        log.warning("campaign schedule not published; back to draft")
        now = stored_now()
        schedule_id = campaign_schedule_id(campaign_id)
        await self._schedules.update_one(
            {"_id": schedule_id, "active": True},
            {"$set": {"active": False, "stoppedAt": now, "updatedAt": now}, "$unset": _NEXT},
        )
        await self._campaign_docs.update_one(
            {"_id": campaign_id, "status": CampaignStatus.SCHEDULED.value, "run": None},
            {
                "$set": {"status": CampaignStatus.DRAFT.value, "updatedAt": now},
                "$unset": {"scheduleId": "", "scheduledAt": ""},
            },
        )

    async def list_schedules(self, tenant_id: str, *, limit: int, offset: int) -> ScheduleList:
        """A page of the tenant's schedules (newest first); never a system job."""
        own = [
            d
            async for d in self._schedules.find({"tenantId": tenant_id})
            .sort([("createdAt", -1), ("_id", -1)])
            .skip(offset)
            .limit(limit)
        ]
        total = await self._schedules.count_documents({"tenantId": tenant_id})
        return ScheduleList(own, total)

    async def get_schedule(self, tenant_id: str, schedule_id: str) -> Document:
        """A schedule of the tenant; :class:`ScheduleNotFound` otherwise (a system job has no
        tenant, so it is not found either)."""
        schedule = await self._schedules.find_one({"_id": schedule_id, "tenantId": tenant_id})
        if schedule is None:
            raise ScheduleNotFound(schedule_id)
        return schedule

    async def list_system_jobs(self) -> list[Document]:
        """The system jobs (the redrive, the sweep), for operators, by id."""
        jobs = [d async for d in self._schedules.find({"_id": {"$in": list(SYSTEM_JOB_IDS)}})]
        return sorted((d for d in jobs if is_system_job(d)), key=lambda d: str(d["_id"]))

    async def get_system_job(self, schedule_id: str) -> Document:
        """A system job, for operators; :class:`ScheduleNotFound` for any other id."""
        schedule = None
        if schedule_id in SYSTEM_JOB_IDS:
            schedule = await self._schedules.find_one({"_id": schedule_id})
        if schedule is None or not is_system_job(schedule):
            raise ScheduleNotFound(schedule_id)
        return schedule

    async def stop_schedule(self, tenant_id: str, schedule_id: str) -> StoppedSchedule:
        """Stop a schedule of the tenant for good: it fires no more. Its campaign, if still
        ``scheduled``, goes back to ``draft`` when it never ran and becomes ``completed`` when
        it did (a recurring one); a run under way completes by itself. Stopping a stopped
        schedule changes nothing. (A system job is nobody's to stop: its cron expression is
        configuration.)"""
        schedule = await self.get_schedule(tenant_id, schedule_id)
        bind_context(campaign_id=schedule.get("campaignId"))
        now = stored_now()
        stopped = await self._schedules.update_one(
            {"_id": schedule_id, "active": True},
            {"$set": {"active": False, "stoppedAt": now, "updatedAt": now}, "$unset": _NEXT},
        )
        if stopped.modified_count:
            log.info("schedule stopped", schedule_id=schedule_id)
        status = await self._settle_campaign(tenant_id, schedule.get("campaignId"), now)
        current = await self._schedules.find_one({"_id": schedule_id})
        return StoppedSchedule(current or schedule, status, stopped.modified_count == 1)

    async def _settle_campaign(
        self, tenant_id: str, campaign_id: str | None, now: datetime
    ) -> str | None:
        if campaign_id is None:
            return None
        for _ in range(3):
            campaign = await self._campaign_docs.find_one(
                {"_id": campaign_id, "tenantId": tenant_id}, {"status": 1, "run": 1}
            )
            if campaign is None:
                return None
            status: str = campaign["status"]
            target = status_when_stopped(status, int(campaign.get("run") or 0))
            if target is None:
                return status
            fields: Document = {"status": target.value, "updatedAt": now}
            if target is CampaignStatus.COMPLETED:
                fields["completedAt"] = now
            result = await self._campaign_docs.update_one(
                {"_id": campaign_id, "status": status, "run": campaign.get("run")},
                {"$set": fields, "$unset": {"scheduledAt": ""}},
            )
            if result.modified_count:
                log.info("campaign settled after its schedule stopped", status=target.value)
                return target.value
        # It keeps moving (a firing is starting a run): that run completes by itself.
        return status

    async def stop_all(self, tenant_id: str) -> int:
        """Stop every active schedule of the tenant; returns how many were stopped."""
        ids = [
            d["_id"]
            async for d in self._schedules.find({"tenantId": tenant_id, "active": True}, {"_id": 1})
        ]
        stopped = 0
        for schedule_id in ids:
            outcome = await self.stop_schedule(tenant_id, schedule_id)
            stopped += int(outcome.stopped_now)
        return stopped

    async def request_run(self, tenant_id: str, schedule_id: str) -> Document:
        """Ask the scheduler to fire the tenant's schedule now (see :meth:`_request_run`)."""
        return await self._request_run(await self.get_schedule(tenant_id, schedule_id))

    async def request_system_run(self, schedule_id: str) -> Document:
        """An operator asks the scheduler to run a system job now (see :meth:`_request_run`)."""
        return await self._request_run(await self.get_system_job(schedule_id))

    async def _request_run(self, schedule: Document) -> Document:
        """Ask the scheduler to fire this schedule now (it does within about a second), in
        addition to its next run; a one-shot schedule fires now instead of at its time.
        :class:`ScheduleConflict` for a stopped schedule, and for one whose previous run is
        still in progress (requested and not fired, firing, or its campaign's run sending)."""
        schedule_id = schedule["_id"]
        if not schedule.get("active"):
            raise ScheduleConflict(
                f"schedule {schedule_id} is stopped; it cannot run", "schedule-stopped"
            )
        await self._refuse_while_in_progress(schedule)
        now = stored_now()
        requested = await self._schedules.update_one(
            {"_id": schedule_id, "active": True, "runRequestedAt": None},
            {"$set": {"runRequestedAt": now, "updatedAt": now}},
        )
        current = await self._schedules.find_one({"_id": schedule_id})
        if current is None or not current.get("active"):
            raise ScheduleConflict(
                f"schedule {schedule_id} is stopped; it cannot run", "schedule-stopped"
            )
        if requested.modified_count != 1:  # another request came first
            await self._refuse_while_in_progress(current)
        log.info("run requested", schedule_id=schedule_id, kind=current.get("kind"))
        return current

    async def _refuse_while_in_progress(self, schedule: Document) -> None:
        started = await self._firings.find_one(
            {"scheduleId": schedule["_id"], "state": FIRING_STARTED}, {"firedAt": 1}
        )
        campaign_status = None
        if schedule.get("campaignId") is not None:
            campaign = await self._campaign_docs.find_one(
                {"_id": schedule["campaignId"], "tenantId": schedule.get("tenantId")},
                {"status": 1},
            )
            campaign_status = campaign["status"] if campaign is not None else None
        refusal = run_in_progress(schedule, started_firing=started, campaign_status=campaign_status)
        if refusal is not None:
            raise ScheduleConflict(refusal, "run-in-progress")


_NEXT = {"nextRunAt": "", "runRequestedAt": ""}


def _refuse_unless_schedulable(status: str) -> None:
    refused = refusal(CampaignAction.SCHEDULE, CampaignStatus(status))
    if refused is not None:
        raise CampaignConflict(refused.message, refused.reason)
