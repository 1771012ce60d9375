"""The consumer of ``campaign.commands``: the API's operations for other services.

Each command is acted on once per ``event_id``: a command already in ``processed_commands`` is
skipped, and it is recorded there after its operation succeeded. A command the campaign's state
rules out is dead-lettered with the reason; one that cannot be decoded or validated is
dead-lettered by the broker's middleware. Either way the consumer goes on.
"""

from __future__ import annotations

import json
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from structlog.contextvars import bound_contextvars

from herald_campaign.domain.campaigns import CampaignDraft, campaign_id_for_command
from herald_campaign.domain.contacts import SubmittedContact
from herald_campaign.domain.schedules import SendSchedule
from herald_campaign.service_layer.campaigns import CampaignService
from herald_campaign.service_layer.errors import OperationRefused
from herald_campaign.service_layer.lifecycle import CampaignLifecycle
from herald_campaign.service_layer.scheduled_runs import RunSkipped, ScheduledRuns
from herald_campaign.service_layer.schedules import ScheduleService
from herald_core.contracts.commands import (
    AddContacts,
    AnyCampaignCommand,
    CampaignCommand,
    CancelCampaign,
    CreateCampaign,
    PauseCampaign,
    ResumeCampaign,
    SendCampaign,
    StartCampaignRun,
)
from herald_core.contracts.common import utc_now
from herald_core.contracts.topics import CAMPAIGN_COMMANDS, CAMPAIGN_GROUP
from herald_infra.kafka.broker import InvalidRecord
from herald_infra.mongo.client import PROCESSED_COMMANDS, Database
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import COMMANDS

COMMANDS_GROUP = CAMPAIGN_GROUP

log = get_logger(__name__)

Command = AnyCampaignCommand


class CommandHandler:
    """Runs each command through the same operation as its REST route, once per event id."""

    def __init__(
        self,
        db: Database,
        campaigns: CampaignService,
        *,
        lifecycle: CampaignLifecycle,
        schedules: ScheduleService,
        runs: ScheduledRuns,
    ) -> None:
        self._processed = db[PROCESSED_COMMANDS]
        self._campaigns = campaigns
        self._lifecycle = lifecycle
        self._schedules = schedules
        self._runs = runs

    async def handle(self, command: Command) -> None:
        if isinstance(command, CreateCampaign):
            campaign_id = command.campaign_id or campaign_id_for_command(command.event_id)
        else:
            campaign_id = command.campaign_id
        with bound_contextvars(
            campaign_id=campaign_id, command_id=command.event_id, command_type=command.type
        ):
            if await self._processed.find_one({"_id": command.event_id}, {"_id": 1}):
                COMMANDS.labels(type=command.type, outcome="duplicate").inc()
                log.info("command already processed; skipped")
                return
            outcome = "applied"
            try:
                await self._apply(command, campaign_id)
            except OperationRefused as refused:
                COMMANDS.labels(type=command.type, outcome="rejected").inc()
                log.warning("command rejected", reason=refused.reason, error=refused.message)
                raise InvalidRecord(refused.reason, refused.message) from refused
            except RunSkipped as skipped:
                # A schedule fired for a campaign that no longer sends: done, not a dead letter.
                outcome = "skipped"
                log.info("scheduled run skipped", reason=skipped.reason, detail=skipped.message)
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
            COMMANDS.labels(type=command.type, outcome=outcome).inc()
            log.info(f"command {outcome}")

    async def _apply(self, command: Command, campaign_id: str) -> None:
        if isinstance(command, CreateCampaign):
            await self._campaigns.create_campaign(
                command.tenant_id,
                CampaignDraft(
                    command.name,
                    command.message_body,
                    command.delay_type,
                    command.custom_delay,
                    expires_at=command.expires_at,
                    valid_for_seconds=command.valid_for_seconds,
                ),
                campaign_id=campaign_id,
                command_id=command.event_id,
            )
        elif isinstance(command, AddContacts):
            await self._campaigns.add_contacts(
                command.tenant_id,
                campaign_id,
                [
                    SubmittedContact(phone=c.phone, name=c.name, fields=c.fields)
                    for c in command.contacts
                ],
                command_id=command.event_id,
            )
        elif isinstance(command, SendCampaign) and (command.send_at or command.cron):
            await self._schedules.schedule_campaign(
                command.tenant_id,
                campaign_id,
                SendSchedule(command.send_at, command.cron, command.timezone),
                command_id=command.event_id,
            )
        elif isinstance(command, SendCampaign):
            await self._campaigns.send_campaign(
                command.tenant_id, campaign_id, command_id=command.event_id
            )
        elif isinstance(command, StartCampaignRun):
            await self._runs.start_run(command)
        elif isinstance(command, PauseCampaign):
            await self._lifecycle.pause(
                command.tenant_id,
                campaign_id,
                by=command.by,
                reason=command.reason,
                command_id=command.event_id,
            )
        elif isinstance(command, ResumeCampaign):
            await self._lifecycle.resume(
                command.tenant_id, campaign_id, command_id=command.event_id
            )
        elif isinstance(command, CancelCampaign):
            await self._lifecycle.cancel(
                command.tenant_id, campaign_id, reason=command.reason, command_id=command.event_id
            )
        else:
            raise OperationRefused(f"{command.type} is not handled yet", "unsupported-command")


async def decode_json(message: StreamMessage[Any]) -> Any:
    """The record's JSON; unlike FastStream's default, bytes that are not JSON raise here, so
    the dead letter says "undecodable" rather than "schema-invalid"."""
    return json.loads(message.body)


def subscribe_to_commands(broker: KafkaBroker, handler: CommandHandler) -> None:
    """Register the ``campaign.commands`` subscriber (group ``herald-campaign``) on ``broker``."""

    @broker.subscriber(
        CAMPAIGN_COMMANDS,
        group_id=COMMANDS_GROUP,
        auto_offset_reset="earliest",
        decoder=decode_json,
        title=f"campaign:{CAMPAIGN_COMMANDS}",
        description=(
            "Creates campaigns, adds their contacts, sends or schedules, pauses, resumes and "
            "cancels them, as the REST API does; acts once per event_id and dead-letters what "
            "it refuses, with the reason."
        ),
    )
    async def on_campaign_command(command: CampaignCommand) -> None:
        await handler.handle(command)
