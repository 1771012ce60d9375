"""Pacing capacity: the most sender accounts one primary-sender process carries.

    make bench-pacing                                  # N = 250, 500, 1,000, 1,500, 2,000, 3,000…
    .venv/bin/python -m herald_bench.pacing --accounts 50 100 --sends-per-account 6

Every account is paced at the ``fast`` profile: a random gap of 2-5 s between two sends, times
``--pace-scale`` (``HERALD_PACE_SCALE`` of the sender; default 1: the production pace). A step
runs N accounts through a fresh ``herald-primary-sender`` process (configured as ``make up``
configures it, plus a note of each gap it draws: ``pacing_sender``) against one gateway
simulator (zero latency): N enabled accounts (one simulator session each), one campaign, and
``--sends-per-account`` queued messages per account whose send events are published at once,
keyed by account (acks=all). Their recipients are remembered as on WhatsApp (as an earlier
campaign's number checks leave them), so each message is one paced turn of its account: the
accounts demand N / mean gap sends per second. (A first campaign to unchecked numbers takes a
second turn per message, its number check, at the same pace.)

Why the production pace by default: the sender's cost is per send, not per gap, so a run at
pace scale ``s`` makes each account demand ``1/s`` times the sends and finds about ``s`` times
the accounts. ``--pace-scale`` below 1 shortens a quick check; its figure is not the one
operators size pods by.

A step is *carried* when every message was sent, the rate achieved while every account was
under way stays within 90 % of the demand, and the p99 lateness is under the threshold:
``--lateness-ms`` (500) at production pace, **scaled like the gaps**: a run at pace scale ``s``
keeps gaps ``s`` times as long as production, so the threshold is ``lateness_ms x s`` (125 ms at
0.25). Lateness: each send's ``sentAt`` against its reserved slot, the account's previous send
plus the gap drawn for it (see ``herald_bench.pacing_figures``); first sends are reported on
their own.

The steps climb ``--accounts`` until one is not carried, then halve the interval between the
last step carried and that one until they are within ``--resolution`` (a quarter) of it. The
figure: the most accounts carried, with the target (2,000) beside it. Before the steps, the same
sender with pacing off (``HERALD_PACE_SCALE=0``, 100 accounts) gives the *unpaced baseline*: as
fast as one sender process goes on this machine. The demand at the figure, as a share of that
baseline, says whether the ceiling is the sender's speed (near 1) or something that grows with
the accounts.

Each step also reports the sender's own ``herald_pace_lateness_seconds`` (bucket bounds), its
CPU and peak memory (VmHWM), the MongoDB operations per send (the server's opcounters), and the
sends closer than their drawn gap (looked up in the simulator's ledger, which sees the gap
WhatsApp would see: must be 0).

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
    FAR_BEHIND_SECONDS,
    GATEWAY_TOLERANCE_SECONDS,
    DrawnGaps,
    GatewayCheck,
    Resources,
    RunFigures,
    Send,
    Verdict,
    accounts_per_pod,
    cpu_table,
    early_pairs,
    far_behind,
    lateness_threshold_seconds,
    limits_text,
    memory_table,
    next_step,
    ratio_text,
    run_figures,
    seconds_text,
    step_verdict,
    steps_table,
    verdict_line,
)
from herald_bench.pacing_setup import (
    account_documents,
    campaign_document,
    gap_range,
    load_run,
    mean_gap_seconds,
    publish_send_events,
    queued_messages,
    remember_recipients,
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

DESCRIPTION = (
    "Pacing capacity: the most accounts one sender process carries at the fast profile with "
    "p99 lateness under the threshold (500 ms x the pace scale)."
)
REPO = Path(__file__).resolve().parents[4]  # tools/bench/src/herald_bench/<this module>
LADDER = (250, 500, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000)
BASELINE_ACCOUNTS = 100
SIMULATOR_KEY = "herald-simulator-key"
POLL_SECONDS = 0.5
STALL_SECONDS = 30.0
"""A step whose simulator accepted nothing new for this long is over: six of the longest gaps
at production pace (a message failed over to the fallback route never comes, for one)."""
SETTLE_SECONDS = 2.0
"""After the sender is ready: time to join its group before the resident memory is read."""
EARLY_CHECKS = 200
"""At most this many early sends are looked up in the simulator's ledger."""
MONGO_OPS = ("insert", "query", "update", "delete", "getmore")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


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
    def mean_gap(self) -> float:
        return mean_gap_seconds(self.pace_scale)

    @property
    def name(self) -> str:
        """For database and campaign ids."""
        return self.label.replace("-", "_")


