"""The figures of a pacing run, from the send times it recorded. Pure; no I/O.

A send's *reserved slot*: the account's previous send plus the gap the pacer drew for it
(``pace_slots``: the next send waits one gap after the gateway answered the previous one, and a
message's ``sentAt`` is recorded right after that answer). The gaps are random (the ``fast``
profile: 2-5 s, times the pace scale); the benchmark's sender writes down each one it draws
(``pacing_sender``), so each send's lateness is exact up to the jitter of recording it. An
account's first send has no previous one: its delay after the publish is reported on its own.

Lateness is read over the *steady window*: from the moment every account has sent its first
message (the launch's burst of first sends is over) to the moment the first account sent its last
(every account still had messages). The rate achieved there (N over the mean interval between
two sends of an account), against the demand (N per mean gap), says whether the sender keeps
up.

The threshold rule: a run at pace scale ``s`` draws every gap ``s`` times as long as production
does, so a send may be late by ``s`` times as much: p99 lateness under ``lateness_ms x s``
(500 ms at scale 1, 125 ms at 0.25). See :func:`lateness_threshold_seconds`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

EARLY_TOLERANCE_SECONDS = 0.005
"""A send this much before its slot counts as early (the jitter of recording it stays below)."""
GATEWAY_TOLERANCE_SECONDS = 0.001
"""The simulator times requests to the millisecond."""
BEHIND_RATIO = 0.9
"""A step whose achieved rate stays below this share of the demand did not keep up."""
TARGET_ACCOUNTS = 2_000
"""Issue 18's target: accounts one sender pod carries on the benchmark machine."""

Send = tuple[float, str]
"""When a message was sent (epoch seconds), and its id."""
DrawnGaps = Mapping[str, float]
"""Message id -> the gap drawn with its slot: how long its account waited after it was sent."""


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


def steady_window(sends: Mapping[str, Sequence[Send]]) -> tuple[float, float]:
    """From the last account's first send to the first account's last send: while every
    account is under way. Empty (end <= start) when the first sends outlasted some account."""
    runs = [sorted(t for t, _ in account_sends) for account_sends in sends.values()]
    runs = [times for times in runs if times]
    if not runs:
        return 0.0, 0.0
    return max(times[0] for times in runs), min(times[-1] for times in runs)


def paced_rate(sends: Mapping[str, Sequence[Send]], since: float = -math.inf) -> float | None:
    """The sends per second the accounts achieved: N over the mean time between two sends of
    one account, from the intervals that begin at ``since`` or later (None: none). Unlike a
    count over a window, blind to the launch having sent every account's first message at once
    (the sends that follow come in a wave, not evenly)."""
    intervals = [
        b - a
        for account_sends in sends.values()
        for a, b in itertools.pairwise(sorted(t for t, _ in account_sends))
        if a >= since
    ]
    if not intervals or sum(intervals) <= 0:
        return None
    return len(sends) * len(intervals) / sum(intervals)


def slot_lateness(
    sends: Mapping[str, Sequence[Send]], gaps: DrawnGaps, since: float = -math.inf
) -> list[float]:
    """How long after its reserved slot each send went out (negative: early): every send
    whose account's previous send went out at ``since`` or later, with a known drawn gap."""
    lateness: list[float] = []
    for account_sends in sends.values():
        for (a, previous), (b, _) in itertools.pairwise(sorted(account_sends)):
            if a >= since and previous in gaps:
                lateness.append(b - a - gaps[previous])
    return lateness


