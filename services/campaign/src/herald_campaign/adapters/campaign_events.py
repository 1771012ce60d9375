"""Publishing ``campaign.events``, keyed by campaign so one campaign's events stay in order."""

from __future__ import annotations

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from herald_campaign.service_layer.errors import EventBusUnavailable
from herald_core.contracts.events import AnyCampaignEvent
from herald_core.contracts.topics import CAMPAIGN_EVENTS


class KafkaCampaignEvents:
    """Publishes an event and returns once Kafka acknowledged it."""

    def __init__(self, broker: KafkaBroker, topic: str = CAMPAIGN_EVENTS) -> None:
        self._broker = broker
        self._topic = topic

    async def publish(self, event: AnyCampaignEvent) -> None:
        """Raises :class:`EventBusUnavailable` when Kafka did not acknowledge the event."""
        try:
            await self._broker.publish(event, topic=self._topic, key=event.campaign_id.encode())
        except (KafkaError, TimeoutError) as error:
            raise EventBusUnavailable(f"cannot publish {event.type}: {error!r}") from error
