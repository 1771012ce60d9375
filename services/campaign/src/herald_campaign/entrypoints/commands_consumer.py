"""The consumer of ``campaign.commands``: the API's operations for other services.

It decodes each record into its command and hands it to
:class:`~herald_campaign.service_layer.command_handlers.CommandHandlers` (once per
``event_id``). A command the campaign's state rules out is dead-lettered with the reason; one
that cannot be decoded or validated is dead-lettered by the broker's middleware
(``DeadLetterOnFailure``). A command that passes validation and still fails (a cron expression
that never fires, a time MongoDB cannot store, a campaign document the handler cannot read) is
tried ``HERALD_HANDLER_ATTEMPTS`` times, then dead-lettered as ``internal-error`` with the error
named; only an outage of MongoDB or Kafka is retried until it ends. Either way the consumer goes
on, and one tenant's command never holds up the others' on its partition.

The scheduler's commands (a schedule's ``campaign.run``, a ``campaign.pause`` by the system)
come on ``campaign.system-commands`` (group ``herald-campaign-system``), which tenants' producers
have no ACL to write, and go to the same handlers. The same commands on ``campaign.commands``
are forgeries, whoever produced them: they are dead-lettered as ``system-only`` unread.
"""

from __future__ import annotations

import json
from typing import Any

from faststream.message import StreamMessage

from herald_campaign.entrypoints.services import CampaignServices
from herald_campaign.service_layer.errors import OperationRefused
from herald_core.contracts.commands import (
    SYSTEM_ONLY,
    AnyCampaignCommand,
    SystemCommand,
    TenantCommand,
    system_only,
)
from herald_core.contracts.topics import (
    CAMPAIGN_COMMANDS,
    CAMPAIGN_GROUP,
    CAMPAIGN_SYSTEM_COMMANDS,
    CAMPAIGN_SYSTEM_GROUP,
)
from herald_infra.kafka.broker import InvalidRecord
from herald_infra.runtime.service_app import ServiceRuntime

COMMANDS_GROUP = CAMPAIGN_GROUP
SYSTEM_COMMANDS_GROUP = CAMPAIGN_SYSTEM_GROUP


async def decode_json(message: StreamMessage[Any]) -> Any:
    """The record's JSON; unlike FastStream's default, bytes that are not JSON raise here, so
    the dead letter says "undecodable" rather than "schema-invalid"."""
    return json.loads(message.body)


async def decode_tenant_command(message: StreamMessage[Any]) -> Any:
    """The JSON of a record of ``campaign.commands``, refused (``system-only``) when it is one
    of the system's own commands, before it is validated."""
    payload = await decode_json(message)
    forged = system_only(payload)
    if forged is not None:
        raise InvalidRecord(SYSTEM_ONLY, forged)
    return payload


def register(runtime: ServiceRuntime, services: CampaignServices) -> None:
    """Subscribe to ``campaign.commands`` (group ``herald-campaign``) and to
    ``campaign.system-commands`` (group ``herald-campaign-system``)."""

    async def handle(command: AnyCampaignCommand) -> None:
        try:
            await services.commands.handle(command)
        except OperationRefused as refused:
            raise InvalidRecord(refused.reason, refused.message) from refused

    @runtime.broker.subscriber(
        CAMPAIGN_COMMANDS,
        group_id=COMMANDS_GROUP,
        auto_offset_reset="earliest",
        decoder=decode_tenant_command,
        title=f"campaign:{CAMPAIGN_COMMANDS}",
        description=(
            "Creates campaigns, adds their contacts, sends or schedules, pauses, resumes and "
            "cancels them, as the REST API does; acts once per event_id and dead-letters what "
            "it refuses, with the reason. Producing here is acting as any tenant: a "
            "production broker grants WRITE on it by ACL to the tenants' producers only. The "
            "system's own commands (campaign.run, campaign.pause by the system) are refused "
            "here (reason system-only)."
        ),
    )
    async def on_campaign_command(command: TenantCommand) -> None:
        await handle(command)

    @runtime.broker.subscriber(
        CAMPAIGN_SYSTEM_COMMANDS,
        group_id=SYSTEM_COMMANDS_GROUP,
        auto_offset_reset="earliest",
        decoder=decode_json,
        title=f"campaign:{CAMPAIGN_SYSTEM_COMMANDS}",
        description=(
            "The scheduler's commands: campaign.run when a campaign's schedule fires, "
            "campaign.pause by the system when the sweep finds a campaign's messages failing. "
            "Only the scheduler (and the campaign service's redrive of their dead letters) may "
            "write this topic, so tenants cannot forge them; handled as on campaign.commands."
        ),
    )
    async def on_system_command(command: SystemCommand) -> None:
        await handle(command)