def early_pairs(
    sends: Mapping[str, Sequence[Send]], gaps: DrawnGaps, shortest_gap: float
) -> list[tuple[str, str, float]]:
    """Consecutive sends of one account closer than the gap drawn between them (by more than
    the tolerance; the range's shortest gap where the drawn one is unknown): the earlier and the
    later message's ids, and the gap they had to keep."""
    pairs = []
    for account_sends in sends.values():
        for (a, first), (b, second) in itertools.pairwise(sorted(account_sends)):
            gap = gaps.get(first, shortest_gap)
            if b - a < gap - EARLY_TOLERANCE_SECONDS:
                pairs.append((first, second, gap))
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
    mean_gap_seconds: float
    """The mean anti-ban gap of each account (0: pacing off)."""
    sent: int
    duplicates: int
    """Messages the simulator accepted more than once."""
    failures: int
    """Send attempts that did not end ``sent`` (the sender's own count)."""
    run_seconds: float
    """From the first send to the last."""
    rate: float
    """Achieved sends per second: when paced, N over the mean interval between two sends of an
    account in the steady window (the whole run when it has none; :func:`paced_rate`), else
    between the 5th and 95th percentile of the send times (:func:`steady_rate`)."""
    steady_seconds: float
    """How long the steady window lasted (0: none; the lateness is then over the whole run)."""
    late_p50: float | None
    late_p99: float | None
    """Quantiles of the lateness by ``sentAt`` (None: no drawn gap known)."""
    late_measured: int
    """How many sends the lateness quantiles are over."""
    first_send_p50: float | None
    first_send_p99: float | None
    intervals: int
    """Pairs of consecutive sends of one account."""
    gaps_known: int
    """Of those, how many with the gap drawn between them written down by the sender."""
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
        """Every message sent, or failed on this route (a gateway that did not answer, say:
        the attempt plan hands it to the fallback route, which the bench does not run)."""
        return self.sent + self.failures >= self.messages

    @property
    def demanded_rate(self) -> float | None:
        """What the accounts send if every one keeps its pace: N per mean gap."""
        return self.accounts / self.mean_gap_seconds if self.mean_gap_seconds > 0 else None

    @property
    def p99_lateness(self) -> float | None:
        """The p99 lateness a verdict goes by: by ``sentAt`` when known, else the sender's
        histogram (its bucket's upper bound, so never below the true quantile)."""
        return self.late_p99 if self.late_p99 is not None else self.histogram_p99

    def cpu_ms_per_send(self, process: str) -> float:
        """Milliseconds of CPU a process spent per send over the run."""
        cores = self.resources.cpu.get(process, 0.0)
        return cores * self.resources.window_seconds * 1000 / self.sent if self.sent else 0.0


def run_figures(
    *,
    label: str,
    accounts: int,
    messages: int,
    mean_gap_seconds: float,
    shortest_gap_seconds: float,
    sends: Mapping[str, Sequence[Send]],
    gaps: DrawnGaps,
    published_at: float,
    duplicates: int,
    failures: int,
    gateway: GatewayCheck,
    lateness_buckets: Sequence[tuple[float, float]],
    resources: Resources,
) -> RunFigures:
    """The figures of one run from its sends (per account) and the gaps its sender drew."""
    times = [t for account_sends in sends.values() for t, _ in account_sends]
    paced = mean_gap_seconds > 0
    start, end = steady_window(sends)
    since = start if end > start else -math.inf
    rate = paced_rate(sends, since) if paced else None
    lateness = [max(0.0, x) for x in slot_lateness(sends, gaps, since)] if paced else []
    delays = first_send_delays(sends, published_at)
    intervals = [pair for s in sends.values() for pair in itertools.pairwise(sorted(s))]
    return RunFigures(
        label=label,
        accounts=accounts,
        messages=messages,
        mean_gap_seconds=mean_gap_seconds,
        sent=len(times),
        duplicates=duplicates,
        failures=failures,
        run_seconds=max(times) - min(times) if times else 0.0,
        rate=rate if rate is not None else steady_rate(times),
        steady_seconds=max(0.0, end - start),
        late_p50=percentile(lateness, 0.50),
        late_p99=percentile(lateness, 0.99),
        late_measured=len(lateness),
        first_send_p50=percentile(delays, 0.50),
        first_send_p99=percentile(delays, 0.99),
        intervals=len(intervals),
        gaps_known=sum(1 for (_, first), _ in intervals if first in gaps),
        early=len(early_pairs(sends, gaps, shortest_gap_seconds)) if paced else 0,
        gateway=gateway,
        histogram_p50=histogram_quantile(lateness_buckets, 0.50),
        histogram_p99=histogram_quantile(lateness_buckets, 0.99),
        resources=resources,
    )


