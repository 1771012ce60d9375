"""Pipeline benchmark: Herald end to end against a framework-free ceiling, and the fan-out.

    make bench                                          # N = 20,000; fan-out 20,000 and 100,000
    .venv/bin/python -m herald_bench.pipeline --messages 2000 --fan-out 5000 --rounds 2

It starts the gateway simulators (zero latency, no failures) and Herald's five services as
processes, as ``make up`` does, with pacing off (``HERALD_PACE_SCALE=0``), on one Kafka and one
MongoDB-wire server, for a tenant with ``--accounts`` sender accounts (one simulator session
each, caps far above the run). Then, in one run:

1. **Herald**: a campaign of N contacts (added through the API), sent with ``POST …/send``;
   it measures from that request until every message is ``sent``: messages/s, the time to the
   first gateway call (the simulator's ledger), the time until every message was queued (the
   campaign's counters), each message's send-to-sent time (its ``sentAt``, p50/p99), and the
   senders' resident memory over the run.
2. **Ceiling**: :mod:`bench.pipeline_ceiling` on the same servers and simulator: the same N
   contacts, only the I/O the design needs per message (batched inserts, one Kafka record per
   message on a topic with as many partitions, claim and mark sent by ``_id``, the gateway
   call), the same concurrency (one send in flight per account), no framework.
3. **Fan-out**: with the senders stopped, a fresh dispatcher process fans each ``--fan-out``
   campaign out (20,000 and 100,000 contacts by default): the time until all are queued and
   the dispatcher's peak memory (VmHWM); then a second campaign to the first one's recipients,
   whose sender accounts are then remembered (a recurring campaign's case).

``--rounds`` repeats 1 and 2 (alternating which goes first), as a loaded machine makes single
figures noisy; the last line is ``pipeline/ceiling: <ratio>`` with both rates (means of the
rounds). Kafka and MongoDB: ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URL`` when set, otherwise
started as the tests start them (``tests/infra.py``); the benchmark needs them to itself (it
uses Herald's topics and consumer groups) and writes ``herald_bench*`` databases, dropped at
the end. Logs stay in ``.local/bench/pipeline-<time>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import ASCENDING, AsyncMongoClient, IndexModel

from herald_bench.pacing import code_state, redacted, server_pids
from herald_bench.pacing_setup import TENANT_ID, account_documents
from herald_bench.pipeline_ceiling import ensure_topic
from herald_bench.pipeline_figures import (
    FanOutFigures,
    MemoryTrace,
    Round,
    RunFigures,
    RunLoad,
    RunTimes,
    fan_out_table,
    load_table,
    memory_table,
    ratio_line,
    run_figures,
    run_table,
)
from herald_bench.pipeline_setup import (
    ACCOUNT_PREFIX,
    BODY,
    SESSION_PREFIX,
    add_accounts,
    add_ceiling_contacts,
    create_campaign,
    phone,
    simulator_sessions,
)
from herald_bench.proc_stats import CpuSnapshot, memory_mb
from herald_campaign.adapters.api_keys import register_api_key
from herald_devstack.processes import ManagedProcess, wait_ready
from herald_devstack.stack import (
    SERVICES,
    UNPACED_QUIET_ENV,
    StackConfig,
    StackPorts,
    services,
    simulators,
)
from herald_infra.campaigns.fan_out_watermark import FAN_OUT, watermark_of
from herald_infra.mongo.client import CAMPAIGNS, CONTACTS, MESSAGES, Database, Document
from herald_infra.runtime.settings import HeraldSettings
from tests.infra import kafka_bootstrap, mongodb_url

DESCRIPTION = "Pipeline benchmark: Herald end to end against its raw ceiling, and the fan-out."
REPO = Path(__file__).resolve().parents[4]  # tools/bench/src/herald_bench/<this module>
SIMULATOR_KEY = "herald-simulator-key"
API_TOKEN = "herald-bench"
HERALD_DATABASE = "herald_bench"
CEILING_DATABASE = "herald_bench_ceiling"
CEILING_TOPIC = "herald_bench.ceiling.send"
SAMPLE_SECONDS = 0.5
"""How often resident memory is sampled."""
POLL_SECONDS = 0.05
"""How often the campaign's counters are read while its messages are being queued."""
STALL_SECONDS = 120.0
"""A run whose simulator accepted nothing new for this long is over (reported incomplete)."""
FIRST_CLAIMS = 50
"""The earliest claims looked up in the simulator's ledger for the first gateway call."""
SETTLE_SECONDS = 2.0
CEILING_INDEXES = {
    # The one message index the design cannot do without: a campaign's messages by status (its
    # stats, its sweep); every index costs every write. And the contacts' as Herald has it.
    MESSAGES: [IndexModel([("campaignId", ASCENDING), ("status", ASCENDING)])],
    CONTACTS: [IndexModel([("campaignId", ASCENDING), ("_id", ASCENDING)])],
}


