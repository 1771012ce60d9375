"""Pacing benchmark: N sender accounts, each paced at ~100 ms, through one primary sender.

    make bench-pacing                                   # N = 100, 1,000 and 10,000
    .venv/bin/python -m herald_bench.pacing --accounts 100 1000 --seconds 20

For each N it starts a fresh ``herald-primary-sender`` process (configured as ``make up``
configures it) against one gateway simulator (zero latency), creates N enabled sender accounts
(one simulator session each) and one campaign whose gap range is 1.00-1.01 s, sets
``HERALD_PACE_SCALE=0.1`` (every account may send every 100-101 ms), inserts enough queued
messages for about ``--seconds`` of sending at the rate the sender reaches, publishes their
send events keyed by account (acks=all), waits until the simulator accepted every one, and
reports:

- achieved sends/s (steady: between the 5th and 95th percentile of the send times) against the
  ideal N / 100 ms, and against a baseline: the same sender at N=100 with pacing off
  (``HERALD_PACE_SCALE=0``), i.e. as fast as one sender process goes on this machine;
- the lateness of each send against its reserved slot (see ``bench.pacing_figures``; send times
  are the messages' ``sentAt``), p50/p99, next to the quantiles of the sender's own
  ``herald_pace_lateness_seconds`` histogram (bucket bounds); sends closer than the gap are
  looked up in the simulator's ledger, which sees the gap WhatsApp would see;
- the sender's resident memory once ready (before the events) and its peak (VmHWM), the CPU
  the sender, MongoDB, Kafka, the simulator and everything else used over the run, and the
  MongoDB operations per send (the server's opcounters).

Kafka and MongoDB: ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URL`` when set, otherwise started as
the tests start them (``tests/infra.py``: Docker when reachable, else ``deploy/local``). The
bench uses the ``message.send.primary`` topic and the primary sender's consumer group, so a given
Kafka must not be one a Herald stack is running on; it writes ``herald_bench_*`` databases and
drops them. ``HERALD_*`` variables in the environment reach the sender (e.g.
``HERALD_SESSION_POLL_SECONDS``); logs stay in ``.local/bench/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import pstats
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from herald_bench.pacing_figures import (
    GatewayCheck,
    Resources,
    RunFigures,
    Send,
    cpu_table,
    early_pairs,
    limits_text,
    memory_table,
    run_figures,
    throughput_table,
)
from herald_bench.pacing_setup import (
    account_documents,
    campaign_document,
    gap_seconds,
    load_run,
    messages_per_account,
    publish_send_events,
    queued_messages,
    session_name,
    skip_sender_to_end,
)
from herald_bench.proc_stats import CpuSnapshot, listening_pid, memory_mb
from herald_devstack.processes import ManagedProcess, wait_ready
from herald_devstack.stack import SERVICES, StackConfig, StackPorts, services, simulators
from herald_infra.kafka.topics import ensure_topics
from herald_infra.mongo.client import MESSAGES, Database, Document, ensure_indexes
from herald_infra.runtime.settings import HeraldSettings
from tests.infra import kafka_bootstrap, mongodb_url

DESCRIPTION = "Pacing benchmark: N sender accounts, each paced at ~100 ms, through one sender."
REPO = Path(__file__).resolve().parents[4]  # tools/bench/src/herald_bench/<this module>
PACE_SCALE = 0.1
"""With the campaign's 1.00-1.01 s range: a gap of 100-101 ms per account."""
BASELINE_ACCOUNTS = 100
SIMULATOR_KEY = "herald-simulator-key"
POLL_SECONDS = 0.5
STALL_SECONDS = 120.0
"""A run whose simulator accepted nothing new for this long is over (reported incomplete). With
thousands of lanes the sends come in waves: every lane waits its turn for each MongoDB call."""
SETTLE_SECONDS = 2.0
"""After the sender is ready: time to join its group before the resident memory is read."""
EARLY_CHECKS = 200
"""At most this many early sends are looked up in the simulator's ledger."""
MONGO_OPS = ("insert", "query", "update", "delete", "getmore")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
PROFILED_SENDER = """
import cProfile, signal, sys
from herald_primary_sender.main import main
# uvicorn raises SIGTERM again once it shut down; the profile is written only on a clean exit.
signal.signal(signal.SIGTERM, lambda *_: None)
cProfile.run("main()", sys.argv[1])
"""


