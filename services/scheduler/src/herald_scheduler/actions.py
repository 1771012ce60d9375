"""What a firing does, by the kind of its schedule.

- ``campaign-send``: publish ``StartCampaignRun`` on ``campaign.system-commands`` (keyed by
  campaign; the topic tenants cannot write, so a run start cannot be forged);
  its ``event_id`` derives from the firing, so the campaign service starts the run once even if
  a firing is completed twice (a replica died mid-firing and another finished it).
- ``redrive``: the scheduled redrive of retryable failures.
- ``sweep``: the sweep.
- ``retention``: archive and delete the messages of runs past their retention.

Every action is idempotent. A firing (or a schedule) the firing loop gives up on, because it
kept failing with an error that is not an outage, becomes a dead letter: the ``StartCampaignRun``
it would have published (redriving the dead letter publishes it on
``campaign.system-commands``), or
what is known of the job when not even that can be made.
"""

from __future__ import annotations

import hashlib
import json
from typing import Protocol

from faststream.kafka import KafkaBroker

from herald_core.contracts.commands import StartCampaignRun
from herald_core.contracts.topics import CAMPAIGN_SYSTEM_COMMANDS, MESSAGE_DLT
from herald_core.messages.dead_letters import dead_letter_headers
from herald_core.schedules import Firing, ScheduleKind
from herald_infra.kafka.handler_retries import INTERNAL_ERROR, describe
from herald_infra.mongo.client import Document
from herald_infra.runtime.metrics import DEAD_LETTERED
from herald_scheduler.due_jobs import Job
from herald_scheduler.redrive import ScheduledRedrive
from herald_scheduler.retention import MessageRetention
from herald_scheduler.sweep import Sweep

SCHEDULES_ORIGIN = "schedules"
"""The original topic a dead letter names when it is a schedule, not a command: nothing
publishes it again."""


class FiringActions(Protocol):
    async def run(self, job: Job, firing: Firing) -> str:
        """Do what the firing of ``job`` does; returns a line saying what it did."""
        ...

    async def dead_letter(
        self, schedule: Document, firing: Firing | None, error: Exception, *, attempts: int
    ) -> None:
        """Publish the dead letter of a firing of ``schedule`` (its ``schedules`` document, or
        what the loop knows of it), or of the schedule itself when ``firing`` is None, given up
        after ``attempts`` failures."""
        ...


def firing_dead_letter_id(schedule_id: str, firing: Firing | None) -> str:
    """One dead letter per firing (per schedule without one), however often it is given up."""
    what = firing.firing_id if firing is not None else f"schedule|{schedule_id}"
    return "dlt_" + hashlib.sha256(f"firing|{what}".encode()).hexdigest()[:32]


class InvalidJob(ValueError):
    """A schedule document the scheduler cannot act on (a campaign send without a campaign)."""


class ScheduleActions:
    def __init__(
        self,
        broker: KafkaBroker,
        *,
        sweep: Sweep,
        redrive: ScheduledRedrive,
        retention: MessageRetention | None = None,
    ) -> None:
        self._broker = broker
        self._sweep = sweep
        self._redrive = redrive
        self._retention = retention

    async def run(self, job: Job, firing: Firing) -> str:
        if job.kind is ScheduleKind.CAMPAIGN_SEND:
            await self.start_campaign_run(job, firing)
            return "run start published"
        if job.kind is ScheduleKind.REDRIVE:
            return f"{await self._redrive.run()} messages redriven"
        if job.kind is ScheduleKind.RETENTION:
            if self._retention is None:
                raise InvalidJob("this scheduler has no retention job configured")
            return (await self._retention.run()).summary()
        return (await self._sweep.run()).summary()

    async def start_campaign_run(self, job: Job, firing: Firing) -> None:
        command = run_command(job, firing)
        await self._broker.publish(
            command, topic=CAMPAIGN_SYSTEM_COMMANDS, key=command.campaign_id.encode()
        )

    async def dead_letter(
        self, schedule: Document, firing: Firing | None, error: Exception, *, attempts: int
    ) -> None:
        """The dead letter on ``message.dlt`` (reason ``internal-error``, the error named) of a
        firing of ``schedule``, its payload the run command when one can be made, else what is
        known of the schedule; returns once durable."""
        schedule_id = str(schedule.get("_id"))
        try:
            if firing is None:
                raise InvalidJob("no firing")
            payload = run_command(Job.of(schedule), firing).model_dump_json().encode()
            topic = CAMPAIGN_SYSTEM_COMMANDS
        except Exception:  # the job cannot even make its command: say what is known of it
            payload = json.dumps(
                {
                    "schedule_id": schedule_id,
                    "kind": schedule.get("kind"),
                    "tenant_id": schedule.get("tenantId"),
                    "campaign_id": schedule.get("campaignId"),
                    "scheduled_for": firing.scheduled_for.isoformat() if firing else None,
                },
                default=str,
            ).encode()
            topic = SCHEDULES_ORIGIN
        headers = dead_letter_headers(
            topic=topic,
            partition=-1,
            offset=-1,
            error=error,
            error_message=describe(error),
            reason=INTERNAL_ERROR,
            attempts=attempts,
            dead_letter_id=firing_dead_letter_id(schedule_id, firing),
        )
        key = str(schedule.get("campaignId") or schedule_id).encode()
        await self._broker.publish(payload, topic=MESSAGE_DLT, key=key, headers=headers)
        DEAD_LETTERED.labels(topic=topic, reason=INTERNAL_ERROR).inc()


def run_command(job: Job, firing: Firing) -> StartCampaignRun:
    """The command a campaign send's firing publishes; InvalidJob when the job has none."""
    if job.tenant_id is None or job.campaign_id is None:
        raise InvalidJob(f"schedule {job.id} has no campaign")
    return StartCampaignRun(
        type="campaign.run",
        event_id=firing.command_event_id,
        tenant_id=job.tenant_id,
        campaign_id=job.campaign_id,
        schedule_id=job.id,
        scheduled_for=firing.scheduled_for,
    )