def say(text: str) -> None:
    print(text, flush=True)


@dataclasses.dataclass(frozen=True)
class Options:
    messages: int = 20_000
    accounts: int = 100
    fan_outs: tuple[int, ...] = (20_000, 100_000)
    rounds: int = 1
    max_run_seconds: float = 1800.0
    partitions: int = HeraldSettings().send_topic_partitions


@dataclasses.dataclass(frozen=True)
class Report:
    rounds: Sequence[Round]
    fan_outs: Sequence[FanOutFigures]
    text: str

    @property
    def complete(self) -> bool:
        return all(r.herald.complete and r.ceiling.complete for r in self.rounds) and all(
            f.queued_seconds is not None for f in self.fan_outs
        )


# The stack


def bench_stack(kafka: str, mongo: str, run_dir: Path, options: Options) -> StackConfig:
    ports = StackPorts.free(SERVICES)
    return StackConfig(
        kafka_bootstrap=kafka,
        mongodb_url=mongo,
        run_dir=run_dir,
        api_token=API_TOKEN,
        database=HERALD_DATABASE,
        gateway_api_key=SIMULATOR_KEY,
        service_ports=ports.services,
        metrics_ports=ports.metrics,
        primary_gateway_port=ports.primary_gateway,
        fallback_gateway_port=ports.fallback_gateway,
        service_env={
            **UNPACED_QUIET_ENV,
            "HERALD_SEND_TOPIC_PARTITIONS": str(options.partitions),
            # Environment wins: HERALD_* set by the caller reach every service.
            **{k: v for k, v in os.environ.items() if k.startswith("HERALD_")},
        },
        simulator_args=("--sessions", simulator_sessions(options.accounts)),
    )


@dataclasses.dataclass
class Bench:
    """The running stack and the clients the benchmark drives it with."""

    cfg: StackConfig
    options: Options
    processes: dict[str, ManagedProcess]
    mongo: AsyncMongoClient[Document]
    api: httpx.AsyncClient
    gateway: httpx.AsyncClient
    """The primary simulator: Herald's first attempts, and every send of the ceiling."""
    fallback_gateway: httpx.AsyncClient
    """The fallback simulator: Herald's next attempts, when a first one failed."""

    @property
    def herald_gateways(self) -> list[httpx.AsyncClient]:
        return [self.gateway, self.fallback_gateway]

    @property
    def db(self) -> Database:
        return self.mongo[self.cfg.database]

    @property
    def ceiling_db(self) -> Database:
        return self.mongo[CEILING_DATABASE]

    def pids(self, *extra: ManagedProcess) -> dict[str, int | None]:
        found = {name: process.pid() for name, process in self.processes.items()}
        found.update({p.name: p.pid() for p in extra})
        found["bench"] = os.getpid()
        return {**found, **server_pids(self.cfg)}


def simulator_client(cfg: StackConfig, port: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=cfg.url(port), headers={"X-Api-Key": SIMULATOR_KEY}, timeout=60
    )