@dataclasses.dataclass(frozen=True)
class Workload:
    label: str
    accounts: int
    per_account: int
    pace_scale: float

    @property
    def messages(self) -> int:
        return self.accounts * self.per_account

    @property
    def name(self) -> str:
        """For database and campaign ids."""
        return self.label.replace("-", "_")


def say(text: str) -> None:
    print(text, flush=True)


# The stack: Kafka and MongoDB, one simulator for the whole bench, one sender per run


def bench_stack(kafka: str, mongo: str, run_dir: Path, sessions: int) -> StackConfig:
    """Where the bench's processes listen (free ports), and the simulator's sessions."""
    names = ["default", *(session_name(index) for index in range(sessions))]
    ports = StackPorts.free(SERVICES)
    return StackConfig(
        kafka_bootstrap=kafka,
        mongodb_url=mongo,
        run_dir=run_dir,
        api_token="herald-bench",
        gateway_api_key=SIMULATOR_KEY,
        service_ports=ports.services,
        metrics_ports=ports.metrics,
        primary_gateway_port=ports.primary_gateway,
        fallback_gateway_port=ports.fallback_gateway,
        simulator_args=("--sessions", ",".join(names)),
    )


def sender_process(cfg: StackConfig, profile: Path | None = None) -> ManagedProcess:
    """The primary sender, as ``make up`` runs it; under cProfile, writing to ``profile``."""
    sender = next(p for p in services(cfg) if p.name == "primary-sender")
    if profile is None:
        return sender
    return dataclasses.replace(sender, argv=[sys.executable, "-c", PROFILED_SENDER, str(profile)])


def print_profile(path: Path, lines: int = 25) -> None:
    """The functions the sender spent most of its own time in."""
    if path.exists():
        say(f"    profile {path} (python -m pstats), by own time:")
        pstats.Stats(str(path)).sort_stats("tottime").print_stats(lines)


def local_port(address: str) -> int | None:
    """The port of a ``host:port`` or ``mongodb://host:port/…`` address on this machine."""
    parts = urlsplit(address if "//" in address else f"//{address.split(',')[0]}")
    return parts.port if parts.hostname in LOCAL_HOSTS else None


def server_pids(cfg: StackConfig) -> dict[str, int | None]:
    """The MongoDB and Kafka servers' processes, when they run here (not in Docker)."""
    found = {}
    for name, address in (("mongodb", cfg.mongodb_url), ("kafka", cfg.kafka_bootstrap)):
        port = local_port(address)
        found[name] = listening_pid(port) if port is not None else None
    return found


# Reading the processes


async def accepted_sends(gateway: httpx.AsyncClient) -> tuple[int, int]:
    """What the simulator accepted so far, and how many messages it accepted twice."""
    response = await gateway.get("/_sim/sends", params={"byMessage": "false"})
    response.raise_for_status()
    summary = response.json()
    return int(summary["accepted"]), len(summary["duplicates"])


async def wait_for_sends(gateway: httpx.AsyncClient, expected: int, deadline: float) -> None:
    """Until the simulator accepted ``expected`` sends, nothing new came for STALL_SECONDS, or
    the deadline (monotonic) passed; prints the progress every few seconds."""
    last_count, last_change, last_report = 0, time.monotonic(), time.monotonic()
    while True:
        count, _ = await accepted_sends(gateway)
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
        await asyncio.sleep(POLL_SECONDS)


