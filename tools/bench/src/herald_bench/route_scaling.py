"""Route scaling benchmark: how the API's read routes and the CSV import grow with a campaign.

    .venv/bin/python -m herald_bench.route_scaling                      # N = 20,000 and 200,000
    .venv/bin/python -m herald_bench.route_scaling --sizes 2000 20000 --requests 20

For each size N it seeds a tenant straight into MongoDB, in the documents' real shapes (as the
dispatcher, the senders and the dead-letter recorder write them): one running campaign of N
messages in a mix of statuses (a share of them failed because the number is not on WhatsApp),
its counters, and a dead letter per failed message. Then, while a background writer moves that
campaign's queued messages to ``sending`` and ``sent`` through Herald's own transitions (a run
that is sending), it asks the campaign service (a process of its own) each route in turn and
reports p50/p99 of:

- ``GET /api/messages/campaign/{id}/stats``
- ``GET /api/campaigns``
- ``GET /api/messages/queue-stats``
- ``GET /api/dead-letters``

Then it imports a CSV of each ``--import-sizes`` rows through ``POST …/contacts`` and times it.
The last lines print each figure's ratio, largest size to smallest: about 1 for a route (its
latency does not depend on N), about the size ratio (10) for the import; well above is a step
that grows faster than N.

Kafka and MongoDB: ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URL`` when set, otherwise started as
the tests start them (``tests/infra.py``). The benchmark writes a ``herald_routes_*`` database,
dropped at the end. Logs stay in ``.local/bench/routes-<time>``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient

from herald_bench.pipeline_setup import phone
from herald_campaign.adapters.api_keys import register_api_key
from herald_campaign.domain.campaigns import (
    CampaignDraft,
    CampaignStatus,
    contact_id,
    draft_campaign_document,
)
from herald_core.contracts.common import DelayType
from herald_core.messages.dead_letters import (
    DEAD_LETTER_ID,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_TOPIC,
    REASON,
    dead_letter_document,
    message_dead_letter_id,
)
from herald_core.messages.states import MessageStatus
from herald_devstack.processes import ManagedProcess, wait_ready
from herald_devstack.stack import SERVICES, UNPACED_QUIET_ENV, StackConfig, StackPorts, services
from herald_dispatcher.message_plan import build_message
from herald_gateways.failures import NOT_ON_WHATSAPP
from herald_infra.messages.batched_transitions import TransitionBatcher
from herald_infra.mongo.client import (
    CAMPAIGNS,
    DEAD_LETTERS,
    MESSAGES,
    Database,
    Document,
    ensure_indexes,
)
from tests.infra import kafka_bootstrap, mongodb_url

REPO = Path(__file__).resolve().parents[4]  # tools/bench/src/herald_bench/<this module>
BODY = "Hello {{name|there}}, this is Herald's route benchmark."
SEED_BATCH = 5_000
OTHER_CAMPAIGNS = 5
"""Finished campaigns beside the running one in each tenant (the list has more than one)."""
MIX: tuple[tuple[MessageStatus, float], ...] = (
    (MessageStatus.SENT, 0.40),
    (MessageStatus.DELIVERED, 0.10),
    (MessageStatus.READ, 0.05),
    (MessageStatus.FAILED, 0.05),
    (MessageStatus.QUEUED, 0.35),
    (MessageStatus.PENDING, 0.05),
)
"""The run's messages by status when the clock starts."""
NOT_ON_WHATSAPP_SHARE = 0.5
"""Of the failed messages: numbers not on WhatsApp (the rest failed retryably)."""
ROUTES = ("stats", "campaigns", "queue-stats", "dead-letters")


def say(text: str) -> None:
    print(text, flush=True)


@dataclasses.dataclass(frozen=True)
class Options:
    sizes: tuple[int, ...] = (20_000, 200_000)
    import_sizes: tuple[int, ...] = (20_000, 200_000)
    requests: int = 40
    writers: int = 20


@dataclasses.dataclass(frozen=True)
class RouteFigures:
    size: int
    p50_ms: dict[str, float]
    p99_ms: dict[str, float]
    transitions_per_s: float
    """What the background writer moved while the routes were asked."""


@dataclasses.dataclass(frozen=True)
class ImportFigures:
    rows: int
    seconds: float
    accepted: int


