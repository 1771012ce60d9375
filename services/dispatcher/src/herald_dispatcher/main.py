"""Composition root of the dispatcher service."""

from __future__ import annotations

from fastapi import FastAPI

from herald_dispatcher.fan_out import fan_out_campaign
from herald_shared.contracts.events import CampaignEvent, CampaignLaunched
from herald_shared.service_app import ServiceRuntime, create_http_app, serve
from herald_shared.settings import HeraldSettings
from herald_shared.topics import CAMPAIGN_EVENTS, DISPATCHER_GROUP

SERVICE = "dispatcher"
DEFAULT_PORT = 9102
FAN_OUT_DEADLINE_MS = 30 * 60 * 1000


def create_app(settings: HeraldSettings) -> FastAPI:
    runtime = ServiceRuntime.create(SERVICE, settings)

    @runtime.broker.subscriber(
        CAMPAIGN_EVENTS,
        group_id=DISPATCHER_GROUP,
        auto_offset_reset="earliest",
        # Fanning out a large campaign holds one record for minutes; give it that long before
        # the group deems this consumer dead (a redelivery would redo the work, idempotently).
        max_poll_interval_ms=FAN_OUT_DEADLINE_MS,
        title=f"{SERVICE}:{CAMPAIGN_EVENTS}",
        description="Fans each launched campaign out into messages on message.send.primary.",
    )
    async def on_campaign_event(event: CampaignEvent) -> None:
        if isinstance(event, CampaignLaunched):
            await fan_out_campaign(
                runtime.db,
                runtime.broker,
                event,
                account_id=settings.default_account_id,
                batch_size=settings.dispatch_batch_size,
            )

    return create_http_app(runtime)


def main() -> None:
    settings = HeraldSettings()
    serve(create_app(settings), settings, SERVICE, DEFAULT_PORT)