async def gateway_check(
    gateway: httpx.AsyncClient, sends: Mapping[str, Sequence[Send]], gap: float
) -> GatewayCheck:
    """Look the sends that were early by ``sentAt`` up in the simulator's ledger."""
    pairs = early_pairs(sends, gap)[:EARLY_CHECKS] if gap > 0 else []
    gaps = []
    for first, second in pairs:
        times = []
        for message_id in (first, second):
            response = await gateway.get(f"/_sim/sends/{message_id}")
            response.raise_for_status()
            times.append(min(record["time"] for record in response.json()))
        gaps.append(times[1] - times[0])
    return GatewayCheck(
        checked=len(gaps),
        early=sum(1 for g in gaps if g < gap - 0.0005),  # the range's half width
        shortest_gap=min(gaps, default=None),
    )


async def sender_metrics(url: str) -> tuple[list[tuple[float, float]], int]:
    """From the sender's /metrics (``url``): the pace-lateness histogram's buckets (le,
    cumulative) and the send attempts that did not end ``sent``."""
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.get(url)
    response.raise_for_status()
    buckets: list[tuple[float, float]] = []
    failures = 0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "herald_pace_lateness_seconds_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
            elif sample.name == "herald_send_attempts_total" and sample.labels["outcome"] != "sent":
                failures += int(sample.value)
    return buckets, failures


async def mongo_ops(db: Database) -> int | None:
    """Operations the MongoDB server counted so far (None when it does not count them)."""
    try:
        status = await db.client.admin.command("serverStatus")
    except Exception:
        return None
    counters: Mapping[str, int] = status.get("opcounters") or {}
    return sum(int(counters.get(name, 0)) for name in MONGO_OPS) if counters else None


async def send_times(db: Database, campaign_id: str) -> dict[str, list[Send]]:
    """When each account's messages were sent (``sentAt``, epoch seconds), with their ids."""
    sends: dict[str, list[Send]] = defaultdict(list)
    cursor = db[MESSAGES].find(
        {"campaignId": campaign_id, "status": "sent"}, {"accountId": 1, "sentAt": 1}
    )
    async for document in cursor:
        sends[document["accountId"]].append((document["sentAt"].timestamp(), document["_id"]))
    return dict(sends)


# One run


async def prepare(
    db: Database, cfg: StackConfig, workload: Workload, campaign_id: str
) -> list[Document]:
    """A fresh database with the run's accounts, campaign and queued messages."""
    now = datetime.now(UTC)
    await db.client.drop_database(db.name)
    await ensure_indexes(db)
    gateway_url = cfg.url(cfg.primary_gateway_port)
    accounts = account_documents(workload.accounts, gateway_url, SIMULATOR_KEY, now)
    campaign = campaign_document(campaign_id, workload.messages, now)
    messages = queued_messages(campaign, workload.accounts, workload.per_account, now)
    await load_run(db, accounts, campaign, messages)
    return messages


@dataclasses.dataclass
class RunProcesses:
    """The processes whose CPU a run measures, and the sender it reads memory from."""

    sender: ManagedProcess
    simulator: ManagedProcess
    servers: Mapping[str, int | None]

    def pids(self) -> dict[str, int | None]:
        return {"sender": self.sender.pid(), "simulator": self.simulator.pid(), **self.servers}


@dataclasses.dataclass(frozen=True)
class RunOptions:
    deadline_seconds: float
    """Stop waiting for a run's sends after this long."""
    profile: bool = False
    """Run the sender under cProfile (slower) and print where its time goes."""


