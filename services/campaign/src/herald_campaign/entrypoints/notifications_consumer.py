"""The consumer of ``campaign.events`` that queues the tenants' webhook notifications."""

from __future__ import annotations

from herald_campaign.entrypoints.services import CampaignServices
from herald_core.contracts.events import CampaignEvent
from herald_core.contracts.topics import CAMPAIGN_EVENTS, NOTIFICATIONS_GROUP
from herald_infra.runtime.service_app import ServiceRuntime


def register(runtime: ServiceRuntime, services: CampaignServices) -> None:
    """Subscribe to ``campaign.events`` (group ``herald-campaign-notifications``).

    Offsets are committed after the deliveries are stored; a redelivered event finds its
    deliveries queued already and queues nothing."""

    @runtime.broker.subscriber(
        CAMPAIGN_EVENTS,
        group_id=NOTIFICATIONS_GROUP,
        # A new group starts at the oldest retained event; endpoints are only told of events
        # after their registration, so that replays nothing to anyone.
        auto_offset_reset="earliest",
        title=f"campaign:{CAMPAIGN_EVENTS}",
        description=(
            "Queues a webhook notification to each subscribed endpoint of the tenant for "
            "campaigns completed, failed, or paused by the system; once per event id."
        ),
    )
    async def on_campaign_event(event: CampaignEvent) -> None:
        await services.notifications.notify(event)