def say(text: str) -> None:
    print(text, flush=True)


# The stack: Kafka and MongoDB, one simulator for the whole bench, one sender per step


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


def sender_process(cfg: StackConfig, gaps: Path, profile: Path | None = None) -> ManagedProcess:
    """The primary sender, as ``make up`` runs it, writing the gaps it draws to ``gaps``; under
    cProfile, writing to ``profile``, when given."""
    sender = next(p for p in services(cfg) if p.name == "primary-sender")
    argv = [sys.executable, "-m", "herald_bench.pacing_sender", str(gaps)]
    return dataclasses.replace(sender, argv=[*argv, *([str(profile)] if profile else [])])


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


async def wait_for_sends(
    gateway: httpx.AsyncClient, expected: int, deadline: float, demanded_rate: float | None
) -> None:
    """Until the simulator accepted ``expected`` sends, nothing new came for STALL_SECONDS, the
    step fell far behind ``demanded_rate`` (see :func:`far_behind`), or the deadline (monotonic)
    passed; prints the progress every few seconds."""
    begun = time.monotonic()
    last_count, last_change, last_report = 0, begun, begun
    checked_count, checked_at = 0, begun
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
        if now - checked_at >= FAR_BEHIND_SECONDS:
            sent = count - checked_count
            launched = now - begun >= 2 * FAR_BEHIND_SECONDS  # the first sends' burst aside
            if launched and far_behind(sent, now - checked_at, expected - count, demanded_rate):
                say(
                    f"    stopped: {sent / (now - checked_at):,.0f} sends/s against a demand of "
                    f"{demanded_rate:,.0f}/s; {count:,} of {expected:,} sent"
                )
                return
            checked_count, checked_at = count, now
        if now - last_report >= 10:
            say(f"    {count:,} of {expected:,} sent")
            last_report = now
        await asyncio.sleep(POLL_SECONDS)


async def gateway_check(
    gateway: httpx.AsyncClient,
    sends: Mapping[str, Sequence[Send]],
    gaps: DrawnGaps,
    shortest: float,
) -> GatewayCheck:
    """Look the sends that were early by ``sentAt`` up in the simulator's ledger: the gap
    between the two requests' arrivals, against the gap drawn between them."""
    pairs = early_pairs(sends, gaps, shortest)[:EARLY_CHECKS]
    early, shortest_seen = 0, None
    for first, second, gap in pairs:
        times = []
        for message_id in (first, second):
            response = await gateway.get(f"/_sim/sends/{message_id}")
            response.raise_for_status()
            times.append(min(record["time"] for record in response.json()))
        seen = times[1] - times[0]
        early += seen < gap - GATEWAY_TOLERANCE_SECONDS
        shortest_seen = seen if shortest_seen is None else min(shortest_seen, seen)
    return GatewayCheck(checked=len(pairs), early=early, shortest_gap=shortest_seen)


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


def drawn_gaps(path: Path) -> tuple[dict[str, float], int]:
    """The gaps the sender wrote down (``pacing_sender``): message id -> seconds, the last one
    when a message took more than one turn; and how many turns were such extra ones."""
    gaps: dict[str, float] = {}
    extra = 0
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text(encoding="utf-8").splitlines():
            message_id, _, gap = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                extra += message_id in gaps
                gaps[message_id] = float(gap)
    return gaps, extra


# One step