@contextlib.asynccontextmanager
async def running_bench(cfg: StackConfig, options: Options) -> Any:
    processes = [*simulators(cfg), *services(cfg)]
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(cfg.mongodb_url, tz_aware=True)
    try:
        for name in (HERALD_DATABASE, CEILING_DATABASE):
            await mongo.drop_database(name)
        for process in processes:
            process.start()
        await asyncio.to_thread(wait_ready, processes, 180)
        db = mongo[cfg.database]
        await register_api_key(db, API_TOKEN, TENANT_ID, "pipeline benchmark")
        now = datetime.now(UTC)
        await add_accounts(
            db,
            account_documents(
                options.accounts,
                cfg.url(cfg.primary_gateway_port),
                SIMULATOR_KEY,
                now,
                fallback_url=cfg.url(cfg.fallback_gateway_port),
            ),
        )
        async with (
            httpx.AsyncClient(
                base_url=cfg.api_url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=300
            ) as api,
            simulator_client(cfg, cfg.primary_gateway_port) as gateway,
            simulator_client(cfg, cfg.fallback_gateway_port) as fallback,
        ):
            named = {p.name: p for p in processes}
            yield Bench(cfg, options, named, mongo, api, gateway, fallback)
    finally:
        for process in reversed(processes):
            await asyncio.to_thread(process.stop, 30)
        with contextlib.suppress(Exception):
            for name in (HERALD_DATABASE, CEILING_DATABASE):
                await mongo.drop_database(name)
        await mongo.close()


# Watching a run


class MemorySampler:
    """Samples the resident memory of some processes every SAMPLE_SECONDS until stopped."""

    def __init__(self, processes: Sequence[ManagedProcess]) -> None:
        self._processes = processes
        self._samples: dict[str, list[tuple[float, float]]] = {p.name: [] for p in processes}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._take()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            self._take()

    def _take(self) -> None:
        for process in self._processes:
            rss = memory_mb(process.pid(), "VmRSS")
            if rss:
                self._samples[process.name].append((time.time(), rss))

    async def stop(self) -> list[MemoryTrace]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._take()
        return [
            MemoryTrace(p.name, self._samples[p.name], memory_mb(p.pid(), "VmHWM"))
            for p in self._processes
        ]


async def ledger_summaries(
    gateways: Sequence[httpx.AsyncClient], *, by_message: bool
) -> list[dict[str, Any]]:
    """Each simulator's ledger since it was reset; with each message's count if ``by_message``."""
    summaries = []
    for gateway in gateways:
        response = await gateway.get("/_sim/sends", params={"byMessage": str(by_message).lower()})
        response.raise_for_status()
        summaries.append(response.json())
    return summaries


async def accepted_count(gateways: Sequence[httpx.AsyncClient]) -> int:
    """What the simulators accepted, all together."""
    return sum(int(s["accepted"]) for s in await ledger_summaries(gateways, by_message=False))


async def ledger(gateways: Sequence[httpx.AsyncClient]) -> tuple[int, int]:
    """What the simulators accepted, all together, and how many messages more than once (on
    one simulator, or on both: primary and fallback)."""
    summaries = await ledger_summaries(gateways, by_message=True)
    times: Counter[str] = Counter()
    for summary in summaries:
        times.update({key: int(count) for key, count in summary["byMessage"].items()})
    accepted = sum(int(s["accepted"]) for s in summaries)
    return accepted, sum(1 for count in times.values() if count > 1)


async def wait_for_accepted(
    gateways: Sequence[httpx.AsyncClient], expected: int, deadline: float
) -> None:
    """Until the simulators accepted ``expected`` sends together, accepted nothing new for
    STALL_SECONDS, or the deadline (monotonic) passed; says how far it got every 10 s."""
    last_count, last_change, last_report = -1, time.monotonic(), time.monotonic()
    while True:
        count = await accepted_count(gateways)
        now = time.monotonic()
        if count != last_count:
            last_count, last_change = count, now
        if count >= expected:
            return
        if now - last_change > STALL_SECONDS or now > deadline:
            say(f"    stopped waiting: {count:,} of {expected:,} sent")
            return
        if now - last_report >= 10:
            say(f"    {count:,} of {expected:,} sent")
            last_report = now
        await asyncio.sleep(0.25)


