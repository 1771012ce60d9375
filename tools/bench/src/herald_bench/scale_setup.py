"""What the scale benchmark does before and between its measured steps: the contacts' CSV file,
its import through the API (streamed as the ``herald`` CLI streams it), and Herald's send topics
emptied so that one campaign's leftover records do not reach the next campaign's senders."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.records_to_delete import RecordsToDelete

from herald_bench.pipeline_setup import phone
from herald_core.contracts.topics import MESSAGE_SEND_FALLBACK, MESSAGE_SEND_PRIMARY

CSV_CHUNK_BYTES = 1024 * 1024
SEND_TOPICS = (MESSAGE_SEND_PRIMARY, MESSAGE_SEND_FALLBACK)


def write_contacts_csv(folder: Path, contacts: int, first: int = 0) -> Path:
    """A CSV file (``contacts.csv`` in ``folder``, made if missing) of ``contacts`` distinct
    valid numbers (``phone``, ``name``), as a user exports one; phones ``first`` on."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "contacts.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("phone,name\n")
        for start in range(first, first + contacts, 10_000):
            end = min(start + 10_000, first + contacts)
            out.write("".join(f"{phone(i)},n{i}\n" for i in range(start, end)))
    return path


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, CSV_CHUNK_BYTES):
            yield chunk


async def import_csv(api: httpx.AsyncClient, campaign_id: str, path: Path, expected: int) -> float:
    """Import the file into the campaign as its body (``text/csv``), streamed; the seconds
    from the request to the answer. Raises unless every row was accepted."""
    started = time.monotonic()
    answer = await api.post(
        f"/api/campaigns/{campaign_id}/contacts",
        content=_file_chunks(path),
        headers={"Content-Type": "text/csv; charset=utf-8"},
        timeout=None,
    )
    seconds = time.monotonic() - started
    if answer.status_code != 200 or answer.json().get("accepted") != expected:
        raise RuntimeError(f"import refused: {answer.status_code} {answer.text[:500]}")
    return seconds


async def empty_send_topics(bootstrap: str) -> int:
    """Delete every record of Herald's send topics (those that exist); how many there were.
    No Herald process may be consuming them: the benchmark owns this Kafka."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        existing = await consumer.topics()  # also fetches their partitions
        partitions = [
            TopicPartition(topic, partition)
            for topic in SEND_TOPICS
            if topic in existing
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return 0
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        records = sum(int(ends[p]) - int(starts[p]) for p in partitions)
        await admin.delete_records({p: RecordsToDelete(ends[p]) for p in partitions})
        return records
    finally:
        await consumer.stop()
        await admin.close()
