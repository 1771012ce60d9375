"""Unpaced send rate of one primary-sender process against how many accounts its messages
are spread over.

    .venv/bin/python -m herald_bench.account_fan --accounts 100 1000 --messages 10000
    .venv/bin/python -m herald_bench.account_fan --unchecked-numbers --py-spy 20

The same number of messages, queued and published at once, spread over N accounts (one
simulator session each), sent by one fresh ``herald-primary-sender`` with pacing off
(``HERALD_PACE_SCALE=0``), one step per N, back to back against one simulator: the rate
should not depend on N. A step stops when every message was sent or after
``--max-run-seconds``; its rate is what was sent over that window. ``--py-spy SECONDS``
records the sender with py-spy for that long once the sends began (a flame graph per step
in the run's directory).

It runs the pacing bench's steps (:func:`herald_bench.pacing.run_workload`) unchanged; see
that module for the stack, the environment it reads and what it writes.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from herald_bench import pacing
from herald_bench.pacing import (
    REPO,
    RunOptions,
    Workload,
    bench_stack,
    redacted,
    run_workload,
    say,
    server_pids,
)
from herald_bench.pacing_figures import RunFigures
from herald_bench.proc_stats import listening_pid
from herald_devstack.stack import StackConfig, simulators
from herald_infra.kafka.topics import ensure_topics
from herald_infra.mongo.client import Database, Document
from herald_infra.runtime.settings import HeraldSettings
from tests.infra import kafka_bootstrap, mongodb_url

PY_SPY = REPO / ".venv" / "bin" / "py-spy"


async def py_spy(pid: int, seconds: float, out: Path) -> None:
    """Sample ``pid`` for ``seconds`` without pausing it; collapsed stacks to ``out``."""
    argv = [str(PY_SPY), "record", "--pid", str(pid), "--duration", f"{seconds:g}"]
    await asyncio.to_thread(
        subprocess.run,
        [*argv, "--nonblocking", "--format", "raw", "-o", str(out)],
        capture_output=True,
        check=False,
    )


async def record_step(cfg: StackConfig, label: str, seconds: float) -> None:
    """Record the sender of the running step, and the MongoDB server when it is a local
    process (SecantusDB), with py-spy for ``seconds``, once the sender listens and its sends
    began (a few seconds after its start)."""
    port = cfg.service_ports["primary-sender"]
    pid = None
    while pid is None:
        await asyncio.sleep(1.0)
        pid = listening_pid(port)
    await asyncio.sleep(8.0)  # ready, joined its group, the events published
    spies = [py_spy(pid, seconds, cfg.run_dir / f"{label}.sender.txt")]
    if (mongo := server_pids(cfg).get("mongodb")) is not None:
        spies.append(py_spy(mongo, seconds, cfg.run_dir / f"{label}.mongodb.txt"))
    await asyncio.gather(*spies)
    say(f"    py-spy (collapsed stacks): {cfg.run_dir}/{label}.*.txt")


async def run_steps(args: argparse.Namespace, cfg: StackConfig) -> list[RunFigures]:
    await ensure_topics(HeraldSettings(kafka_bootstrap_servers=cfg.kafka_bootstrap))
    simulator = simulators(cfg)[0]
    simulator.start()
    results: list[RunFigures] = []
    try:
        from herald_devstack.processes import wait_ready

        await asyncio.to_thread(wait_ready, [simulator], 60)
        options = RunOptions(args.max_run_seconds)
        for _ in range(args.rounds):
            for accounts in args.accounts:
                per_account = max(1, args.messages // accounts)
                label = f"unpaced-{accounts}-{len(results)}"
                workload = Workload(label, accounts, per_account, pace_scale=0.0)
                step_cfg = cfg
                spy = None
                if args.py_spy and shutil.which(str(PY_SPY)):
                    spy = asyncio.create_task(record_step(step_cfg, label, args.py_spy))
                figures = await run_workload(cfg, simulator, workload, options)
                if spy is not None:
                    await spy
                results.append(figures)
                say(f"    {accounts:,} accounts: {figures.rate:,.1f} sends/s")
    finally:
        await asyncio.to_thread(simulator.stop)
    return results


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="herald_bench.account_fan", description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--max-run-seconds", type=float, default=120.0)
    parser.add_argument("--rounds", type=int, default=1, help="repeat the steps, interleaved")
    parser.add_argument("--py-spy", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument(
        "--unchecked-numbers",
        action="store_true",
        help="leave the recipients' numbers unchecked, as a first campaign (and bench-scale) "
        "has them: each message then takes a number check before its send",
    )
    return parser.parse_args(argv)


async def no_remembered_numbers(db: Database, messages: Sequence[Document], now: datetime) -> None:
    """Stands for :func:`herald_bench.pacing_setup.remember_recipients`: nothing remembered."""


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.unchecked_numbers:
        # The step's setup (pacing.prepare), replaced in this process only.
        setattr(pacing, "remember_recipients", no_remembered_numbers)  # noqa: B010
    run_dir = REPO / ".local" / "bench" / f"account-fan-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True, exist_ok=True)
    begun = time.monotonic()
    with kafka_bootstrap() as kafka, mongodb_url() as mongo:
        say(f"Kafka {kafka}, MongoDB {redacted(mongo)}; logs in {run_dir}")
        cfg = bench_stack(kafka, mongo, run_dir, max(args.accounts))
        results = asyncio.run(run_steps(args, cfg))
    say("")
    head = f"{'accounts':>8}  {'messages':>8}  {'sent':>8}  {'sends/s':>8}"
    say(f"{head}  sender cores  mongo ops/send")
    for figures in results:
        cores = figures.resources.cpu.get("sender", 0.0)
        ops = figures.resources.mongo_ops_per_send
        say(
            f"{figures.accounts:>8,}  {figures.messages:>8,}  {figures.sent:>8,}  "
            f"{figures.rate:>8,.1f}  {cores:>12.2f}  {'-' if ops is None else f'{ops:.1f}':>14}"
        )
    say(f"Total time: {(time.monotonic() - begun) / 60:.1f} min.")


if __name__ == "__main__":
    main(sys.argv[1:])