async def last_contact_id(db: Database, campaign_id: str) -> str:
    """The campaign's last contact in fan-out order (read before the send: a sort of every
    contact would compete with the fan-out's first batch)."""
    last = await db[CONTACTS].find_one({"campaignId": campaign_id}, {"_id": 1}, sort=[("_id", -1)])
    if last is None:
        raise ValueError(f"campaign {campaign_id} has no contacts")
    return str(last["_id"])


async def wait_until_queued(
    db: Database, campaign_id: str, last_contact: str, total: int, deadline: float
) -> float:
    """When the campaign first showed every message created, none ``pending`` and every send
    record acknowledged by Kafka (its fan-out's watermark past ``last_contact``), in epoch
    seconds; polls every POLL_SECONDS."""
    while time.monotonic() < deadline:
        found = await db[CAMPAIGNS].find_one({"_id": campaign_id}, {"counts": 1, FAN_OUT: 1})
        counts: Mapping[str, int] = (found or {}).get("counts") or {}
        published = watermark_of(found or {}, run=1).covers(last_contact)
        if published and counts.get("total", 0) >= total and counts.get("pending", 0) <= 0:
            return time.time()
        await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"campaign {campaign_id} not queued in time")


async def sent_times(db: Database, campaign_id: str, expected: int) -> list[float]:
    """Each sent message's ``sentAt``; waits (up to a minute) until the records of every
    message the simulator accepted are written."""
    deadline = time.monotonic() + 60
    while True:
        found = [
            d["sentAt"].timestamp()
            async for d in db[MESSAGES].find(
                {"campaignId": campaign_id, "status": "sent"}, {"sentAt": 1}
            )
        ]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def first_gateway_call(
    gateway: httpx.AsyncClient, db: Database, campaign_id: str, claimed_at: str
) -> float | None:
    """The earliest time the simulator received one of the campaign's first claimed messages
    (a message is claimed right before its gateway call)."""
    cursor = (
        db[MESSAGES]
        .find({"campaignId": campaign_id, claimed_at: {"$ne": None}}, {claimed_at: 1})
        .sort(claimed_at, 1)
        .limit(FIRST_CLAIMS)
    )
    times = []
    async for document in cursor:
        response = await gateway.get(f"/_sim/sends/{document['_id']}")
        response.raise_for_status()
        times += [record["time"] for record in response.json()]
    return min(times, default=None)


def cores(
    before: CpuSnapshot, after: CpuSnapshot, seconds: float, reported_cpu_seconds: float = 0.0
) -> RunLoad:
    """The machine's busy cores over a window, the part that neither ``before``'s processes
    nor processes that reported ``reported_cpu_seconds`` used (other work), and the MongoDB
    server's CPU."""
    used = after.cores_since(before, seconds)
    machine = used.pop("machine")
    ours = sum(used.values()) + reported_cpu_seconds / seconds
    return RunLoad(machine, max(0.0, machine - ours), used.get("mongodb", 0.0) * seconds)


# Herald


async def herald_run(
    bench: Bench, round_number: int
) -> tuple[RunFigures, list[MemoryTrace], RunLoad]:
    options = bench.options
    phones = [
        phone(index)
        for index in range(round_number * options.messages, (round_number + 1) * options.messages)
    ]
    campaign_id = await create_campaign(bench.api, f"pipeline round {round_number}", phones)
    for gateway in bench.herald_gateways:
        await gateway.delete("/_sim/sends")
    senders = [bench.processes["primary-sender"], bench.processes["fallback-sender"]]
    sampler = MemorySampler(senders)
    cpu_before = CpuSnapshot.take(bench.pids())
    deadline = time.monotonic() + options.max_run_seconds
    claims_before = await claims_by_source(bench)
    last_contact = await last_contact_id(bench.db, campaign_id)
    sampler.start()
    started_at = time.time()
    sent = await bench.api.post(f"/api/campaigns/{campaign_id}/send")
    if sent.status_code != 202:
        raise RuntimeError(f"send refused: {sent.status_code} {sent.text}")
    queued = asyncio.create_task(
        wait_until_queued(bench.db, campaign_id, last_contact, options.messages, deadline)
    )
    await wait_for_accepted(bench.herald_gateways, options.messages, deadline)
    window = time.time() - started_at
    traces = await sampler.stop()
    load = cores(cpu_before, CpuSnapshot.take(bench.pids()), window)
    queued_at = await queued if queued.done() else None
    if not queued.done():
        queued.cancel()
    _, duplicates = await ledger(bench.herald_gateways)
    claims = await claims_by_source(bench)
    claims.subtract(claims_before)
    say(f"  Herald's claims, by the status they found: {dict(claims)}")
    times = RunTimes(
        label="Herald",
        messages=options.messages,
        started_at=started_at,
        first_call_at=await first_gateway_call(
            bench.gateway, bench.db, campaign_id, "claim.claimedAt"
        ),
        queued_at=queued_at,
        sent_at=await sent_times(bench.db, campaign_id, options.messages),
        duplicates=duplicates,
    )
    return run_figures(times), traces, load


