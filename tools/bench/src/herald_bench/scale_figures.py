"""The figures of the scale benchmark (``make bench-scale``) and its table. Pure; no I/O.

One :class:`ScaleRun` per campaign size N. The table puts the smallest N beside the largest
with their ratio, and the issue's target beside each figure: a step linear in N or better (its
time's ratio at most 1.1 times the ratio of the Ns: 11 for 100,000 against 1,000,000), memory
and bytes per message independent of N, the fan-out of 1,000,000 contacts under 3 minutes, and
the API's routes under 200 ms at p99 while the campaign sends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from herald_bench.pacing_figures import percentile, table

LINEAR_SLACK = 1.1
"""A step is linear when its time grows at most this much more than N (11 when N grows tenfold)."""
FLAT_RATIO = 1.2
"""What grows no more than this between the Ns is independent of N (memory, bytes/message)."""
FAN_OUT_TARGET_SECONDS = 180.0
FAN_OUT_TARGET_CONTACTS = 1_000_000
"""The fan-out of 1,000,000 contacts in under 3 minutes: at least 5,556 contacts/s."""
ROUTE_P99_TARGET_SECONDS = 0.2


@dataclass(frozen=True)
class SendWindow:
    """What the gateways accepted over a fixed window of the sending step."""

    sent: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def projected_seconds(self, messages: int) -> float | None:
        """How long sending every one of ``messages`` would take at the window's rate."""
        return messages / self.rate if self.rate > 0 else None


@dataclass(frozen=True)
class MessageStorage:
    """MongoDB's ``collStats`` of the ``messages`` collection."""

    messages: int
    data_bytes: int
    """``size``: the documents, uncompressed."""
    storage_bytes: int
    """``storageSize``: what the documents take on disk."""
    index_bytes: int
    """``totalIndexSize``: every index of the collection."""

    def per_message(self, total_bytes: int) -> float | None:
        return total_bytes / self.messages if self.messages > 0 else None


@dataclass(frozen=True)
class RouteLatencies:
    """The response times (seconds) of one API route, polled while the campaign sent."""

    route: str
    seconds: Sequence[float]
    failures: int = 0
    """Answers other than 200, and requests that got no answer."""

    @property
    def p50(self) -> float | None:
        return percentile(self.seconds, 0.50)

    @property
    def p99(self) -> float | None:
        return percentile(self.seconds, 0.99)


@dataclass(frozen=True)
class ScaleRun:
    """Everything measured for one campaign of ``contacts`` recipients."""

    contacts: int
    import_seconds: float | None
    """The CSV import request, from its first byte to the answer."""
    fan_out_seconds: float | None
    """From the ``send`` request until every message was queued (None: not in time)."""
    send: SendWindow | None
    cancel_seconds: float | None
    """The ``cancel`` request, from sending it to the answer (None: no answer in the time
    the benchmark waits)."""
    peak_mb: Mapping[str, float] = field(default_factory=dict)
    """Each process's peak resident memory (VmHWM), by name."""
    storage: MessageStorage | None = None
    routes: Sequence[RouteLatencies] = ()


@dataclass(frozen=True)
class Row:
    label: str
    values: Sequence[float | None]
    """One per run, smallest N first."""
    unit: str
    """How the values are shown: ``s``, ``/s``, ``MB``, ``B``, ``ms``."""
    ratio: float | None
    target: str
    met: bool | None
    """None: no target, or a figure missing."""


def ratio(first: float | None, last: float | None) -> float | None:
    """``last / first``; None when either is missing or ``first`` is not positive."""
    if first is None or last is None or first <= 0:
        return None
    return last / first


def _span(values: Sequence[float | None]) -> float | None:
    """The last value against the first; None for a single one."""
    return ratio(values[0], values[-1]) if len(values) > 1 else None


def _growth(runs: Sequence[ScaleRun]) -> float:
    return runs[-1].contacts / runs[0].contacts


def _linear_row(label: str, values: Sequence[float | None], growth: float) -> Row:
    """A time that should grow no faster than N."""
    found = _span(values)
    limit = LINEAR_SLACK * growth
    met = None if found is None else found <= limit
    target = f"ratio <= {limit:.3g}" if len(values) > 1 else "linear in N"
    return Row(label, values, "s", found, target, met)


def _flat_row(label: str, values: Sequence[float | None], unit: str) -> Row:
    """A figure that should not depend on N."""
    found = _span(values)
    met = None if found is None else found <= FLAT_RATIO
    return Row(label, values, unit, found, f"ratio <= {FLAT_RATIO:g}", met)


def _send_rows(runs: Sequence[ScaleRun], growth: float) -> list[Row]:
    rates = [None if r.send is None else r.send.rate for r in runs]
    found = _span(rates)
    floor = 1 / LINEAR_SLACK
    rate_met = None if found is None else found >= floor
    projected = [None if r.send is None else r.send.projected_seconds(r.contacts) for r in runs]
    return [
        Row(
            "sending: msgs/s over the window", rates, "/s", found, f"ratio >= {floor:.2f}", rate_met
        ),
        _linear_row("  projected time to send all", projected, growth),
    ]


