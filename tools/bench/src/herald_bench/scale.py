"""Scale benchmark: one campaign of each size N, end to end, the sizes side by side.

    make bench-scale                                      # N = 100,000 and 1,000,000
    .venv/bin/python -m herald_bench.scale --contacts 100000 1000000 --accounts 1000 \\
        --send-seconds 90

For each N of ``--contacts``, smallest first, a stack of its own: the gateway simulators (zero
latency, no failures) and Herald's five services as processes, as ``make up`` runs them, with
pacing off (``HERALD_PACE_SCALE=0``), an empty database, Herald's send topics emptied, and
``--accounts`` sender accounts of the bench tenant (written to MongoDB as the pipeline benchmark
writes them: the API's account quota is 50). Fresh processes make each one's peak memory
(VmHWM) that N's alone. Then the steps:

1. **import**: a draft campaign through the API, and an N-row CSV file (``phone,name``)
   streamed as the body of ``POST /api/campaigns/{id}/contacts``, as ``herald contacts
   import`` sends it; from the request to its answer.
2. **fan-out**: ``POST /api/campaigns/{id}/send`` until the campaign shows every message
   created, none pending and its fan-out's watermark past the last contact (every send record
   acknowledged by Kafka). The senders are stopped meanwhile, as in ``make bench-pipeline``:
   on two cores they would take the CPU the fan-out needs, and the figure would be of how the
   machine is shared. Then MongoDB's ``collStats`` of ``messages``: bytes per message.
3. **sending**: the two senders start; once the simulators accepted a first message and
   ``--warm-up-seconds`` passed, what they accept over ``--send-seconds`` is the send rate,
   and N over it the projected time to send them all. Sending is measured over a window, not
   to the end, because at the few hundred messages a second this machine sends, 1,000,000
   messages take about an hour; a cost per message that grows with N shows as a lower rate
   at the larger N, so the rates' ratio (about 1 when linear) is the linearity figure. While
   the senders send, a poller calls ``GET /api/messages/campaign/{id}/stats``,
   ``GET /api/campaigns``, ``GET /api/messages/queue-stats`` and ``GET /api/dead-letters``,
   each every ``--poll-seconds``: their p50 and p99.
4. **cancel**: ``POST /api/campaigns/{id}/cancel`` (every message not sent yet becomes
   ``cancelled``); from the request to its answer, waited for at most
   ``--cancel-wait-seconds``. Then each process's VmHWM, and the stack stops.

The table puts the first N beside the last, with the ratio and the targets of issue 18.
``--profile`` samples the campaign service during the import and the dispatcher during the
fan-out with py-spy (without pausing them) and prints their hottest frames; the collapsed
stacks stay in the run's directory. Kafka and MongoDB: ``KAFKA_BOOTSTRAP_SERVERS`` /
``MONGODB_URL`` when set, otherwise started as the tests start them (``tests/infra.py``); the
benchmark needs them to itself (Herald's topics and consumer groups; it deletes the send
topics' records) and drops its ``herald_bench*`` databases. Logs (and py-spy's stacks) stay in
``.local/bench/scale-<time>/<N>``; each CSV file is deleted after its N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import httpx

from herald_bench.pacing import code_state, redacted
from herald_bench.pipeline import (
    REPO,
    Bench,
    accepted_count,
    bench_stack,
    last_contact_id,
    running_bench,
    say,
    wait_until_queued,
)
from herald_bench.pipeline import Options as PipelineOptions
from herald_bench.pipeline_setup import create_campaign
from herald_bench.scale_figures import (
    ScaleRun,
    SendWindow,
    missed_targets,
    profile_text,
    scale_table,
)
from herald_bench.scale_probes import (
    POLL_EVERY_SECONDS,
    Profile,
    RoutePoller,
    message_storage,
    peak_memory,
    polled_routes,
)
from herald_bench.scale_setup import empty_send_topics, import_csv, write_contacts_csv
from herald_devstack.processes import ManagedProcess, wait_ready
from herald_infra.runtime.settings import HeraldSettings
from tests.infra import kafka_bootstrap, mongodb_url

DESCRIPTION = "Scale benchmark: import, fan-out, sending and the API at 100,000 and 1,000,000."
SENDERS = ("primary-sender", "fallback-sender")
READY_SECONDS = 180.0


@dataclasses.dataclass(frozen=True)
class Options:
    contacts: tuple[int, ...] = (100_000, 1_000_000)
    accounts: int = 1_000
    send_seconds: float = 60.0
    warm_up_seconds: float = 10.0
    poll_seconds: float = POLL_EVERY_SECONDS
    max_step_seconds: float = 1800.0
    """The longest a fan-out or the wait for a first send may take."""
    cancel_wait_seconds: float = 600.0
    """The longest the cancel's answer is waited for: it moves every unsent message."""
    profile: bool = False
    partitions: int = HeraldSettings().send_topic_partitions


@dataclasses.dataclass(frozen=True)
class Report:
    runs: Sequence[ScaleRun]
    text: str

    @property
    def complete(self) -> bool:
        return all(
            run.fan_out_seconds is not None and run.send is not None and run.send.sent > 0
            for run in self.runs
        )


