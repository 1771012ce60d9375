"""The figures of a pacing run, from the send times it recorded. Pure; no I/O.

A send's *reserved slot*: for an account's first send, the moment its send event was published
(the account was free: nothing had sent from it yet); for every later send, the account's
previous send plus the gap the pacer drew (``pace_slots``: the next send waits one gap after the
gateway answered the previous one, and a message's ``sentAt`` is recorded right after that
answer). The benchmark draws every gap from a range narrow enough (100-101 ms) that the slot is
known to half a millisecond, so each send's lateness is exact up to the jitter of recording it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

EARLY_TOLERANCE_SECONDS = 0.005
"""A send this much before its slot counts as early (the jitter of recording it stays below)."""

Send = tuple[float, str]
"""When a message was sent (epoch seconds), and its id."""


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def steady_rate(times: Sequence[float], trim: float = 0.05) -> float:
    """Sends per second between the ``trim`` and ``1 - trim`` quantiles of the send times:
    the rate once the run is under way and before its last accounts trail off."""
    ordered = sorted(times)
    first, last = int(len(ordered) * trim), int(len(ordered) * (1 - trim)) - 1
    if last - first < 10:  # too few to trim: the whole run
        first, last = 0, len(ordered) - 1
    span = ordered[last] - ordered[first] if ordered else 0.0
    return (last - first) / span if span > 0 else 0.0


def slot_lateness(
    sends: Mapping[str, Sequence[Send]], gap_seconds: float, published_at: float
) -> list[float]:
    """How long after its reserved slot each send went out (negative: early)."""
    lateness: list[float] = []
    for account_sends in sends.values():
        times = sorted(t for t, _ in account_sends)
        if times:
            lateness.append(times[0] - published_at)
        lateness.extend(b - a - gap_seconds for a, b in itertools.pairwise(times))
    return lateness


def early_pairs(sends: Mapping[str, Sequence[Send]], gap_seconds: float) -> list[tuple[str, str]]:
    """Consecutive sends of one account closer than the gap (by more than the tolerance): the
    ids of the earlier and the later message."""
    pairs = []
    for account_sends in sends.values():
        for (a, first), (b, second) in itertools.pairwise(sorted(account_sends)):
            if b - a < gap_seconds - EARLY_TOLERANCE_SECONDS:
                pairs.append((first, second))
    return pairs


def first_send_delays(sends: Mapping[str, Sequence[Send]], published_at: float) -> list[float]:
    """How long after the send events were published each account sent its first message."""
    return [min(t for t, _ in s) - published_at for s in sends.values() if s]


def histogram_quantile(buckets: Iterable[tuple[float, float]], fraction: float) -> float | None:
    """The upper bound of the Prometheus bucket that holds the ``fraction`` quantile, from
    ``(le, cumulative count)`` pairs (``inf`` past the last finite bound); None when empty."""
    ordered = sorted(buckets)
    total = ordered[-1][1] if ordered else 0.0
    if total <= 0:
        return None
    for bound, count in ordered:
        if count >= fraction * total:
            return bound
    return math.inf


@dataclass(frozen=True)
class Resources:
    """What one run cost on the machine."""

    rss_before_mb: float
    """The sender's resident memory once ready, before the send events arrived."""
    peak_rss_mb: float
    """The sender's peak resident memory (VmHWM) at the end of the run."""
    cpu: Mapping[str, float]
    """CPU over the run in cores (1.0: one core all along): ``sender``, ``simulator``,
    ``mongodb``, ``kafka`` (0 when not found on this machine) and the whole ``machine``."""
    window_seconds: float
    """How long the CPU was measured: from the publish to the last send."""
    mongo_ops_per_send: float | None
    """MongoDB operations the server counted per send (serverStatus opcounters), if it counts."""

    @property
    def other_cpu(self) -> float:
        """The machine's CPU that none of the named processes used (the bench, other work)."""
        named = sum(v for k, v in self.cpu.items() if k != "machine")
        return max(0.0, self.cpu.get("machine", 0.0) - named)