# Seeding


def status_plan(size: int) -> list[MessageStatus]:
    """The status of each of ``size`` messages, by :data:`MIX` (the rest queued)."""
    statuses: list[MessageStatus] = []
    for status, share in MIX:
        statuses += [status] * int(size * share)
    statuses += [MessageStatus.QUEUED] * (size - len(statuses))
    return statuses


def seeded_message(
    campaign: Document, index: int, status: MessageStatus, now: datetime
) -> Document:
    """Message ``index`` of the campaign as the dispatcher made it, moved on to ``status`` as the
    senders and receipts leave it."""
    number = phone(index)
    contact = {"_id": contact_id(campaign["_id"], number), "phone": number, "name": f"n{index}"}
    message = build_message(campaign, contact, account_id="default", now=now, queued=True)
    message["status"] = status.value
    if status in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ):
        message["sentAt"] = now
        message["gatewayMessageId"] = f"true_{number[1:]}@c.us_{index:08X}"
        message["deliveryMethod"] = "primary"
    if status is MessageStatus.FAILED:
        not_on_whatsapp = index % 2 == 0
        message |= {
            "failedReason": NOT_ON_WHATSAPP if not_on_whatsapp else "gateway-timeout",
            "failedDetail": "seeded",
            "failedAt": now,
            "retryable": not not_on_whatsapp,
            "deliveryMethod": "primary",
            "deadLetter": {"topic": "message.send.primary", "partition": 0, "offset": index},
        }
    return message


def seeded_dead_letter(message: Document, now: datetime) -> Document:
    """The dead letter the recorder keeps of a failed message."""
    payload = (
        f'{{"tenant_id": "{message["tenantId"]}", "campaign_id": "{message["campaignId"]}", '
        f'"message_id": "{message["_id"]}"}}'
    ).encode()
    headers = {
        ORIGINAL_TOPIC: "message.send.primary",
        ORIGINAL_PARTITION: "0",
        ORIGINAL_OFFSET: str(message["deadLetter"]["offset"]),
        REASON: str(message["failedReason"]),
        DEAD_LETTER_ID: message_dead_letter_id(message["_id"], 1),
    }
    return dead_letter_document(
        payload=payload,
        headers=headers,
        key=b"default",
        dlt_partition=0,
        dlt_offset=message["deadLetter"]["offset"],
        recorded_at=now,
    )


async def seed_tenant(db: Database, tenant: str, size: int) -> tuple[str, list[str]]:
    """A tenant with a running campaign of ``size`` messages (and its dead letters) and a few
    finished ones; returns the running campaign's id and its queued messages' ids."""
    now = datetime.now(UTC).replace(microsecond=0)
    draft = CampaignDraft(name=f"routes {size}", message_body=BODY, delay_type=DelayType.FAST)
    for n in range(OTHER_CAMPAIGNS):
        earlier = draft_campaign_document(
            f"cmp_{tenant}_done{n}", tenant, draft, now=now - timedelta(days=n + 1)
        )
        earlier["status"] = CampaignStatus.COMPLETED.value
        await db[CAMPAIGNS].insert_one(earlier)
    campaign = draft_campaign_document(f"cmp_{tenant}_run", tenant, draft, now=now)
    statuses = status_plan(size)
    counts = {s.value: 0 for s in MessageStatus}
    for status in statuses:
        counts[status.value] += 1
    not_on_whatsapp = sum(
        1 for i, s in enumerate(statuses) if s is MessageStatus.FAILED and i % 2 == 0
    )
    campaign |= {
        "status": CampaignStatus.RUNNING.value,
        "run": 1,
        "launchedAt": now,
        "contactCount": size,
        "counts": {**counts, "total": size},
        "failedNotOnWhatsapp": not_on_whatsapp,
    }
    await db[CAMPAIGNS].insert_one(campaign)
    queued: list[str] = []
    for start in range(0, size, SEED_BATCH):
        messages = [
            seeded_message(campaign, index, statuses[index], now)
            for index in range(start, min(start + SEED_BATCH, size))
        ]
        await db[MESSAGES].insert_many(messages, ordered=False)
        # Recorded as the run went, one message a millisecond (a run sending 1,000 a second).
        letters = [
            seeded_dead_letter(m, now - timedelta(milliseconds=size - start - i))
            for i, m in enumerate(messages)
            if m["status"] == MessageStatus.FAILED
        ]
        if letters:
            await db[DEAD_LETTERS].insert_many(letters, ordered=False)
        queued += [m["_id"] for m in messages if m["status"] == MessageStatus.QUEUED]
    return campaign["_id"], queued