async def prepare(
    db: Database, cfg: StackConfig, workload: Workload, campaign_id: str
) -> list[Document]:
    """A fresh database with the step's accounts, campaign and queued messages."""
    now = datetime.now(UTC)
    await db.client.drop_database(db.name)
    await ensure_indexes(db)
    gateway_url = cfg.url(cfg.primary_gateway_port)
    accounts = account_documents(workload.accounts, gateway_url, SIMULATOR_KEY, now)
    campaign = campaign_document(campaign_id, workload.messages, now)
    messages = queued_messages(campaign, workload.accounts, workload.per_account, now)
    await load_run(db, accounts, campaign, messages)
    await remember_recipients(db, messages, now)
    return messages


@dataclasses.dataclass
class RunProcesses:
    """The processes whose CPU a step measures, and the sender it reads memory from."""

    sender: ManagedProcess
    simulator: ManagedProcess
    servers: Mapping[str, int | None]

    def pids(self) -> dict[str, int | None]:
        return {"sender": self.sender.pid(), "simulator": self.simulator.pid(), **self.servers}


@dataclasses.dataclass(frozen=True)
class RunOptions:
    deadline_seconds: float
    """Stop waiting for a step's sends after this long."""
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
    gaps_file = cfg.run_dir / f"{workload.label}.gaps"
    profile = cfg.run_dir / f"{workload.label}.prof" if options.profile else None
    processes = RunProcesses(
        sender_process(run_cfg, gaps_file, profile), simulator, server_pids(cfg)
    )
    sender = processes.sender
    campaign_id = f"cmp_bench_{workload.name}"
    client: AsyncMongoClient[Document] = AsyncMongoClient(cfg.mongodb_url, tz_aware=True)
    db = client[run_cfg.database]
    gateway = httpx.AsyncClient(
        base_url=cfg.url(cfg.primary_gateway_port), headers={"X-Api-Key": SIMULATOR_KEY}, timeout=30
    )
    try:
        begun = time.monotonic()
        gaps_file.unlink(missing_ok=True)
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
        demanded = workload.accounts / mean_gap if (mean_gap := workload.mean_gap) else None
        await wait_for_sends(
            gateway, workload.messages, time.monotonic() + options.deadline_seconds, demanded
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
        paced = workload.pace_scale > 0
        gaps, extra_turns = drawn_gaps(gaps_file) if paced else ({}, 0)
        if extra_turns:
            # A number check, say: the turns between two sends are not what the lateness
            # by sentAt assumes (one gap).
            say(f"    {extra_turns:,} messages took more than one paced turn: lateness is off")
        shortest = gap_range(workload.pace_scale).min_seconds
        ops = ops_after - ops_before if ops_after is not None and ops_before is not None else None
        figures = run_figures(
            label=workload.label,
            accounts=workload.accounts,
            messages=workload.messages,
            mean_gap_seconds=workload.mean_gap,
            shortest_gap_seconds=shortest,
            sends=sends,
            gaps=gaps,
            published_at=published_at,
            duplicates=duplicates,
            failures=failures,
            gateway=await gateway_check(gateway, sends, gaps, shortest)
            if paced
            else GatewayCheck(0, 0, None),
            lateness_buckets=buckets,
            resources=Resources(
                rss_before_mb=rss_before,
                peak_rss_mb=peak,
                cpu=cpu,
                window_seconds=window,
                mongo_ops_per_send=ops / accepted if ops is not None and accepted else None,
            ),
        )
        if paced and figures.intervals and not figures.gaps_known:
            say("    the sender wrote down no drawn gap: lateness from its histogram only")
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


@dataclasses.dataclass(frozen=True)
class Search:
    """What the steps look for: the N to try, and when a step is carried."""

    ladder: Sequence[int]
    resolution: float
    pace_scale: float
    lateness_ms: float
    sends_per_account: int

    @property
    def threshold_seconds(self) -> float:
        return lateness_threshold_seconds(self.lateness_ms, self.pace_scale)


@dataclasses.dataclass
class Results:
    baseline: RunFigures | None
    steps: list[RunFigures]
    """By N."""
    carried: dict[int, bool]
    """Each N tried: whether one sender carried it."""


async def run_all(args: argparse.Namespace, cfg: StackConfig, search: Search) -> Results:
    """The unpaced baseline, then one step per N, as :func:`next_step` picks them."""
    await ensure_topics(HeraldSettings(kafka_bootstrap_servers=cfg.kafka_bootstrap))
    simulator = simulators(cfg)[0]
    simulator.start()
    try:
        await asyncio.to_thread(wait_ready, [simulator], 60)
        options = RunOptions(args.max_run_seconds, profile=args.profile)
        baseline = None
        if not args.no_baseline:
            per_account = max(1, args.baseline_messages // BASELINE_ACCOUNTS)
            unpaced = Workload("baseline", BASELINE_ACCOUNTS, per_account, pace_scale=0.0)
            baseline = await run_workload(cfg, simulator, unpaced, options)
        steps: list[RunFigures] = []
        carried: dict[int, bool] = {}
        threshold = search.threshold_seconds
        while (accounts := next_step(search.ladder, carried, search.resolution)) is not None:
            step = Workload(
                f"paced-{accounts}", accounts, search.sends_per_account, search.pace_scale
            )
            figures = await run_workload(cfg, simulator, step, options)
            verdict = step_verdict(figures, threshold)
            carried[accounts] = verdict is Verdict.CARRIED
            steps.append(figures)
            demanded = figures.demanded_rate
            say(
                f"    N={accounts:,}: {verdict.value} (p99 lateness "
                f"{seconds_text(figures.p99_lateness)}, threshold {seconds_text(threshold)}; "
                f"{ratio_text(figures.rate / demanded if demanded else None)} of the demand)"
            )
        return Results(baseline, sorted(steps, key=lambda run: run.accounts), carried)
    finally:
        await asyncio.to_thread(simulator.stop)


# The report


def baseline_lines(results: Results, search: Search) -> list[str]:
    """The unpaced baseline, and the demand at the figure as a share of it."""
    baseline = results.baseline
    if baseline is None:
        return ["unpaced baseline: not measured (--no-baseline)"]
    lines = [
        f"unpaced baseline (HERALD_PACE_SCALE=0, {baseline.accounts} accounts, "
        f"{baseline.messages:,} messages): {baseline.rate:,.0f} sends/s; sender "
        f"{baseline.resources.cpu.get('sender', 0.0):.2f} cores, mongo ops/send "
        + (
            f"{baseline.resources.mongo_ops_per_send:.1f}"
            if baseline.resources.mongo_ops_per_send is not None
            else "-"
        )
    ]
    best, _ = accounts_per_pod(results.carried)
    if best is not None and baseline.rate:
        demand = best / mean_gap_seconds(search.pace_scale)
        lines.append(
            f"demand at {best:,} accounts: {demand:,.0f} sends/s = "
            f"{demand / baseline.rate:.2f} x the unpaced baseline"
        )
    return lines


def report(results: Results, search: Search, elapsed: float, code: str) -> str:
    cores = os.cpu_count() or 1
    gaps = gap_range(search.pace_scale)
    threshold = search.threshold_seconds
    steps = results.steps
    runs = [*([results.baseline] if results.baseline else []), *steps]
    return "\n".join(
        [
            "",
            "Pacing capacity: one primary-sender process; fast profile, gaps "
            f"{gaps.min_seconds:g}-{gaps.max_seconds:g} s (2-5 s x pace scale "
            f"{search.pace_scale:g}), mean {mean_gap_seconds(search.pace_scale):g} s; "
            f"{search.sends_per_account} sends per account; zero-latency gateway simulator; "
            f"{cores} cores.",
            f"Threshold: p99 lateness < {search.lateness_ms:g} ms x pace scale "
            f"{search.pace_scale:g} = {threshold * 1000:g} ms (gaps and lateness scale alike).",
            code,
            "",
            steps_table(steps, threshold),
            "",
            memory_table(runs),
            "",
            cpu_table(runs),
            "",
            "demand/s: N / mean gap. sent/s: N / the mean interval between two sends of an"
            " account while every account was under way (from the last first send to the first"
            " last send). of demand: sent/s / demand/s.",
            "late: each send's sentAt against its reserved slot (the account's previous send +"
            " the gap the sender drew), over the same window; first sends apart (1st p99:"
            " after the publish).",
            "hist: quantiles of the sender's herald_pace_lateness_seconds, as bucket bounds.",
            "cores: CPU over the step (1.00 = one core all along); other: the rest of the"
            " machine (this bench, other work); ms/send: CPU per send.",
            "mongo ops/send: the server's opcounters (inserts, queries, updates) per send.",
            "short gaps: consecutive sends of an account closer than their drawn gap by sentAt"
            " / pairs; at gw: of those, closer at the simulator too (its own clock): must be 0.",
            "verdict: carried = all sent (or failed: the cpu table's column), sent/s >= 0.9 x"
            f" demand/s, late p99 (hist p99 when no gap was written down) < {threshold * 1000:g}"
            " ms.",
            "",
            "What limits each step:",
            *(f"  {run.label}: {limits_text(run, cores, threshold)}" for run in runs),
            "",
            *baseline_lines(results, search),
            verdict_line(results.carried, search.lateness_ms, threshold, search.pace_scale),
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
        default=list(LADDER),
        help="the ladder of N the steps climb [250 500 1000 1500 2000 3000 4000 5000]",
    )
    parser.add_argument(
        "--resolution",
        type=float,
        default=0.25,
        help="halve between the last N carried and the first not carried until they are within "
        "this share of the latter; 0: no halving [0.25]",
    )
    parser.add_argument(
        "--pace-scale",
        type=float,
        default=1.0,
        help="HERALD_PACE_SCALE of the paced steps: gaps 2-5 s x this, and the threshold too; "
        "below 1 a step is shorter, but each account demands 1/scale times the sends [1]",
    )
    parser.add_argument(
        "--lateness-ms",
        type=float,
        default=500.0,
        help="the p99 lateness a step may reach at production pace, before the scale [500]",
    )
    parser.add_argument(
        "--sends-per-account",
        type=int,
        default=10,
        help="messages per account in each step (each step lasts about this many gaps) [10]",
    )
    parser.add_argument(
        "--baseline-messages", type=int, default=3_000, help="messages of the baseline [3000]"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline")
    parser.add_argument(
        "--max-run-seconds",
        type=float,
        default=180.0,
        help="stop waiting for a step's sends after this long [180]",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run each sender under cProfile (slower) and print where its time goes",
    )
    args = parser.parse_args(argv)
    if args.pace_scale <= 0:
        parser.error("--pace-scale must be above 0 (0 turns pacing off)")
    if args.sends_per_account < 2:
        parser.error("--sends-per-account must be at least 2 (lateness needs two sends)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    search = Search(
        ladder=sorted(set(args.accounts)),
        resolution=args.resolution,
        pace_scale=args.pace_scale,
        lateness_ms=args.lateness_ms,
        sends_per_account=args.sends_per_account,
    )
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    # aiokafka logs every group change, and errors while a fresh broker sets up its groups.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    begun, code = time.monotonic(), code_state()  # the sender processes run this code
    with kafka_bootstrap() as kafka, mongodb_url() as mongo, bench_dir() as run_dir:
        say(f"Kafka {kafka}, MongoDB {redacted(mongo)}; logs in {run_dir}")
        say(
            f"Threshold: p99 lateness < {search.lateness_ms:g} ms x pace scale "
            f"{search.pace_scale:g} = {search.threshold_seconds * 1000:g} ms"
        )
        # A session per account of the largest step (the search never goes past the ladder),
        # and of the baseline.
        sessions = max(*search.ladder, BASELINE_ACCOUNTS)
        cfg = bench_stack(kafka, mongo, run_dir, sessions=sessions)
        results = asyncio.run(run_all(args, cfg, search))
    say(report(results, search, time.monotonic() - begun, code))
    shortened = any(run.gateway.early for run in results.steps)
    return 1 if shortened else 0


if __name__ == "__main__":
    sys.exit(main())
