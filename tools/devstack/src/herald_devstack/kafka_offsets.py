"""Whether a consumer group has finished with a record: its committed offset moved past it."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def committed_offset(bootstrap: str, group: str, topic: str, partition: int) -> int:
    """The group's committed offset on one partition (-1 when it committed nothing yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    meta = offsets.get(TopicPartition(topic, partition))
    return -1 if meta is None else int(meta.offset)


async def handled(bootstrap: str, group: str, topic: str, partition: int, offset: int) -> bool:
    """True once ``group`` committed past the record at ``offset`` (Kafka commits the next
    offset to read, and Herald commits only after a record reached its next durable state)."""
    return await committed_offset(bootstrap, group, topic, partition) > offset