@dataclass(frozen=True)
class GatewayCheck:
    """The early sends (by ``sentAt``) looked up in the simulator's ledger, which times each
    request as it arrives: the gap WhatsApp would have seen."""

    checked: int
    early: int
    """Of those checked, how many arrived at the gateway early too."""
    shortest_gap: float | None
    """The shortest of their gaps at the gateway."""


@dataclass(frozen=True)
class RunFigures:
    label: str
    accounts: int
    messages: int
    gap_seconds: float
    """The anti-ban gap of each account (0: pacing off)."""
    sent: int
    duplicates: int
    """Messages the simulator accepted more than once."""
    failures: int
    """Send attempts that did not end ``sent`` (the sender's own count)."""
    run_seconds: float
    """From the first send to the last."""
    rate: float
    """Steady sends per second (see :func:`steady_rate`)."""
    late_p50: float | None
    late_p99: float | None
    first_send_p50: float | None
    first_send_p99: float | None
    intervals: int
    """Pairs of consecutive sends of one account."""
    early: int
    """Of those, how many were closer than the gap by ``sentAt``."""
    gateway: GatewayCheck
    histogram_p50: float | None
    """``herald_pace_lateness_seconds``: the bucket bound of its median…"""
    histogram_p99: float | None
    """…and of its 99th percentile."""
    resources: Resources

    @property
    def drained(self) -> bool:
        return self.sent >= self.messages

    @property
    def ideal_rate(self) -> float | None:
        """What the accounts could send if every one kept its pace: N per gap."""
        return self.accounts / self.gap_seconds if self.gap_seconds > 0 else None

    def cpu_ms_per_send(self, process: str) -> float:
        """Milliseconds of CPU a process spent per send over the run."""
        cores = self.resources.cpu.get(process, 0.0)
        return cores * self.resources.window_seconds * 1000 / self.sent if self.sent else 0.0


def run_figures(
    *,
    label: str,
    accounts: int,
    messages: int,
    gap_seconds: float,
    sends: Mapping[str, Sequence[Send]],
    published_at: float,
    duplicates: int,
    failures: int,
    gateway: GatewayCheck,
    lateness_buckets: Sequence[tuple[float, float]],
    resources: Resources,
) -> RunFigures:
    """The figures of one run from its sends (per account)."""
    times = [t for account_sends in sends.values() for t, _ in account_sends]
    paced = gap_seconds > 0
    lateness = [max(0.0, x) for x in slot_lateness(sends, gap_seconds, published_at)]
    delays = first_send_delays(sends, published_at)
    return RunFigures(
        label=label,
        accounts=accounts,
        messages=messages,
        gap_seconds=gap_seconds,
        sent=len(times),
        duplicates=duplicates,
        failures=failures,
        run_seconds=max(times) - min(times) if times else 0.0,
        rate=steady_rate(times),
        late_p50=percentile(lateness, 0.50) if paced else None,
        late_p99=percentile(lateness, 0.99) if paced else None,
        first_send_p50=percentile(delays, 0.50),
        first_send_p99=percentile(delays, 0.99),
        intervals=sum(max(0, len(s) - 1) for s in sends.values()),
        early=len(early_pairs(sends, gap_seconds)) if paced else 0,
        gateway=gateway,
        histogram_p50=histogram_quantile(lateness_buckets, 0.50),
        histogram_p99=histogram_quantile(lateness_buckets, 0.99),
        resources=resources,
    )


# The report


def seconds_text(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return ">1 s"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.1f} s"


def bucket_text(value: float | None) -> str:
    """A histogram quantile is only known up to its bucket."""
    if value is None or math.isinf(value):
        return seconds_text(value)
    return f"<={value * 1000:g} ms"


def ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns right-aligned under their header (the first column left-aligned)."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        right = (cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True))
        return "  ".join([first.ljust(widths[0]), *right]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def throughput_table(runs: Sequence[RunFigures], baseline: RunFigures | None) -> str:
    header = [
        "run", "N", "msgs", "sent", "sends/s", "ideal/s", "of ideal", "of baseline",
        "late p50", "late p99", "1st p50", "1st p99", "hist p50", "hist p99",
    ]  # fmt: skip
    rows = []
    for run in runs:
        ideal = run.ideal_rate
        rows.append(
            [
                run.label,
                f"{run.accounts:,}",
                f"{run.messages:,}",
                f"{run.sent:,}" + ("" if run.drained else "*"),
                f"{run.rate:,.0f}",
                f"{ideal:,.0f}" if ideal is not None else "-",
                ratio_text(run.rate / ideal if ideal else None),
                ratio_text(run.rate / baseline.rate if baseline and baseline.rate else None),
                seconds_text(run.late_p50),
                seconds_text(run.late_p99),
                seconds_text(run.first_send_p50),
                seconds_text(run.first_send_p99),
                bucket_text(run.histogram_p50),
                bucket_text(run.histogram_p99),
            ]
        )
    return table(header, rows)


def gateway_text(run: RunFigures) -> str:
    if run.gap_seconds == 0:
        return "-"
    check = run.gateway
    early = f"{run.early}/{run.intervals}"
    if not check.checked:
        return early
    return f"{early} ({check.early} at gw, min {seconds_text(check.shortest_gap)})"


def memory_table(runs: Sequence[RunFigures]) -> str:
    header = ["run", "N", "run time", "RSS before", "peak RSS", "(peak - before) / N"]
    rows = []
    for run in runs:
        res = run.resources
        per_account_kb = (res.peak_rss_mb - res.rss_before_mb) * 1024 / run.accounts
        rows.append(
            [
                run.label,
                f"{run.accounts:,}",
                f"{run.run_seconds:.1f} s",
                f"{res.rss_before_mb:.0f} MB",
                f"{res.peak_rss_mb:.0f} MB",
                f"{per_account_kb:.1f} kB",
            ]
        )
    return table(header, rows)


CPU_PROCESSES = ("sender", "mongodb", "kafka", "simulator")


def cpu_table(runs: Sequence[RunFigures]) -> str:
    header = [
        "run", "N", *(f"{name} cores" for name in CPU_PROCESSES), "other", "machine",
        *(f"{name} ms/send" for name in CPU_PROCESSES[:3]), "mongo ops/send", "early", "dup",
        "failed",
    ]  # fmt: skip
    rows = []
    for run in runs:
        res = run.resources
        rows.append(
            [
                run.label,
                f"{run.accounts:,}",
                *(f"{res.cpu.get(name, 0.0):.2f}" for name in CPU_PROCESSES),
                f"{res.other_cpu:.2f}",
                f"{res.cpu.get('machine', 0.0):.2f}",
                *(f"{run.cpu_ms_per_send(name):.1f}" for name in CPU_PROCESSES[:3]),
                f"{res.mongo_ops_per_send:.1f}" if res.mongo_ops_per_send is not None else "-",
                gateway_text(run),
                str(run.duplicates),
                str(run.failures),
            ]
        )
    return table(header, rows)


def limits_text(run: RunFigures, cores: int) -> str:
    """What most likely held the run's rate: where the CPU went, and what one send costs."""
    cpu = run.resources.cpu
    ideal = run.ideal_rate
    if ideal is not None and run.rate >= 0.9 * ideal:
        return "the accounts' own pace (as designed)"
    per_send = {name: run.cpu_ms_per_send(name) for name in CPU_PROCESSES}
    total = sum(per_send.values())
    costs = ", ".join(f"{name} {ms:.1f}" for name, ms in per_send.items())
    cost = (
        f"one send costs {total:.1f} ms of CPU ({costs}): {cores} idle cores would do about "
        f"{cores * 1000 / total:,.0f}/s, the sender's own core at most "
        f"{1000 / per_send['sender']:,.0f}/s"
        if total > 0 and per_send["sender"] > 0
        else "no CPU measured"
    )
    # The sender and SecantusDB are Python processes: one core is all either can use.
    saturated = [f"{name} {cpu[name]:.2f}" for name in CPU_PROCESSES if cpu.get(name, 0) >= 0.85]
    if saturated:
        return f"one core busy all along in {', '.join(saturated)}; {cost}"
    if cpu.get("machine", 0.0) >= 0.85 * cores:
        return (
            f"the machine's {cores} cores are busy ({cpu.get('machine', 0.0):.2f}, of which "
            f"other work {run.resources.other_cpu:.2f}); {cost}"
        )
    return f"round trips (MongoDB, Kafka, gateway): no core is busy; {cost}"