# The search for the most accounts one sender carries


def lateness_threshold_seconds(lateness_ms: float, pace_scale: float) -> float:
    """The p99 lateness a step may reach: ``lateness_ms`` at production pace, scaled like the
    gaps. A run at pace scale ``s`` draws every gap ``s`` times as long as production does, so a
    send ``s`` times as late keeps the same share of its gap."""
    return lateness_ms / 1000 * pace_scale


class Verdict(StrEnum):
    CARRIED = "carried"
    """Every message sent, the demand kept up with, p99 lateness under the threshold."""
    LATE = "late"
    """p99 lateness over the threshold."""
    BEHIND = "behind"
    """The achieved rate stayed below :data:`BEHIND_RATIO` of the demand."""
    UNFINISHED = "unfinished"
    """Not every message was sent (or failed) before the step stopped waiting: out of time,
    stalled, or far behind the demand (see :func:`far_behind`)."""


def step_verdict(run: RunFigures, threshold_seconds: float) -> Verdict:
    """Whether one sender carried the step's N accounts (see :class:`Verdict`)."""
    demanded = run.demanded_rate
    if not run.drained:
        return Verdict.UNFINISHED
    if demanded is not None and run.rate < BEHIND_RATIO * demanded:
        return Verdict.BEHIND
    lateness = run.p99_lateness
    if lateness is None or lateness > threshold_seconds:
        return Verdict.LATE
    return Verdict.CARRIED


FAR_BEHIND_RATIO = 0.5
"""A step sending below this share of the demand, with more work left than
:data:`FAR_BEHIND_SECONDS` of it, is stopped: it cannot be carried."""
FAR_BEHIND_SECONDS = 10.0


def far_behind(sent: int, seconds: float, remaining: int, demanded_rate: float | None) -> bool:
    """Whether a step that sent ``sent`` in the last ``seconds``, with ``remaining`` messages to
    go, is so far behind its demand that waiting for the rest would only spend time. The tail of
    a step (its last accounts finishing) sends slower by nature: it is never far behind."""
    if demanded_rate is None or seconds <= 0:
        return False
    tail = remaining <= demanded_rate * FAR_BEHIND_SECONDS
    return not tail and sent / seconds < FAR_BEHIND_RATIO * demanded_rate


def next_step(ladder: Sequence[int], carried: Mapping[int, bool], resolution: float) -> int | None:
    """The next N to run: up the ``ladder`` until a step is not carried; then halfway between
    the highest N carried below it (0 if none) and it, until the two are within ``resolution``
    of the latter (0.25: a quarter; 0: no halving). None when the search is over."""
    failed = [n for n, ok in carried.items() if not ok]
    if not failed:
        return next((n for n in sorted(ladder) if n > max(carried, default=0)), None)
    high = min(failed)
    low = max((n for n, ok in carried.items() if ok and n < high), default=0)
    if resolution <= 0 or high - low <= resolution * high:
        return None
    middle = round((low + high) / 2, -1)  # a round figure
    return int(middle) if low < middle < high and middle not in carried else None


def accounts_per_pod(carried: Mapping[int, bool]) -> tuple[int | None, bool]:
    """The most accounts carried below the first N that was not (None: none carried), and
    whether such an N was found (False: the search ran out of ladder; the figure is a floor)."""
    failed = [n for n, ok in carried.items() if not ok]
    high = min(failed, default=None)
    best = max((n for n, ok in carried.items() if ok and (high is None or n < high)), default=None)
    return best, high is not None


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


