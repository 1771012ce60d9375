"""What a firing does, by the kind of its schedule.

- ``campaign-send``: publish ``StartCampaignRun`` on ``campaign.commands`` (keyed by campaign);
  its ``event_id`` derives from the firing, so the campaign service starts the run once even if
  a firing is completed twice (a replica died mid-firing and another finished it).
- ``redrive``: the scheduled redrive of retryable failures.
- ``sweep``: the sweep.

Every action is idempotent.
"""

from __future__ import annotations

from typing import Protocol

from faststream.kafka import KafkaBroker

from herald_core.contracts.commands import StartCampaignRun
from herald_core.contracts.topics import CAMPAIGN_COMMANDS
from herald_core.schedules import Firing, ScheduleKind
from herald_scheduler.due_jobs import Job
from herald_scheduler.redrive import ScheduledRedrive
from herald_scheduler.sweep import Sweep


class FiringActions(Protocol):
    async def run(self, job: Job, firing: Firing) -> str:
        """Do what the firing of ``job`` does; returns a line saying what it did."""
        ...


class InvalidJob(ValueError):
    """A schedule document the scheduler cannot act on (a campaign send without a campaign)."""


class ScheduleActions:
    def __init__(self, broker: KafkaBroker, *, sweep: Sweep, redrive: ScheduledRedrive) -> None:
        self._broker = broker
        self._sweep = sweep
        self._redrive = redrive

    async def run(self, job: Job, firing: Firing) -> str:
        if job.kind is ScheduleKind.CAMPAIGN_SEND:
            await self.start_campaign_run(job, firing)
            return "run start published"
        if job.kind is ScheduleKind.REDRIVE:
            return f"{await self._redrive.run()} messages redriven"
        return (await self._sweep.run()).summary()

    async def start_campaign_run(self, job: Job, firing: Firing) -> None:
        if job.tenant_id is None or job.campaign_id is None:
            raise InvalidJob(f"schedule {job.id} has no campaign")
        command = StartCampaignRun(
            type="campaign.run",
            event_id=firing.command_event_id,
            tenant_id=job.tenant_id,
            campaign_id=job.campaign_id,
            schedule_id=job.id,
            scheduled_for=firing.scheduled_for,
        )
        await self._broker.publish(command, topic=CAMPAIGN_COMMANDS, key=job.campaign_id.encode())
