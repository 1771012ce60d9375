"""The ceiling of the pipeline benchmark: only the I/O Herald's design needs per message, no
framework.

Two processes, as Herald's dispatcher and sender are two:

- ``fan-out``: reads the contacts from MongoDB in batches, inserts the message documents in
  batches (``insert_many``, already ``queued``: no state machine), publishes one Kafka record per
  message keyed by its sender account (acks=all) on a topic with as many partitions as Herald's
  send topics;
- ``sender``: consumes that topic, works on each account's records in order in a lane of its
  own (lanes run concurrently: one send in flight per account, as Herald), claims each message
  by ``_id`` and status (``update_one``), calls the gateway simulator's ``POST /api/sendText``,
  marks it sent by ``_id`` (``update_one``), and commits each partition's offsets up to its
  lowest unfinished record.

No state-machine module, no counters, no status events, no metrics, no logging per message.
:mod:`bench.pipeline` starts both with the same servers and simulator as Herald and reads
the outcome from MongoDB (``claimedAt``, ``sentAt``). Each process prints one line ``ready``
when it is set (the sender once it has its partitions), waits for a line on stdin (the fan-out:
the start; the sender: a stop, should the benchmark give up waiting), and prints its figures
as one JSON line at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from pymongo import AsyncMongoClient

from herald_bench.proc_stats import memory_mb
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.partition_progress import PartitionProgress

Document = dict[str, Any]

MESSAGES = "messages"
CONTACTS = "contacts"
GROUP = "herald-bench-ceiling"
BATCH: int = HeraldSettings.model_fields["dispatch_batch_size"].default
"""Contacts read and messages inserted per batch: Herald's ``HERALD_DISPATCH_BATCH_SIZE``."""
MAX_CONNECTIONS = 200
"""HTTP connections to the gateway: Herald's gateway client has the same limit."""
COMMIT_SECONDS = 1.0
GATEWAY_TRIES = 3


def now() -> datetime:
    return datetime.now(UTC)


async def ensure_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in set(await admin.list_topics()):
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


# The fan-out


def message_document(contact: Document, account_id: str, body: str, at: datetime) -> Document:
    return {
        "_id": f"msg_{contact['_id']}",
        "campaignId": contact["campaignId"],
        "phone": contact["phone"],
        # The one placeholder of the benchmark's template, filled as plainly as it gets.
        "body": body.replace("{{name|there}}", contact.get("name") or "there"),
        "accountId": account_id,
        "status": "queued",
        "createdAt": at,
    }


async def fan_out(args: argparse.Namespace) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(args.mongo, tz_aware=True)
    db = client[args.database]
    producer = AIOKafkaProducer(bootstrap_servers=args.kafka, acks="all", linger_ms=5)
    await producer.start()
    accounts = [f"{args.account_prefix}{index:05d}" for index in range(args.accounts)]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    started, cpu_at_start = time.time(), cpu_seconds()
    published = 0
    try:
        batch: list[Document] = []
        cursor = db[CONTACTS].find({"campaignId": args.campaign}).sort("_id", 1).batch_size(BATCH)
        async for contact in cursor:
            batch.append(contact)
            if len(batch) == BATCH:
                published += await _fan_out_batch(db, producer, batch, accounts, args, published)
                batch = []
        published += await _fan_out_batch(db, producer, batch, accounts, args, published)
        queued_at = time.time()
    finally:
        await producer.stop()
        await client.close()
    print(
        json.dumps(
            {
                "startedAt": started,
                "queuedAt": queued_at,
                "published": published,
                "peakRssMb": memory_mb_of_self("VmHWM"),
                "cpuSeconds": cpu_seconds() - cpu_at_start,
            }
        ),
        flush=True,
    )


async def _fan_out_batch(
    db: Any,
    producer: AIOKafkaProducer,
    contacts: Sequence[Document],
    accounts: Sequence[str],
    args: argparse.Namespace,
    done: int,
) -> int:
    if not contacts:
        return 0
    at = now()
    documents = [
        message_document(contact, accounts[(done + index) % len(accounts)], args.body, at)
        for index, contact in enumerate(contacts)
    ]
    await db[MESSAGES].insert_many(documents, ordered=False)
    futures = [
        await producer.send(
            args.topic,
            key=document["accountId"].encode(),
            value=json.dumps(
                {
                    "id": document["_id"],
                    "phone": document["phone"],
                    "body": document["body"],
                    "account": document["accountId"],
                }
            ).encode(),
        )
        for document in documents
    ]
    await asyncio.gather(*futures)
    return len(documents)


# The sender


