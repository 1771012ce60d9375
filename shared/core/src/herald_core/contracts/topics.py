"""The names of Herald's Kafka topics and consumer groups: part of the contract. Pure."""

from __future__ import annotations

CAMPAIGN_COMMANDS = "campaign.commands"
"""Tenants' commands: producing here is acting as any tenant, so only tenants' own producers
(and Herald's redrive of their dead letters) have a WRITE ACL on it."""
CAMPAIGN_SYSTEM_COMMANDS = "campaign.system-commands"
"""The scheduler's commands (``campaign.run``, ``campaign.pause`` by the system): a topic no
tenant's producer may write, so they cannot be forged; refused on ``campaign.commands``."""
CAMPAIGN_EVENTS = "campaign.events"
MESSAGE_SEND_PRIMARY = "message.send.primary"
MESSAGE_SEND_FALLBACK = "message.send.fallback"
MESSAGE_STATUS = "message.status"
MESSAGE_DLT = "message.dlt"
CONTACT_EVENTS = "contact.events"
RETRY_TOPIC_PREFIX = "message.retry."

# The consumer group of each consuming service; queue-stats reads their lag by these names.
CAMPAIGN_GROUP = "herald-campaign"
CAMPAIGN_SYSTEM_GROUP = "herald-campaign-system"
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