async def run_workload(
    cfg: StackConfig, simulator: ManagedProcess, workload: Workload, options: RunOptions
) -> RunFigures:
    """Run one workload through a fresh sender process and measure it."""
    run_cfg = dataclasses.replace(
        cfg,
        database=f"herald_bench_{workload.name}",
        run_dir=cfg.run_dir / workload.label,
        service_env={"HERALD_PACE_SCALE": f"{workload.pace_scale:g}"},
    )
    profile = cfg.run_dir / f"{workload.label}.prof" if options.profile else None
    processes = RunProcesses(sender_process(run_cfg, profile), simulator, server_pids(cfg))
    sender = processes.sender
    campaign_id = f"cmp_bench_{workload.name}"
    client: AsyncMongoClient[Document] = AsyncMongoClient(cfg.mongodb_url, tz_aware=True)
    db = client[run_cfg.database]
    gateway = httpx.AsyncClient(
        base_url=cfg.url(cfg.primary_gateway_port), headers={"X-Api-Key": SIMULATOR_KEY}, timeout=30
    )
    try:
        begun = time.monotonic()
        messages = await prepare(db, run_cfg, workload, campaign_id)
        await skip_sender_to_end(cfg.kafka_bootstrap)
        say(
            f"  {workload.label}: {workload.accounts:,} accounts x {workload.per_account} = "
            f"{workload.messages:,} messages in MongoDB ({time.monotonic() - begun:.1f} s)"
        )
        sender.start()
        await asyncio.to_thread(wait_ready, [sender], 120)
        await asyncio.sleep(SETTLE_SECONDS)
        rss_before = memory_mb(sender.pid(), "VmRSS")
        await gateway.delete("/_sim/sends")
        ops_before, cpu_before = await mongo_ops(db), CpuSnapshot.take(processes.pids())
        measured_from = time.monotonic()

        published_at = time.time()
        await publish_send_events(cfg.kafka_bootstrap, messages)
        say(f"    published {len(messages):,} send events in {time.time() - published_at:.1f} s")
        await wait_for_sends(
            gateway, workload.messages, time.monotonic() + options.deadline_seconds
        )

        window = time.monotonic() - measured_from
        cpu = CpuSnapshot.take(processes.pids()).cores_since(cpu_before, window)
        ops_after = await mongo_ops(db)
        peak = memory_mb(sender.pid(), "VmHWM")
        accepted, duplicates = await accepted_sends(gateway)
        buckets, failures = await sender_metrics(run_cfg.metrics_url(sender.name))
        await asyncio.to_thread(sender.stop)
        if profile is not None:
            print_profile(profile)
        sends = await send_times(db, campaign_id)
        gap = gap_seconds(workload.pace_scale)
        ops = ops_after - ops_before if ops_after is not None and ops_before is not None else None
        figures = run_figures(
            label=workload.label,
            accounts=workload.accounts,
            messages=workload.messages,
            gap_seconds=gap,
            sends=sends,
            published_at=published_at,
            duplicates=duplicates,
            failures=failures,
            gateway=await gateway_check(gateway, sends, gap),
            lateness_buckets=buckets,
            resources=Resources(
                rss_before_mb=rss_before,
                peak_rss_mb=peak,
                cpu=cpu,
                window_seconds=window,
                mongo_ops_per_send=ops / accepted if ops is not None and accepted else None,
            ),
        )
        say(
            f"    {figures.sent:,} sent at {figures.rate:,.0f}/s in {figures.run_seconds:.0f} s; "
            f"{time.monotonic() - begun:.0f} s with setup"
        )
        return figures
    finally:
        await asyncio.to_thread(sender.stop)
        with contextlib.suppress(Exception):
            await client.drop_database(run_cfg.database)
        await client.close()
        await gateway.aclose()