@contextlib.asynccontextmanager
async def profiled(
    options: Options, process: ManagedProcess, output: Path, title: str
) -> AsyncIterator[None]:
    """Sample ``process`` with py-spy while the block runs, when ``--profile`` asked."""
    pid = process.pid()
    if not options.profile or pid is None:
        yield
        return
    profile = Profile(pid, output)
    try:
        yield
    finally:
        collapsed = await asyncio.to_thread(profile.stop)
        text = collapsed.read_text() if collapsed.exists() else ""
        say(profile_text(title, text))


async def send_window(bench: Bench, contacts: int, options: Options) -> SendWindow | None:
    """What the simulators accepted over ``--send-seconds``, once they accepted a first
    message and ``--warm-up-seconds`` passed (None: no first message in time); the window
    ends early when every message was accepted."""
    gateways = bench.herald_gateways
    deadline = time.monotonic() + options.max_step_seconds
    while await accepted_count(gateways) == 0:
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.25)
    await asyncio.sleep(options.warm_up_seconds)
    begun, first = time.monotonic(), await accepted_count(gateways)
    count = first
    while time.monotonic() - begun < options.send_seconds and count < contacts:
        await asyncio.sleep(0.25)
        count = await accepted_count(gateways)
    return SendWindow(count - first, time.monotonic() - begun)


async def cancel(bench: Bench, campaign_id: str, wait_seconds: float) -> float | None:
    """Cancel the campaign through the API: the seconds to its answer, or None when it did
    not answer within ``wait_seconds`` (the stack stops then, and its database is dropped)."""
    begun = time.monotonic()
    try:
        cancelled = await bench.api.post(
            f"/api/campaigns/{campaign_id}/cancel", timeout=wait_seconds
        )
    except httpx.TimeoutException:
        say(f"  cancel: no answer in {wait_seconds:,.0f} s")
        return None
    seconds = time.monotonic() - begun
    if cancelled.status_code != 200:
        raise RuntimeError(f"cancel refused: {cancelled.status_code} {cancelled.text[:500]}")
    say(f"  cancel: {seconds:,.1f} s")
    return seconds


async def run_one(bench: Bench, contacts: int, options: Options, csv: Path) -> ScaleRun:
    run_dir = bench.cfg.run_dir
    senders = [bench.processes[name] for name in SENDERS]
    for sender in senders:
        await asyncio.to_thread(sender.stop, 30)

    campaign_id = await create_campaign(bench.api, f"scale {contacts:,}", [])
    campaign = bench.processes["campaign"]
    async with profiled(options, campaign, run_dir / "import.txt", "campaign, import"):
        import_seconds = await import_csv(bench.api, campaign_id, csv, contacts)
    say(f"  import: {import_seconds:,.1f} s")

    last_contact = await last_contact_id(bench.db, campaign_id)
    dispatcher = bench.processes["dispatcher"]
    async with profiled(options, dispatcher, run_dir / "fan-out.txt", "dispatcher, fan-out"):
        started = time.time()
        sent = await bench.api.post(f"/api/campaigns/{campaign_id}/send")
        if sent.status_code != 202:
            raise RuntimeError(f"send refused: {sent.status_code} {sent.text}")
        deadline = time.monotonic() + options.max_step_seconds
        try:
            queued_at = await wait_until_queued(
                bench.db, campaign_id, last_contact, contacts, deadline
            )
            fan_out_seconds: float | None = queued_at - started
            say(f"  fan-out: every message queued in {queued_at - started:,.1f} s")
        except TimeoutError:
            fan_out_seconds = None
            say(f"  fan-out: not every message queued in {options.max_step_seconds:.0f} s")
    storage = await message_storage(bench.db)

    for sender in senders:
        sender.start()
    await asyncio.to_thread(wait_ready, senders, READY_SECONDS)
    poller = RoutePoller(bench.api, polled_routes(campaign_id), options.poll_seconds)
    poller.start()
    window = await send_window(bench, contacts, options)
    routes = await poller.stop()
    if window is not None:
        say(f"  sending: {window.sent:,} in {window.seconds:.1f} s, {window.rate:,.0f} msgs/s")

    cancel_seconds = await cancel(bench, campaign_id, options.cancel_wait_seconds)
    pids = {name: process.pid() for name, process in bench.processes.items()}
    return ScaleRun(
        contacts=contacts,
        import_seconds=import_seconds,
        fan_out_seconds=fan_out_seconds,
        send=window,
        cancel_seconds=cancel_seconds,
        peak_mb=peak_memory(pids),
        storage=storage,
        routes=routes,
    )