class CeilingSender:
    """Lanes per account over one consumer, committing up to the lowest unfinished record."""

    def __init__(self, args: argparse.Namespace, db: Any, gateway: httpx.AsyncClient) -> None:
        self._args = args
        self._db = db
        self._gateway = gateway
        self._progress: dict[TopicPartition, PartitionProgress] = {}
        self._lanes: dict[bytes, deque[Any]] = {}
        self._tasks: dict[bytes, asyncio.Task[None]] = {}
        self.sent = 0
        self.skipped = 0
        self.all_sent = asyncio.Event()

    async def run(self, consumer: AIOKafkaConsumer) -> None:
        last_commit = time.monotonic()
        announced = False
        while not self.all_sent.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            if not announced and consumer.assignment():
                print("ready", flush=True)
                announced = True
            for partition, records in batches.items():
                progress = self._progress.setdefault(partition, PartitionProgress())
                for record in records:
                    progress.received(record.offset)
                    key = record.key or b""
                    self._lanes.setdefault(key, deque()).append((partition, record))
                    if key not in self._tasks:
                        self._tasks[key] = asyncio.create_task(self._lane(key))
            if time.monotonic() - last_commit >= COMMIT_SECONDS:
                await self._commit(consumer)
                last_commit = time.monotonic()
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        await self._commit(consumer)

    async def _lane(self, key: bytes) -> None:
        lane = self._lanes[key]
        while lane:
            partition, record = lane.popleft()
            try:
                await self._deliver(json.loads(record.value))
            except Exception as error:  # left unsent: the run is reported incomplete
                print(f"record {record.offset} of {partition}: {error!r}", file=sys.stderr)
            self._progress[partition].finished(record.offset)
        del self._lanes[key]
        del self._tasks[key]

    async def _deliver(self, message: Document) -> None:
        claimed = await self._db[MESSAGES].update_one(
            {"_id": message["id"], "status": "queued"},
            {"$set": {"status": "sending", "claimedAt": now()}},
        )
        if not claimed.modified_count:
            self.skipped += 1
            return
        response = await self._call_gateway(message)
        gateway_id = (response.json().get("key") or {}).get("id")
        await self._db[MESSAGES].update_one(
            {"_id": message["id"], "status": "sending"},
            {"$set": {"status": "sent", "sentAt": now(), "gatewayMessageId": gateway_id}},
        )
        self.sent += 1
        if self.sent >= self._args.messages:
            self.all_sent.set()

    async def _call_gateway(self, message: Document) -> httpx.Response:
        """The send, tried again after an error: on a busy machine the simulator may refuse a
        connection now and then. A request that got through is counted by the simulator, so a
        second one shows as a duplicate in the run's figures."""
        for attempt in range(1, GATEWAY_TRIES + 1):
            try:
                response = await self._gateway.post(
                    "/api/sendText",
                    json={
                        "session": session_of(message["account"], self._args),
                        "chatId": f"{message['phone'].lstrip('+')}@c.us",
                        "text": message["body"],
                    },
                    headers={"X-Herald-Message-Id": message["id"]},
                )
                response.raise_for_status()
                return response
            except httpx.HTTPError as error:
                print(f"gateway call {attempt} for {message['id']}: {error!r}", file=sys.stderr)
                if attempt == GATEWAY_TRIES:
                    raise
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        offsets = {
            partition: point
            for partition, progress in self._progress.items()
            if (point := progress.commit_point()) is not None
        }
        if offsets:
            await consumer.commit(offsets)


def session_of(account_id: str, args: argparse.Namespace) -> str:
    """The simulator session of an account: the same as Herald's run uses."""
    return f"{args.session_prefix}{account_id.removeprefix(args.account_prefix)}"


def cpu_seconds() -> float:
    """CPU this process used so far (user and system)."""
    times = os.times()
    return times.user + times.system


def memory_mb_of_self(field: str) -> float:
    return memory_mb(os.getpid(), field)


async def send(args: argparse.Namespace) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(args.mongo, tz_aware=True)
    gateway = httpx.AsyncClient(
        base_url=args.gateway,
        headers={"X-Api-Key": args.api_key},
        timeout=30,
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=50),
    )
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.kafka,
        group_id=GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    sender = CeilingSender(args, client[args.database], gateway)
    rss_start, cpu_at_start = memory_mb_of_self("VmRSS"), cpu_seconds()
    # A line on stdin stops it before every message was sent (the benchmark gave up waiting).
    stop = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    stop.add_done_callback(lambda _: sender.all_sent.set())
    try:
        await sender.run(consumer)
    finally:
        await consumer.stop()
        await gateway.aclose()
        await client.close()
    print(
        json.dumps(
            {
                "sent": sender.sent,
                "skipped": sender.skipped,
                "rssStartMb": rss_start,
                "peakRssMb": memory_mb_of_self("VmHWM"),
                "rssEndMb": memory_mb_of_self("VmRSS"),
                "cpuSeconds": cpu_seconds() - cpu_at_start,
            }
        ),
        flush=True,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="herald_bench.pipeline_ceiling", description=__doc__)
    parser.add_argument("role", choices=["fan-out", "sender"])
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--mongo", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--campaign", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--account-prefix", required=True)
    parser.add_argument("--session-prefix", required=True)
    parser.add_argument("--gateway", default="")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--body", required=True, help="the template: {{name|there}} is filled")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    asyncio.run(fan_out(args) if args.role == "fan-out" else send(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