async def claims_by_source(bench: Bench) -> Counter[str]:
    """The primary sender's claims so far by the status they took the message from (from its
    ``herald_message_transitions_total``): ``pending`` ones were published by the dispatcher
    but not yet marked queued when claimed."""
    response = await bench.api.get(bench.cfg.metrics_url("primary-sender"))
    response.raise_for_status()
    claims: Counter[str] = Counter()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if (
                sample.name == "herald_message_transitions_total"
                and sample.labels.get("target") == "sending"
            ):
                claims[sample.labels["source"]] += int(sample.value)
    return claims


# The ceiling


def ceiling_process(bench: Bench, role: str, campaign_id: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "herald_bench.pipeline_ceiling",
        role,
        *("--kafka", bench.cfg.kafka_bootstrap, "--mongo", bench.cfg.mongodb_url),
        *("--database", CEILING_DATABASE, "--campaign", campaign_id, "--topic", CEILING_TOPIC),
        *("--messages", str(bench.options.messages), "--accounts", str(bench.options.accounts)),
        *("--account-prefix", ACCOUNT_PREFIX, "--session-prefix", SESSION_PREFIX),
        *("--gateway", bench.cfg.url(bench.cfg.primary_gateway_port), "--api-key", SIMULATOR_KEY),
        *("--body", BODY),
    ]


async def start_ceiling(bench: Bench, role: str, campaign_id: str) -> asyncio.subprocess.Process:
    """Start one of the ceiling's processes and wait for its ``ready``."""
    log = (bench.cfg.run_dir / f"ceiling-{role}.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        *ceiling_process(bench, role, campaign_id),
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=120)
    if line.strip() != b"ready":
        raise RuntimeError(f"ceiling {role} did not start: {line!r}; see {log.name}")
    return process