def gateway_text(run: RunFigures) -> str:
    """Sends closer than their drawn gap by ``sentAt`` / pairs, and at the simulator."""
    if run.mean_gap_seconds == 0:
        return "-"
    check = run.gateway
    early = f"{run.early}/{run.intervals}"
    if not check.checked:
        return early
    return f"{early} ({check.early} at gw, min {seconds_text(check.shortest_gap)})"


def steps_table(steps: Sequence[RunFigures], threshold_seconds: float) -> str:
    """One row per step: demand against what the sender achieved, lateness, what it cost."""
    header = [
        "N", "demand/s", "sent/s", "of demand", "late p50", "late p99", "hist p50", "hist p99",
        "1st p99", "sender cores", "peak RSS", "mongo ops/send", "short gaps", "verdict",
    ]  # fmt: skip
    rows = []
    for run in steps:
        demanded = run.demanded_rate
        res = run.resources
        ops = res.mongo_ops_per_send
        rows.append(
            [
                f"{run.accounts:,}",
                f"{demanded:,.0f}" if demanded is not None else "-",
                f"{run.rate:,.0f}",
                ratio_text(run.rate / demanded if demanded else None),
                seconds_text(run.late_p50),
                seconds_text(run.late_p99),
                bucket_text(run.histogram_p50),
                bucket_text(run.histogram_p99),
                seconds_text(run.first_send_p99),
                f"{res.cpu.get('sender', 0.0):.2f}",
                f"{res.peak_rss_mb:.0f} MB",
                f"{ops:.1f}" if ops is not None else "-",
                gateway_text(run),
                step_verdict(run, threshold_seconds).value,
            ]
        )
    return table(header, rows)


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
        *(f"{name} ms/send" for name in CPU_PROCESSES[:3]), "mongo ops/send", "dup", "failed",
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
                str(run.duplicates),
                str(run.failures),
            ]
        )
    return table(header, rows)


def limits_text(run: RunFigures, cores: int, threshold_seconds: float | None = None) -> str:
    """What most likely held the run's rate, or made it late: where the CPU went, and what one
    send costs."""
    cpu = run.resources.cpu
    demanded = run.demanded_rate
    kept_up = demanded is not None and run.rate >= BEHIND_RATIO * demanded
    lateness = run.p99_lateness
    on_time = threshold_seconds is None or (lateness is not None and lateness <= threshold_seconds)
    if kept_up and on_time:
        return "the accounts' own pace (as designed)"
    late = f"kept up with the demand, but p99 {seconds_text(lateness)} late; " if kept_up else ""
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
        return f"{late}one core busy all along in {', '.join(saturated)}; {cost}"
    if cpu.get("machine", 0.0) >= 0.85 * cores:
        return (
            f"{late}the machine's {cores} cores are busy ({cpu.get('machine', 0.0):.2f}, of "
            f"which other work {run.resources.other_cpu:.2f}); {cost}"
        )
    return f"{late}round trips (MongoDB, Kafka, gateway): no core is busy; {cost}"


def verdict_line(
    carried: Mapping[int, bool], lateness_ms: float, threshold_seconds: float, scale: float
) -> str:
    """The figure the benchmark is for, with the target beside it."""
    best, bounded = accounts_per_pod(carried)
    if best is None:
        figure = f"none (fewer than {min(carried):,})" if carried else "not measured"
    else:
        figure = f"{best:,}" if bounded else f"{best:,} or more (every step was carried)"
    scaled = (
        f" (scaled: < {threshold_seconds * 1000:g} ms at pace scale {scale:g})"
        if scale != 1
        else ""
    )
    return (
        f"accounts per pod at p99 lateness < {lateness_ms:g} ms{scaled}: {figure}"
        f"   (target {TARGET_ACCOUNTS:,})"
    )
