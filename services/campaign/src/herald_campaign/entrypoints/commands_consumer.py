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
"""

from __future__ import annotations

import json
from typing import Any

from faststream.message import StreamMessage

from herald_campaign.entrypoints.services import CampaignServices
from herald_campaign.service_layer.errors import OperationRefused
from herald_core.contracts.commands import CampaignCommand
from herald_core.contracts.topics import CAMPAIGN_COMMANDS, CAMPAIGN_GROUP
from herald_infra.kafka.broker import InvalidRecord
from herald_infra.runtime.service_app import ServiceRuntime

COMMANDS_GROUP = CAMPAIGN_GROUP


async def decode_json(message: StreamMessage[Any]) -> Any:
    """The record's JSON; unlike FastStream's default, bytes that are not JSON raise here, so
    the dead letter says "undecodable" rather than "schema-invalid"."""
    return json.loads(message.body)


def register(runtime: ServiceRuntime, services: CampaignServices) -> None:
    """Subscribe to ``campaign.commands`` (group ``herald-campaign``)."""

    @runtime.broker.subscriber(
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
        try:
            await services.commands.handle(command)
        except OperationRefused as refused:
            raise InvalidRecord(refused.reason, refused.message) from refused
