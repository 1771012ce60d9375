"""Creating Herald's Kafka topics: every topic with its partition count and configuration."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.topics import (
    CAMPAIGN_COMMANDS,
    CAMPAIGN_EVENTS,
    CAMPAIGN_SYSTEM_COMMANDS,
    CONTACT_EVENTS,
    MESSAGE_DLT,
    MESSAGE_SEND_FALLBACK,
    MESSAGE_SEND_PRIMARY,
    MESSAGE_STATUS,
)
from herald_infra.kafka.connection import client_options
from herald_infra.runtime.settings import HeraldSettings


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
    # The plan names its delay topics after their delays.
    retry_topics = AttemptPlan.parse(settings.attempt_plan).retry_topics()
    return [
        TopicSpec(CAMPAIGN_COMMANDS, events, keep),
        # The scheduler's commands, apart from tenants' so that an ACL can keep tenants out.
        TopicSpec(CAMPAIGN_SYSTEM_COMMANDS, events, keep),
        TopicSpec(CAMPAIGN_EVENTS, events, keep),
        TopicSpec(MESSAGE_SEND_PRIMARY, send, keep),
        TopicSpec(MESSAGE_SEND_FALLBACK, send, keep),
        TopicSpec(MESSAGE_STATUS, events, keep),
        # Recipients' opt-outs, opt-ins and replies, keyed by tenant and number.
        TopicSpec(CONTACT_EVENTS, events, keep),
        # Dead letters are kept until someone looks at them.
        TopicSpec(MESSAGE_DLT, events, {"retention.ms": "-1"}),
        # Delay topics are keyed by sender account like the send topics they feed.
        *(TopicSpec(topic, send, keep) for topic in retry_topics),
    ]


async def ensure_topics(settings: HeraldSettings) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Idempotent."""
    admin = AIOKafkaAdminClient(**client_options(settings))
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
