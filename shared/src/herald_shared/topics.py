"""The registry of Herald's Kafka topics and how they are created."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from herald_shared.settings import HeraldSettings

CAMPAIGN_COMMANDS = "campaign.commands"
CAMPAIGN_EVENTS = "campaign.events"
MESSAGE_SEND_PRIMARY = "message.send.primary"
MESSAGE_SEND_FALLBACK = "message.send.fallback"
MESSAGE_STATUS = "message.status"
MESSAGE_DLT = "message.dlt"
RETRY_TOPIC_PREFIX = "message.retry."

# The consumer group of each consuming service; queue-stats reads their lag by these names.
CAMPAIGN_GROUP = "herald-campaign"
DISPATCHER_GROUP = "herald-dispatcher"
PRIMARY_SENDER_GROUP = "herald-primary-sender"
FALLBACK_SENDER_GROUP = "herald-fallback-sender"
RETRY_RELAY_GROUP = "herald-retry-relay"
DEAD_LETTER_GROUP = "herald-dead-letters"
NOTIFICATIONS_GROUP = "herald-campaign-notifications"


def retry_topic(delay_seconds: float) -> str:
    """The delay topic of one delay, named after it: ``message.retry.60s``, ``…500ms``."""
    millis = round(delay_seconds * 1000)
    if millis % 1000 == 0:
        return f"{RETRY_TOPIC_PREFIX}{millis // 1000}s"
    return f"{RETRY_TOPIC_PREFIX}{millis}ms"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def herald_topics(settings: HeraldSettings) -> list[TopicSpec]:
    """Every topic Herald uses, with its partition count and configuration."""
    send = settings.send_topic_partitions
    events = settings.event_topic_partitions
    week_ms = str(7 * 24 * 3600 * 1000)
    keep = {"retention.ms": week_ms}
    return [
        TopicSpec(CAMPAIGN_COMMANDS, events, keep),
        TopicSpec(CAMPAIGN_EVENTS, events, keep),
        TopicSpec(MESSAGE_SEND_PRIMARY, send, keep),
        TopicSpec(MESSAGE_SEND_FALLBACK, send, keep),
        TopicSpec(MESSAGE_STATUS, events, keep),
        # Dead letters are kept until someone looks at them.
        TopicSpec(MESSAGE_DLT, events, {"retention.ms": "-1"}),
        # Delay topics are keyed by sender account like the send topics they feed.
        *(TopicSpec(topic, send, keep) for topic in _retry_topics(settings)),
    ]


def _retry_topics(settings: HeraldSettings) -> list[str]:
    from herald_shared.attempt_plan import AttemptPlan  # the plan names its topics by delay

    return AttemptPlan.parse(settings.attempt_plan).retry_topics()


async def ensure_topics(settings: HeraldSettings) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Idempotent."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in herald_topics(settings) if t.name not in existing]
        if not missing:
            return []
        # Another process may create them first; that is as good.
        with suppress(TopicAlreadyExistsError):
            await admin.create_topics(
                [
                    NewTopic(
                        t.name,
                        t.partitions,
                        settings.topic_replication_factor,
                        topic_configs=t.config,
                    )
                    for t in missing
                ]
            )
        return [t.name for t in missing]
    finally:
        await admin.close()