async def last_json(process: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    out = await asyncio.wait_for(process.stdout.read(), timeout=timeout)
    await process.wait()
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(
            f"a ceiling process ended without its figures (exit {process.returncode})"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result


async def ceiling_run(bench: Bench, round_number: int) -> tuple[RunFigures, RunLoad]:
    options = bench.options
    campaign_id = f"ceiling-{round_number}"
    phones = [
        phone(index)
        for index in range(round_number * options.messages, (round_number + 1) * options.messages)
    ]
    for collection, indexes in CEILING_INDEXES.items():
        await bench.ceiling_db[collection].create_indexes(indexes)
    await add_ceiling_contacts(bench.ceiling_db, campaign_id, phones, datetime.now(UTC))
    await bench.gateway.delete("/_sim/sends")
    sender = await start_ceiling(bench, "sender", campaign_id)
    fan_out = await start_ceiling(bench, "fan-out", campaign_id)
    # The ceiling's own processes end with the run: they report the CPU they used.
    pids = bench.pids()
    cpu_before = CpuSnapshot.take(pids)
    assert fan_out.stdin is not None
    fan_out.stdin.write(b"go\n")
    await fan_out.stdin.drain()
    try:
        fanned = await last_json(fan_out, options.max_run_seconds)
        await wait_for_accepted(
            [bench.gateway], options.messages, time.monotonic() + options.max_run_seconds
        )
        window = time.time() - float(fanned["startedAt"])
        cpu_after = CpuSnapshot.take(pids)
        if sender.returncode is None and sender.stdin is not None:
            sender.stdin.write(b"stop\n")  # it has not sent everything: it never will
            await sender.stdin.drain()
        sent = await last_json(sender, 120)
        ceiling_cpu = float(fanned["cpuSeconds"]) + float(sent["cpuSeconds"])
        load = cores(cpu_before, cpu_after, window, ceiling_cpu)
    finally:
        for process in (sender, fan_out):
            if process.returncode is None:
                process.kill()
                await process.wait()
    _, duplicates = await ledger([bench.gateway])
    times = RunTimes(
        label="ceiling",
        messages=options.messages,
        started_at=float(fanned["startedAt"]),
        first_call_at=await first_gateway_call(
            bench.gateway, bench.ceiling_db, campaign_id, "claimedAt"
        ),
        queued_at=float(fanned["queuedAt"]),
        sent_at=await sent_times(bench.ceiling_db, campaign_id, options.messages),
        duplicates=duplicates,
    )
    return run_figures(times), load


# Fan-out


def fan_out_audience(bench: Bench, contacts: int, index: int) -> list[str]:
    """The phones of the ``index``-th fan-out campaign, none of them used before."""
    first = (bench.options.rounds + 1) * bench.options.messages + index * 1_000_000
    return [phone(i) for i in range(first, first + contacts)]


async def fan_out_run(
    bench: Bench, phones: Sequence[str], *, seen_before: bool = False
) -> FanOutFigures:
    """A fresh dispatcher fans a campaign to ``phones`` out while no sender runs."""
    contacts = len(phones)
    campaign_id = await create_campaign(bench.api, f"fan-out {contacts}", phones)
    dispatcher = bench.processes["dispatcher"]
    await asyncio.to_thread(dispatcher.stop, 30)
    dispatcher.start()
    await asyncio.to_thread(wait_ready, [dispatcher], 120)
    last_contact = await last_contact_id(bench.db, campaign_id)
    await asyncio.sleep(SETTLE_SECONDS)
    sampler = MemorySampler([dispatcher])
    sampler.start()
    started_at = time.time()
    sent = await bench.api.post(f"/api/campaigns/{campaign_id}/send")
    if sent.status_code != 202:
        raise RuntimeError(f"send refused: {sent.status_code} {sent.text}")
    try:
        queued_at: float | None = await wait_until_queued(
            bench.db,
            campaign_id,
            last_contact,
            contacts,
            time.monotonic() + bench.options.max_run_seconds,
        )
    except TimeoutError:
        queued_at = None
    (trace,) = await sampler.stop()
    return FanOutFigures(
        contacts=contacts,
        queued_seconds=None if queued_at is None else queued_at - started_at,
        dispatcher=trace,
        audience_seen_before=seen_before,
    )


# The whole run


async def run_rounds(bench: Bench) -> list[Round]:
    rounds = []
    await ensure_topic(bench.cfg.kafka_bootstrap, CEILING_TOPIC, bench.options.partitions)
    for number in range(bench.options.rounds):
        say(f"round {number + 1}:")
        herald_first = number % 2 == 1
        if herald_first:
            herald, senders, herald_load = await herald_run(bench, number)
            say(f"  Herald: {herald.rate:,.0f} msgs/s")
        ceiling, ceiling_load = await ceiling_run(bench, number)
        say(f"  ceiling: {ceiling.rate:,.0f} msgs/s")
        if not herald_first:
            herald, senders, herald_load = await herald_run(bench, number)
            say(f"  Herald: {herald.rate:,.0f} msgs/s")
        rounds.append(Round(herald, ceiling, senders, herald_load, ceiling_load))
    return rounds


async def run_fan_outs(bench: Bench) -> list[FanOutFigures]:
    if not bench.options.fan_outs:
        return []
    for name in ("primary-sender", "fallback-sender"):
        await asyncio.to_thread(bench.processes[name].stop, 30)
    runs = [
        (fan_out_audience(bench, contacts, index), False)
        for index, contacts in enumerate(bench.options.fan_outs)
    ]
    # Last, a second campaign to the first one's recipients: a recurring campaign's case.
    runs.append((runs[0][0], True))
    results = []
    for phones, seen_before in runs:
        audience = "recipients seen before" if seen_before else "new recipients"
        say(f"fan-out of {len(phones):,} contacts, {audience}:")
        result = await fan_out_run(bench, phones, seen_before=seen_before)
        seconds = result.queued_seconds or float("nan")
        say(f"  queued in {seconds:.1f} s, dispatcher peak {result.dispatcher.peak_mb:.0f} MB")
        results.append(result)
    return results


def report_text(
    rounds: Sequence[Round],
    fan_outs: Sequence[FanOutFigures],
    options: Options,
    code: str,
    elapsed: float,
) -> str:
    load = os.getloadavg()
    return "\n".join(
        [
            "",
            f"Pipeline benchmark: N = {options.messages:,} messages over {options.accounts} sender"
            f" accounts, {options.partitions} send-topic partitions, pacing off"
            f" (HERALD_PACE_SCALE=0), zero-latency simulator; {os.cpu_count()} cores, load"
            f" average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.",
            code,
            "",
            run_table(rounds),
            "",
            load_table(rounds),
            "",
            memory_table(rounds),
            "",
            fan_out_table(fan_outs),
            "",
            "msgs/s: N / (last sentAt - start). start: Herald, the send request; ceiling, its"
            " fan-out's start. 1st call: the simulator's ledger. all queued: Herald, when the"
            " campaign showed every message created, none pending and its fan-out's watermark"
            " past the last contact (every record acknowledged); ceiling, when its fan-out had"
            " every record acknowledged."
            " send→sent: each message's sentAt - start.",
            "cores busy: the whole machine's CPU over each run; other work: the part no process"
            " of this benchmark (stack, servers, ceiling, this script) used.",
            f"Total time: {elapsed / 60:.1f} min.",
            ratio_line(rounds),
        ]
    )


async def run_benchmark(kafka: str, mongo: str, run_dir: Path, options: Options) -> Report:
    """Run everything on these servers; the processes' logs go to ``run_dir``."""
    begun, code = time.monotonic(), code_state()
    cfg = bench_stack(kafka, mongo, run_dir, options)
    async with running_bench(cfg, options) as bench:
        rounds = await run_rounds(bench)
        fan_outs = await run_fan_outs(bench)
    text = report_text(rounds, fan_outs, options, code, time.monotonic() - begun)
    return Report(rounds, fan_outs, text)


@contextlib.contextmanager
def bench_dir() -> Iterator[Path]:
    path = REPO / ".local" / "bench" / f"pipeline-{datetime.now():%Y%m%d-%H%M%S}"
    path.mkdir(parents=True, exist_ok=True)
    yield path


def parse_args(argv: Sequence[str] | None) -> Options:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="herald_bench.pipeline", description=DESCRIPTION)
    parser.add_argument(
        "--messages",
        type=int,
        default=int(os.environ.get("BENCH_N", defaults.messages)),
        help=f"N, the campaign of each round [BENCH_N or {defaults.messages}]",
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=defaults.accounts,
        help=f"sender accounts [{defaults.accounts}]",
    )
    parser.add_argument(
        "--fan-out",
        type=int,
        nargs="*",
        default=list(defaults.fan_outs),
        help="contacts of each fan-out campaign [20000 100000]; none: skip",
    )
    parser.add_argument(
        "--rounds", type=int, default=defaults.rounds, help="Herald/ceiling rounds [1]"
    )
    parser.add_argument(
        "--max-run-seconds", type=float, default=defaults.max_run_seconds, help="per run [1800]"
    )
    args = parser.parse_args(argv)
    return Options(
        messages=args.messages,
        accounts=args.accounts,
        fan_outs=tuple(args.fan_out),
        rounds=args.rounds,
        max_run_seconds=args.max_run_seconds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with kafka_bootstrap() as kafka, mongodb_url() as mongo, bench_dir() as run_dir:
        say(f"Kafka {kafka}, MongoDB {redacted(mongo)}; logs in {run_dir}")
        report = asyncio.run(run_benchmark(kafka, mongo, run_dir, options))
    say(report.text)
    return 0 if report.complete else 1


if __name__ == "__main__":
    sys.exit(main())