# Measuring


class SendingRun:
    """Moves a campaign's queued messages to ``sending``, then ``sent``, through Herald's
    batched transitions (as a sender does), ``writers`` at a time, until stopped."""

    def __init__(self, db: Database, campaign_id: str, queued: Sequence[str], writers: int) -> None:
        self._batcher = TransitionBatcher(db)
        self._campaign_id = campaign_id
        self._queued = list(queued)
        self._writers = writers
        self._stopping = False
        self.moved = 0

    def stop(self) -> None:
        """Let each writer finish the transition it is in, then end (a task cancelled inside a
        MongoDB operation leaves its connection closed)."""
        self._stopping = True

    async def _send(self, ids: Iterator[str]) -> None:
        for message_id in ids:
            if self._stopping:
                return
            for source, target in (
                (MessageStatus.QUEUED, MessageStatus.SENDING),
                (MessageStatus.SENDING, MessageStatus.SENT),
            ):
                if await self._batcher.transition(
                    message_id=message_id,
                    campaign_id=self._campaign_id,
                    source=source,
                    target=target,
                ):
                    self.moved += 1

    async def run(self) -> None:
        ids = iter(self._queued)
        await asyncio.gather(*(self._send(ids) for _ in range(self._writers)))


def percentile(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure_routes(
    api: httpx.AsyncClient, db: Database, campaign_id: str, queued: Sequence[str], options: Options
) -> tuple[dict[str, list[float]], float]:
    paths = {
        "stats": f"/api/messages/campaign/{campaign_id}/stats",
        "campaigns": "/api/campaigns",
        "queue-stats": "/api/messages/queue-stats",
        "dead-letters": "/api/dead-letters",
    }
    for path in paths.values():  # warm: first connections, caches, the query planner
        answer = await api.get(path)
        answer.raise_for_status()
    sending = SendingRun(db, campaign_id, queued, options.writers)
    writer = asyncio.create_task(sending.run())
    started = time.monotonic()
    samples: dict[str, list[float]] = {route: [] for route in ROUTES}
    try:
        for _ in range(options.requests):
            for route, path in paths.items():
                begun = time.perf_counter()
                answer = await api.get(path)
                samples[route].append(1000 * (time.perf_counter() - begun))
                answer.raise_for_status()
    finally:
        elapsed = time.monotonic() - started
        sending.stop()
        await writer
    return samples, sending.moved / elapsed


async def route_figures(db: Database, api_url: str, size: int, options: Options) -> RouteFigures:
    tenant = f"routes{size}"
    token = f"routes-{uuid.uuid4().hex}"
    await register_api_key(db, token, tenant, "route benchmark")
    seeding = time.monotonic()
    campaign_id, queued = await seed_tenant(db, tenant, size)
    say(f"  N = {size:,}: seeded in {time.monotonic() - seeding:.1f} s")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=120) as api:
        samples, rate = await measure_routes(api, db, campaign_id, queued, options)
    return RouteFigures(
        size,
        {route: percentile(s, 0.5) for route, s in samples.items()},
        {route: percentile(s, 0.99) for route, s in samples.items()},
        rate,
    )


def csv_of(rows: int) -> bytes:
    lines = ["phone,name,city"]
    lines += [f"{phone(i)},Name {i},City {i % 100}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


async def import_figures(db: Database, api_url: str, rows: int) -> ImportFigures:
    tenant = f"import{rows}"
    token = f"import-{uuid.uuid4().hex}"
    await register_api_key(db, token, tenant, "route benchmark")
    headers = {"Authorization": f"Bearer {token}"}
    body = csv_of(rows)
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=3600) as api:
        created = await api.post(
            "/api/campaigns",
            json={"name": f"import {rows}", "messageBody": BODY, "delayType": "fast"},
        )
        created.raise_for_status()
        campaign_id = created.json()["id"]
        begun = time.monotonic()
        answer = await api.post(
            f"/api/campaigns/{campaign_id}/contacts",
            content=body,
            headers={"Content-Type": "text/csv"},
        )
        seconds = time.monotonic() - begun
    if answer.status_code != 200:
        raise RuntimeError(f"import of {rows} rows: {answer.status_code} {answer.text[:500]}")
    return ImportFigures(rows, seconds, int(answer.json()["accepted"]))