async def run_all(args: argparse.Namespace, cfg: StackConfig) -> list[RunFigures]:
    """The baseline, then one paced run per N, sized from the baseline's rate."""
    await ensure_topics(HeraldSettings(kafka_bootstrap_servers=cfg.kafka_bootstrap))
    simulator = simulators(cfg)[0]
    simulator.start()
    try:
        await asyncio.to_thread(wait_ready, [simulator], 60)
        runs: list[RunFigures] = []
        options = RunOptions(args.max_run_seconds, profile=args.profile)
        expected_rate = float(args.expected_rate)
        if not args.no_baseline:
            per_account = max(1, args.baseline_messages // BASELINE_ACCOUNTS)
            baseline = Workload("baseline", BASELINE_ACCOUNTS, per_account, pace_scale=0.0)
            runs.append(await run_workload(cfg, simulator, baseline, options))
            expected_rate = runs[0].rate or expected_rate
        gap = gap_seconds(PACE_SCALE)
        for accounts in args.accounts:
            per_account = messages_per_account(accounts, gap, args.seconds, expected_rate)
            workload = Workload(f"paced-{accounts}", accounts, per_account, PACE_SCALE)
            runs.append(await run_workload(cfg, simulator, workload, options))
        return runs
    finally:
        await asyncio.to_thread(simulator.stop)


# The report


def report(runs: Sequence[RunFigures], elapsed: float, code: str) -> str:
    baseline = next((r for r in runs if r.gap_seconds == 0), None)
    cores = os.cpu_count() or 1
    return "\n".join(
        [
            "",
            "Pacing benchmark: one primary-sender process; every account may send every "
            f"100-101 ms (pace scale {PACE_SCALE:g} x custom delay 1.00-1.01 s); zero-latency "
            f"gateway simulator; {cores} cores.",
            code,
            "",
            throughput_table(runs, baseline),
            "",
            memory_table(runs),
            "",
            cpu_table(runs),
            "",
            "sends/s: steady rate (5th-95th percentile of sentAt). ideal/s: N / 100 ms."
            " of baseline: against the same sender with pacing off.",
            "late: every send against its reserved slot (first send: the publish; then the"
            " account's previous send + the gap), by sentAt. 1st: first sends only.",
            "hist: quantiles of the sender's herald_pace_lateness_seconds, as bucket bounds.",
            "cores: CPU over the run (1.00 = one core all along); other: the rest of the"
            " machine (this bench, other work); ms/send: CPU per send.",
            "mongo ops/send: the server's opcounters (inserts, queries, updates) per send.",
            "early: consecutive sends of an account less than gap - 5 ms apart by sentAt /"
            " pairs; at gw: of those, early at the simulator too (its own clock).",
            "* not every message was sent before the run stopped waiting.",
            "",
            "What limits each run:",
            *(f"  {run.label}: {limits_text(run, cores)}" for run in runs),
            "",
            f"Total time: {elapsed / 60:.1f} min.",
        ]
    )


# Entry point


def code_state() -> str:
    """The commit measured, and the product files changed since (figures depend on them)."""

    def git(*args: str) -> str:
        # No optional index refresh: the bench never writes the repository's index.
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
        done = subprocess.run(
            ["git", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("diff", "--name-only", "HEAD", "--", "shared", "services", "tools")
    files = ", ".join(changed.split()) if changed else "none"
    return f"code: {commit}; product files changed since: {files}"


@contextlib.contextmanager
def bench_dir() -> Iterator[Path]:
    """Where the processes' logs go: .local/bench/pacing-<time>, kept after the run."""
    path = REPO / ".local" / "bench" / f"pacing-{datetime.now():%Y%m%d-%H%M%S}"
    path.mkdir(parents=True, exist_ok=True)
    yield path


def redacted(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url.split("?")[0])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="herald_bench.pacing", description=DESCRIPTION)
    parser.add_argument(
        "--accounts",
        type=int,
        nargs="+",
        default=[100, 1_000, 10_000],
        help="the N of each paced run [100 1000 10000]",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=20.0,
        help="about how long each paced run sends, at least one message per account [20]",
    )
    parser.add_argument(
        "--baseline-messages", type=int, default=3_000, help="messages of the baseline [3000]"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline")
    parser.add_argument(
        "--expected-rate",
        type=float,
        default=100.0,
        help="sends/s to size the paced runs by when there is no baseline [100]",
    )
    parser.add_argument(
        "--max-run-seconds",
        type=float,
        default=240.0,
        help="stop waiting for a run's sends after this long [240]",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run each sender under cProfile (slower) and print where its time goes",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    # aiokafka logs every group change, and errors while a fresh broker sets up its groups.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    begun, code = time.monotonic(), code_state()  # the sender processes run this code
    with kafka_bootstrap() as kafka, mongodb_url() as mongo, bench_dir() as run_dir:
        say(f"Kafka {kafka}, MongoDB {redacted(mongo)}; logs in {run_dir}")
        cfg = bench_stack(kafka, mongo, run_dir, sessions=max(args.accounts))
        runs = asyncio.run(run_all(args, cfg))
    say(report(runs, time.monotonic() - begun, code))
    return 0 if all(run.drained for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