async def measure(
    kafka: str, mongo: str, run_dir: Path, contacts: int, options: Options
) -> ScaleRun:
    """One campaign of ``contacts`` on a stack of its own, its logs in ``run_dir``."""
    csv = await asyncio.to_thread(write_contacts_csv, run_dir, contacts)
    stale = await empty_send_topics(kafka)
    if stale:
        say(f"  deleted {stale:,} records left on the send topics")
    stack_options = PipelineOptions(accounts=options.accounts, partitions=options.partitions)
    cfg = bench_stack(kafka, mongo, run_dir, stack_options)
    try:
        async with running_bench(cfg, stack_options) as bench:
            return await run_one(bench, contacts, options, csv)
    finally:
        await empty_send_topics(kafka)
        await asyncio.to_thread(csv.unlink, missing_ok=True)


def report_text(runs: Sequence[ScaleRun], options: Options, code: str, elapsed: float) -> str:
    load = os.getloadavg()
    missed = missed_targets(runs)
    failures = {
        f"{route.route} at N = {run.contacts:,}": route.failures
        for run in runs
        for route in run.routes
        if route.failures
    }
    return "\n".join(
        [
            "",
            f"Scale benchmark: {options.accounts:,} sender accounts, {options.partitions}"
            f" send-topic partitions, pacing off (HERALD_PACE_SCALE=0), zero-latency simulator;"
            f" sending measured over {options.send_seconds:g} s after {options.warm_up_seconds:g}"
            f" s of warm-up; routes polled every {options.poll_seconds:g} s each while sending;"
            f" {os.cpu_count()} cores, load average at the end {load[0]:.1f} / {load[1]:.1f} /"
            f" {load[2]:.1f}.",
            code,
            "",
            scale_table(runs),
            "",
            "import: the CSV request to its answer. fan-out: the send request until every"
            " message was queued (senders stopped). sending: what the simulators accepted over"
            " the window; projected: N at that rate. cancel: the cancel request to its answer."
            " Memory: each process's VmHWM over its N's run (senders: from their start after"
            " the fan-out). MongoDB: collStats of messages once all were queued (size,"
            " storageSize, totalIndexSize over count). Routes: campaign stats = GET"
            " /api/messages/campaign/{id}/stats, campaign list = GET /api/campaigns,"
            " queue-stats = GET /api/messages/queue-stats, dead letters = GET /api/dead-letters.",
            *(
                f"Cancel at N = {run.contacts:,}: no answer within"
                f" {options.cancel_wait_seconds:,.0f} s."
                for run in runs
                if run.cancel_seconds is None
            ),
            *(
                [f"Route calls that failed: {failures}."]
                if failures
                else ["Every route call answered 200."]
            ),
            f"Targets missed: {', '.join(missed)}." if missed else "Every target met.",
            f"Total time: {elapsed / 60:.1f} min.",
        ]
    )


async def run_benchmark(kafka: str, mongo: str, run_dir: Path, options: Options) -> Report:
    """Every N of ``options`` on these servers; the processes' logs go to ``run_dir``/N."""
    begun, code = time.monotonic(), code_state()
    runs = []
    for contacts in sorted(options.contacts):
        say(f"N = {contacts:,} contacts over {options.accounts:,} accounts:")
        runs.append(await measure(kafka, mongo, run_dir / str(contacts), contacts, options))
        say(scale_table(runs))
    text = report_text(runs, options, code, time.monotonic() - begun)
    return Report(runs, text)


@contextlib.contextmanager
def bench_dir() -> Iterator[Path]:
    path = REPO / ".local" / "bench" / f"scale-{datetime.now():%Y%m%d-%H%M%S}"
    path.mkdir(parents=True, exist_ok=True)
    yield path


def parse_args(argv: Sequence[str] | None) -> Options:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="herald_bench.scale", description=DESCRIPTION)
    parser.add_argument(
        "--contacts",
        type=int,
        nargs="+",
        default=list(defaults.contacts),
        help="the N of each campaign; the table's ratio is the last against the first"
        " [100000 1000000]",
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=defaults.accounts,
        help=f"sender accounts [{defaults.accounts}]",
    )
    parser.add_argument(
        "--send-seconds",
        type=float,
        default=defaults.send_seconds,
        help=f"the window the send rate is measured over [{defaults.send_seconds:g}]",
    )
    parser.add_argument(
        "--warm-up-seconds",
        type=float,
        default=defaults.warm_up_seconds,
        help="from the first send to the window's start [%(default)s]",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=defaults.poll_seconds,
        help="how often each route is called while sending [%(default)s]",
    )
    parser.add_argument(
        "--max-step-seconds",
        type=float,
        default=defaults.max_step_seconds,
        help="the longest a fan-out may take [%(default)s]",
    )
    parser.add_argument(
        "--cancel-wait-seconds",
        type=float,
        default=defaults.cancel_wait_seconds,
        help="the longest the cancel's answer is waited for [%(default)s]",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the campaign service (import) and the dispatcher (fan-out) with py-spy",
    )
    args = parser.parse_args(argv)
    return Options(
        contacts=tuple(args.contacts),
        accounts=args.accounts,
        send_seconds=args.send_seconds,
        warm_up_seconds=args.warm_up_seconds,
        poll_seconds=args.poll_seconds,
        max_step_seconds=args.max_step_seconds,
        cancel_wait_seconds=args.cancel_wait_seconds,
        profile=args.profile,
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