# Report


def route_table(figures: Sequence[RouteFigures]) -> str:
    head = f"{'route':<14}" + "".join(f"{f'N={f.size:,} p50':>16}{'p99':>10}" for f in figures)
    lines = [head]
    for route in ROUTES:
        cells = "".join(f"{f.p50_ms[route]:>13.1f} ms{f.p99_ms[route]:>7.1f} ms" for f in figures)
        lines.append(f"{route:<14}{cells}")
    lines.append(
        "writes/s      " + "".join(f"{f.transitions_per_s:>16.0f}{'':>10}" for f in figures)
    )
    return "\n".join(lines)


def ratio_lines(routes: Sequence[RouteFigures], imports: Sequence[ImportFigures]) -> list[str]:
    lines: list[str] = []
    if len(routes) >= 2:
        small, large = routes[0], routes[-1]
        for route in ROUTES:
            lines.append(
                f"ratio {route} p99 (N={large.size:,} / N={small.size:,}): "
                f"{large.p99_ms[route] / small.p99_ms[route]:.2f} "
                f"(p50 {large.p50_ms[route] / small.p50_ms[route]:.2f})"
            )
    if len(imports) >= 2:
        small_import, large_import = imports[0], imports[-1]
        lines.append(
            f"ratio import ({large_import.rows:,} / {small_import.rows:,} rows): "
            f"{large_import.seconds / small_import.seconds:.2f} "
            f"(rows ratio {large_import.rows / small_import.rows:.0f})"
        )
    return lines


# The run


def campaign_process(cfg: StackConfig) -> ManagedProcess:
    return next(p for p in services(cfg) if p.name == "campaign")


async def run(kafka: str, mongo: str, options: Options, run_dir: Path) -> None:
    ports = StackPorts.free(SERVICES)
    cfg = StackConfig(
        kafka_bootstrap=kafka,
        mongodb_url=mongo,
        run_dir=run_dir,
        api_token=f"routes-{uuid.uuid4().hex}",
        database=f"herald_routes_{uuid.uuid4().hex[:8]}",
        service_ports=ports.services,
        metrics_ports=ports.metrics,
        primary_gateway_port=ports.primary_gateway,
        fallback_gateway_port=ports.fallback_gateway,
        service_env=dict(UNPACED_QUIET_ENV),
    )
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo, tz_aware=True)
    db = client[cfg.database]
    process = campaign_process(cfg)
    try:
        await ensure_indexes(db)
        process.start()
        await asyncio.to_thread(wait_ready, [process], 120)
        say(f"campaign service ready; database {cfg.database}; logs in {run_dir}")
        routes = [await route_figures(db, cfg.api_url, size, options) for size in options.sizes]
        say("")
        say(route_table(routes))
        imports: list[ImportFigures] = []
        for rows in options.import_sizes:
            figures = await import_figures(db, cfg.api_url, rows)
            say(f"import of {rows:,} rows: {figures.seconds:.1f} s ({figures.accepted:,} accepted)")
            imports.append(figures)
        say("")
        for line in ratio_lines(routes, imports):
            say(line)
    finally:
        process.stop(timeout=20)
        await client.drop_database(cfg.database)
        await client.close()


def parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(Options.sizes))
    parser.add_argument("--import-sizes", type=int, nargs="*", default=list(Options.import_sizes))
    parser.add_argument("--requests", type=int, default=Options.requests, help="per route")
    parser.add_argument(
        "--writers", type=int, default=Options.writers, help="concurrent transitions (0: none)"
    )
    args = parser.parse_args(argv)
    return Options(tuple(args.sizes), tuple(args.import_sizes), args.requests, args.writers)


def main(argv: Sequence[str] | None = None) -> None:
    options = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING)
    run_dir = REPO / ".local" / "bench" / f"routes-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    with kafka_bootstrap() as kafka, mongodb_url() as mongo:
        asyncio.run(run(kafka, mongo, options, run_dir))


if __name__ == "__main__":
    main()