def _fan_out_rows(runs: Sequence[ScaleRun], growth: float) -> list[Row]:
    times = [r.fan_out_seconds for r in runs]
    linear = _linear_row("fan-out, until all queued", times, growth)
    # The 3-minute target, as the rate it needs, checked on the largest N.
    needed = FAN_OUT_TARGET_CONTACTS / FAN_OUT_TARGET_SECONDS
    rates = [
        None if t is None or t <= 0 else r.contacts / t for r, t in zip(runs, times, strict=True)
    ]
    speed = Row(
        "  fan-out: contacts/s",
        rates,
        "/s",
        _span(rates),
        f"1,000,000 < {FAN_OUT_TARGET_SECONDS:.0f} s: >= {needed:,.0f}/s",
        None if rates[-1] is None else rates[-1] >= needed,
    )
    return [linear, speed]


def _storage_rows(runs: Sequence[ScaleRun]) -> list[Row]:
    rows = []
    for label, part in (
        ("MongoDB messages: data/message", "data_bytes"),
        ("  storage/message", "storage_bytes"),
        ("  indexes/message", "index_bytes"),
    ):
        values = [
            None if r.storage is None else r.storage.per_message(getattr(r.storage, part))
            for r in runs
        ]
        rows.append(_flat_row(label, values, "B"))
    return rows


def _memory_rows(runs: Sequence[ScaleRun]) -> list[Row]:
    processes = list(dict.fromkeys(name for r in runs for name in r.peak_mb))
    return [
        _flat_row(f"peak memory (VmHWM): {name}", [r.peak_mb.get(name) for r in runs], "MB")
        for name in processes
    ]


def _route_rows(runs: Sequence[ScaleRun]) -> list[Row]:
    routes = list(dict.fromkeys(latency.route for r in runs for latency in r.routes))
    rows = []
    for route in routes:
        found = [next((x for x in r.routes if x.route == route), None) for r in runs]
        p50 = [None if x is None else x.p50 for x in found]
        p99 = [None if x is None else x.p99 for x in found]
        highest = [v for v in p99 if v is not None]
        met = None if len(highest) < len(runs) else max(highest) < ROUTE_P99_TARGET_SECONDS
        target = f"< {ROUTE_P99_TARGET_SECONDS * 1000:.0f} ms"
        rows.append(Row(f"{route}: p50", p50, "ms", _span(p50), "", None))
        rows.append(Row(f"{route}: p99", p99, "ms", _span(p99), target, met))
    return rows


def scale_rows(runs: Sequence[ScaleRun]) -> list[Row]:
    """Every row of the table, for runs ordered by N (at least one)."""
    if not runs:
        raise ValueError("no runs")
    growth = _growth(runs)
    return [
        _linear_row("import (CSV through the API)", [r.import_seconds for r in runs], growth),
        *_fan_out_rows(runs, growth),
        *_send_rows(runs, growth),
        _linear_row("cancel (the API's answer)", [r.cancel_seconds for r in runs], growth),
        *_memory_rows(runs),
        *_storage_rows(runs),
        *_route_rows(runs),
    ]


def value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:,.1f} s"
    if unit == "ms":
        return f"{value * 1000:,.0f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.0f} B"


def _verdict(met: bool | None) -> str:
    return {True: "ok", False: "MISSED", None: ""}[met]


def scale_table(runs: Sequence[ScaleRun]) -> str:
    """The figures of every run side by side, with the ratio of the last to the first and
    the target of each."""
    header = ["", *(f"N = {r.contacts:,}" for r in runs), "ratio", "target", ""]
    rows = [
        [
            row.label,
            *(value_text(v, row.unit) for v in row.values),
            "-" if row.ratio is None else f"{row.ratio:.2f}",
            row.target,
            _verdict(row.met),
        ]
        for row in scale_rows(runs)
    ]
    return table(header, rows)


def missed_targets(runs: Sequence[ScaleRun]) -> list[str]:
    """The labels of the rows whose target was missed."""
    return [row.label.strip() for row in scale_rows(runs) if row.met is False]


# Where a process spent its time (py-spy's collapsed stacks)


@dataclass(frozen=True)
class FrameShare:
    frame: str
    share: float
    """Of the samples, 0..1."""


def hottest_frames(
    collapsed: str, top: int = 12, *, inside: str = "herald"
) -> tuple[list[FrameShare], list[FrameShare]]:
    """From collapsed stacks (``frame;frame;… count`` per line, as py-spy's ``raw`` format
    writes them): the frames whose text holds ``inside`` by the share of samples they were on
    the stack (inclusive), and every frame by the share of samples it was the innermost
    (self); ``top`` of each, largest first."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        for frame in set(frames):
            if inside in frame:
                inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    if total == 0:
        return [], []

    def ranked(counts: Mapping[str, int]) -> list[FrameShare]:
        best = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
        return [FrameShare(frame, count / total) for frame, count in best]

    return ranked(inclusive), ranked(own)


def profile_text(title: str, collapsed: str, top: int = 12) -> str:
    inclusive, own = hottest_frames(collapsed, top)
    lines = [f"{title}: Herald's frames by share of samples on the stack"]
    lines += [f"  {f.share:6.1%}  {f.frame}" for f in inclusive]
    lines.append("  innermost frames (self time):")
    lines += [f"  {f.share:6.1%}  {f.frame}" for f in own]
    return "\n".join(lines)
