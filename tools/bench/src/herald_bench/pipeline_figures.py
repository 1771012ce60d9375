"""The figures of the pipeline benchmark, from the times its runs recorded. Pure; no I/O.

Every time is epoch seconds on this machine's clock: the moment the run began (Herald: the
``send`` request; the ceiling: its fan-out's start), the first gateway call (the simulator's
ledger), the moment every message was queued, and each message's ``sentAt`` (MongoDB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from herald_bench.pacing_figures import percentile


@dataclass(frozen=True)
class RunTimes:
    """What one run of a campaign through a pipeline (Herald's or the ceiling's) recorded."""

    label: str
    messages: int
    started_at: float
    first_call_at: float | None
    queued_at: float | None
    sent_at: Sequence[float]
    duplicates: int = 0
    """Messages the simulator accepted more than once (must be 0)."""


@dataclass(frozen=True)
class RunFigures:
    label: str
    messages: int
    sent: int
    rate: float
    """Messages per second from the start until the last one was sent."""
    first_call_seconds: float | None
    queued_seconds: float | None
    p50_seconds: float | None
    """Of each message: from the start of the run until it was sent."""
    p99_seconds: float | None
    duration_seconds: float | None
    duplicates: int

    @property
    def complete(self) -> bool:
        return self.sent >= self.messages and self.duplicates == 0


def _since(at: float | None, start: float) -> float | None:
    return None if at is None else at - start


def run_figures(times: RunTimes) -> RunFigures:
    latencies = [at - times.started_at for at in times.sent_at]
    duration = max(latencies) if latencies else None
    return RunFigures(
        label=times.label,
        messages=times.messages,
        sent=len(latencies),
        rate=len(latencies) / duration if duration else 0.0,
        first_call_seconds=_since(times.first_call_at, times.started_at),
        queued_seconds=_since(times.queued_at, times.started_at),
        p50_seconds=percentile(latencies, 0.50),
        p99_seconds=percentile(latencies, 0.99),
        duration_seconds=duration,
        duplicates=times.duplicates,
    )


@dataclass(frozen=True)
class MemoryTrace:
    """A process's resident memory sampled over a run: (epoch seconds, MB), oldest first, and
    its peak (``VmHWM``) at the end."""

    process: str
    samples: Sequence[tuple[float, float]]
    peak_mb: float

    @property
    def start_mb(self) -> float | None:
        return self.samples[0][1] if self.samples else None

    @property
    def end_mb(self) -> float | None:
        return self.samples[-1][1] if self.samples else None

    def middle_mb(self) -> float | None:
        """The sample half-way through the run (by time)."""
        if not self.samples:
            return None
        first, last = self.samples[0][0], self.samples[-1][0]
        half = first + (last - first) / 2
        return min(self.samples, key=lambda sample: abs(sample[0] - half))[1]


@dataclass(frozen=True)
class FanOutFigures:
    contacts: int
    queued_seconds: float | None
    """From the ``send`` request until every message was queued."""
    dispatcher: MemoryTrace
    audience_seen_before: bool = False
    """The recipients had a campaign of this tenant before: their sender accounts are
    remembered, so each is read back (sticky) instead of written."""

    @property
    def rate(self) -> float:
        return self.contacts / self.queued_seconds if self.queued_seconds else 0.0


@dataclass(frozen=True)
class RunLoad:
    """What a run cost the machine, over its window (from its start until the last send)."""

    machine_cores: float
    """CPU the whole machine used, in cores (1.0: one core all along)."""
    other_cores: float
    """The part no process of the benchmark used: other work on the machine."""
    mongodb_cpu_seconds: float
    """CPU the MongoDB-wire server used (0 when it does not run on this machine)."""


@dataclass(frozen=True)
class Round:
    """One Herald run and one ceiling run, back to back on the same servers."""

    herald: RunFigures
    ceiling: RunFigures
    senders: Sequence[MemoryTrace]
    herald_load: RunLoad
    ceiling_load: RunLoad

    @property
    def ratio(self) -> float:
        return self.herald.rate / self.ceiling.rate if self.ceiling.rate else 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


# Text


def _s(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} MB"


def run_table(rounds: Sequence[Round]) -> str:
    header = (
        "| round | pipeline | msgs/s | send → 1st call | all queued | send→sent p50 / p99 "
        "| all sent | complete |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for number, one in enumerate(rounds, start=1):
        for run in (one.herald, one.ceiling):
            complete = "yes" if run.complete else f"NO: {run.sent} sent, {run.duplicates} twice"
            lines.append(
                f"| {number} | {run.label} | {run.rate:,.0f} | {_s(run.first_call_seconds)} "
                f"| {_s(run.queued_seconds)} | {_s(run.p50_seconds, 1)} / "
                f"{_s(run.p99_seconds, 1)} | {_s(run.duration_seconds, 1)} "
                f"| {complete} |"
            )
    return "\n".join(lines)


def _mongo_ms(load: RunLoad, run: RunFigures) -> str:
    return f"{load.mongodb_cpu_seconds / run.sent * 1000:.2f}" if run.sent else "-"


def load_table(rounds: Sequence[Round]) -> str:
    lines = [
        "| round | pipeline/ceiling | cores busy, Herald / ceiling | of which other work "
        "| MongoDB CPU ms per message |",
        "|---|---|---|---|---|",
    ]
    for number, one in enumerate(rounds, start=1):
        herald, ceiling = one.herald_load, one.ceiling_load
        lines.append(
            f"| {number} | {one.ratio:.2f} | {herald.machine_cores:.2f} / "
            f"{ceiling.machine_cores:.2f} | {herald.other_cores:.2f} / {ceiling.other_cores:.2f} "
            f"| {_mongo_ms(herald, one.herald)} / {_mongo_ms(ceiling, one.ceiling)} |"
        )
    return "\n".join(lines)


def memory_table(rounds: Sequence[Round]) -> str:
    lines = [
        "| round | sender process | RSS at send | half-way | peak (VmHWM) | after the last |",
        "|---|---|---|---|---|---|",
    ]
    for number, one in enumerate(rounds, start=1):
        for trace in one.senders:
            lines.append(
                f"| {number} | {trace.process} | {_mb(trace.start_mb)} | {_mb(trace.middle_mb())} "
                f"| {_mb(trace.peak_mb)} | {_mb(trace.end_mb)} |"
            )
    return "\n".join(lines)


def fan_out_table(fan_outs: Sequence[FanOutFigures]) -> str:
    lines = [
        "| contacts | recipients | all queued | messages/s | dispatcher RSS at send"
        " | dispatcher peak |",
        "|---|---|---|---|---|---|",
    ]
    for run in fan_outs:
        audience = "seen before" if run.audience_seen_before else "new"
        lines.append(
            f"| {run.contacts:,} | {audience} | {_s(run.queued_seconds, 1)} | {run.rate:,.0f} "
            f"| {_mb(run.dispatcher.start_mb)} | {_mb(run.dispatcher.peak_mb)} |"
        )
    return "\n".join(lines)


def ratio_line(rounds: Sequence[Round]) -> str:
    """The last line of the report: the mean ratio of the rounds, with both mean rates."""
    herald = mean([one.herald.rate for one in rounds])
    ceiling = mean([one.ceiling.rate for one in rounds])
    ratio = mean([one.ratio for one in rounds])
    return (
        f"pipeline/ceiling: {ratio:.2f} (Herald {herald:,.0f} msgs/s, "
        f"ceiling {ceiling:,.0f} msgs/s)"
    )
