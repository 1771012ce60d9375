"""The operations behind ``campaign.commands``: each command type has its handler in one table,
and each handler calls the same operation as the command's REST route.

Each command is acted on once per ``event_id``: a command already in ``processed_commands`` is
skipped, and it is recorded there after its operation succeeded. A command the campaign's state
rules out raises :class:`OperationRefused` (the consumer dead-letters it with the reason); a
scheduled run the campaign no longer wants is done, not refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from structlog.contextvars import bound_contextvars

from herald_campaign.domain.campaigns import CampaignDraft, campaign_id_for_command
from herald_campaign.domain.contacts import SubmittedContact
from herald_campaign.domain.schedules import SendSchedule
from herald_campaign.service_layer.campaigns import CampaignService
from herald_campaign.service_layer.errors import OperationRefused
from herald_campaign.service_layer.lifecycle import CampaignLifecycle
from herald_campaign.service_layer.scheduled_runs import RunSkipped, ScheduledRuns
from herald_campaign.service_layer.schedules import ScheduleService
from herald_campaign.service_layer.tenants import TENANT_DISABLED, TenantService
from herald_core.contracts.commands import (
    AddContacts,
    AnyCampaignCommand,
    CancelCampaign,
    CreateCampaign,
    PauseCampaign,
    ResumeCampaign,
    SendCampaign,
    StartCampaignRun,
)
from herald_core.contracts.common import utc_now
from herald_infra.mongo.client import PROCESSED_COMMANDS, Database
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import COMMANDS

log = get_logger(__name__)

CommandHandler = Callable[[Any, str], Awaitable[None]]
"""Acts on one command (of the type it is registered for) for the campaign it names."""


def command_campaign_id(command: AnyCampaignCommand) -> str:
    """The campaign a command acts on; a create command that names none gets an id derived
    from its own, so a redelivery finds the campaign it created."""
    if isinstance(command, CreateCampaign):
        return command.campaign_id or campaign_id_for_command(command.event_id)
    return command.campaign_id


class CommandHandlers:
    """Runs each command through the same operation as its REST route, once per event id."""

    def __init__(
        self,
        db: Database,
        campaigns: CampaignService,
        *,
        lifecycle: CampaignLifecycle,
        schedules: ScheduleService,
        runs: ScheduledRuns,
        tenants: TenantService,
    ) -> None:
        self._processed = db[PROCESSED_COMMANDS]
        self._tenants = tenants
        self._campaigns = campaigns
        self._lifecycle = lifecycle
        self._schedules = schedules
        self._runs = runs
        self._handlers: dict[type[AnyCampaignCommand], CommandHandler] = {
            CreateCampaign: self._create,
            AddContacts: self._add_contacts,
            SendCampaign: self._send,
            StartCampaignRun: self._start_run,
            PauseCampaign: self._pause,
            ResumeCampaign: self._resume,
            CancelCampaign: self._cancel,
        }

    async def handle(self, command: AnyCampaignCommand) -> None:
        """Act on ``command`` unless it was processed already, then record it processed.
        Raises :class:`OperationRefused` when the campaign's state rules it out."""
        campaign_id = command_campaign_id(command)
        with bound_contextvars(
            campaign_id=campaign_id, command_id=command.event_id, command_type=command.type
        ):
            if await self._processed.find_one({"_id": command.event_id}, {"_id": 1}):
                COMMANDS.labels(type=command.type, outcome="duplicate").inc()
                log.info("command already processed; skipped")
                return
            outcome = "applied"
            try:
                await self._refuse_a_disabled_tenant(command)
                await self._apply(command, campaign_id)
            except OperationRefused as refused:
                COMMANDS.labels(type=command.type, outcome="rejected").inc()
                log.warning("command rejected", reason=refused.reason, error=refused.message)
                raise
            except RunSkipped as skipped:
                # A schedule fired for a campaign that no longer sends: done, not a dead letter.
                outcome = "skipped"
                log.info("scheduled run skipped", reason=skipped.reason, detail=skipped.message)
            await self._record_processed(command, campaign_id)
            COMMANDS.labels(type=command.type, outcome=outcome).inc()
            log.info(f"command {outcome}")

    async def _refuse_a_disabled_tenant(self, command: AnyCampaignCommand) -> None:
        """A disabled tenant's commands are refused (``tenant-disabled``), its schedules' runs
        among them, but for those that only stop work: a pause or a cancel."""
        if isinstance(command, PauseCampaign | CancelCampaign):
            return
        if await self._tenants.is_disabled(command.tenant_id):
            raise OperationRefused(
                f"tenant {command.tenant_id} is disabled: its commands are refused",
                TENANT_DISABLED,
            )

    async def _apply(self, command: AnyCampaignCommand, campaign_id: str) -> None:
        handler = self._handlers.get(type(command))
        if handler is None:
            raise OperationRefused(f"{command.type} is not handled yet", "unsupported-command")
        await handler(command, campaign_id)

    async def _record_processed(self, command: AnyCampaignCommand, campaign_id: str) -> None:
        await self._processed.update_one(
            {"_id": command.event_id},
            {
                "$setOnInsert": {
                    "type": command.type,
                    "tenantId": command.tenant_id,
                    "campaignId": campaign_id,
                    "at": utc_now(),
                }
            },
            upsert=True,
        )

    async def _create(self, command: CreateCampaign, campaign_id: str) -> None:
        draft = CampaignDraft(
            command.name,
            command.message_body,
            command.delay_type,
            command.custom_delay,
            expires_at=command.expires_at,
            valid_for_seconds=command.valid_for_seconds,
        )
        await self._campaigns.create_campaign(
            command.tenant_id, draft, campaign_id=campaign_id, command_id=command.event_id
        )

    async def _add_contacts(self, command: AddContacts, campaign_id: str) -> None:
        contacts = [
            SubmittedContact(phone=c.phone, name=c.name, fields=c.fields) for c in command.contacts
        ]
        await self._campaigns.add_contacts(
            command.tenant_id, campaign_id, contacts, command_id=command.event_id
        )

    async def _send(self, command: SendCampaign, campaign_id: str) -> None:
        """Now, or on the command's schedule (``send_at`` or ``cron``)."""
        if command.send_at or command.cron:
            await self._schedules.schedule_campaign(
                command.tenant_id,
                campaign_id,
                SendSchedule(command.send_at, command.cron, command.timezone),
                command_id=command.event_id,
            )
        else:
            await self._campaigns.send_campaign(
                command.tenant_id, campaign_id, command_id=command.event_id
            )

    async def _start_run(self, command: StartCampaignRun, campaign_id: str) -> None:
        await self._runs.start_run(command)

    async def _pause(self, command: PauseCampaign, campaign_id: str) -> None:
        await self._lifecycle.pause(
            command.tenant_id,
            campaign_id,
            by=command.by,
            reason=command.reason,
            command_id=command.event_id,
        )

    async def _resume(self, command: ResumeCampaign, campaign_id: str) -> None:
        await self._lifecycle.resume(command.tenant_id, campaign_id, command_id=command.event_id)

    async def _cancel(self, command: CancelCampaign, campaign_id: str) -> None:
        await self._lifecycle.cancel(
            command.tenant_id, campaign_id, reason=command.reason, command_id=command.event_id
        )
