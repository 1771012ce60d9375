"""The pipeline benchmark's arithmetic: rates, latencies, memory traces, the ratio line."""

from __future__ import annotations

import pytest

from herald_bench.pipeline_figures import (
    FanOutFigures,
    MemoryTrace,
    Round,
    RunLoad,
    RunTimes,
    fan_out_table,
    load_table,
    ratio_line,
    run_figures,
    run_table,
)
from herald_bench.pipeline_setup import phone


def times(label: str, rate: float, messages: int = 100, duplicates: int = 0) -> RunTimes:
    """``messages`` sent evenly at ``rate`` per second from t = 1000."""
    return RunTimes(
        label=label,
        messages=messages,
        started_at=1000.0,
        first_call_at=1000.25,
        queued_at=1002.0,
        sent_at=[1000.0 + (i + 1) / rate for i in range(messages)],
        duplicates=duplicates,
    )


def test_a_runs_figures_count_from_its_start() -> None:
    figures = run_figures(times("Herald", rate=50))
    assert figures.rate == pytest.approx(50)
    assert figures.duration_seconds == pytest.approx(2.0)
    assert figures.first_call_seconds == pytest.approx(0.25)
    assert figures.queued_seconds == pytest.approx(2.0)
    assert figures.p50_seconds == pytest.approx(1.0)
    assert figures.p99_seconds == pytest.approx(1.98)
    assert figures.complete


def test_a_run_with_messages_missing_or_sent_twice_is_not_complete() -> None:
    missing = RunTimes("Herald", 3, 0.0, None, None, [1.0, 2.0])
    assert not run_figures(missing).complete
    assert run_figures(missing).first_call_seconds is None
    assert not run_figures(times("Herald", rate=50, duplicates=1)).complete
    nothing = run_figures(RunTimes("Herald", 3, 0.0, None, None, []))
    assert nothing.rate == 0.0
    assert nothing.p50_seconds is None


def test_the_last_line_gives_the_mean_ratio_with_both_rates() -> None:
    load = RunLoad(machine_cores=1.5, other_cores=0.25, mongodb_cpu_seconds=0.5)
    rounds = [
        Round(run_figures(times("Herald", 40)), run_figures(times("ceiling", 100)), [], load, load),
        Round(run_figures(times("Herald", 60)), run_figures(times("ceiling", 100)), [], load, load),
    ]
    assert [r.ratio for r in rounds] == pytest.approx([0.4, 0.6])
    assert ratio_line(rounds) == "pipeline/ceiling: 0.50 (Herald 50 msgs/s, ceiling 100 msgs/s)"
    assert "| 2 | ceiling | 100 |" in run_table(rounds)
    # 0.5 s of the MongoDB server's CPU over 100 messages: 5 ms each.
    assert "| 1 | 0.40 | 1.50 / 1.50 | 0.25 / 0.25 | 5.00 / 5.00 |" in load_table(rounds)


def test_a_memory_trace_reads_start_middle_and_end() -> None:
    trace = MemoryTrace("dispatcher", [(0.0, 70.0), (4.0, 90.0), (5.0, 91.0), (10.0, 75.0)], 95.0)
    assert (trace.start_mb, trace.middle_mb(), trace.end_mb) == (70.0, 91.0, 75.0)
    assert MemoryTrace("dispatcher", [], 0.0).middle_mb() is None
    fan_out = FanOutFigures(contacts=1000, queued_seconds=4.0, dispatcher=trace)
    assert fan_out.rate == 250
    again = FanOutFigures(1000, 5.0, trace, audience_seen_before=True)
    table = fan_out_table([fan_out, again])
    assert "| 1,000 | new | 4.0 s | 250 | 70 MB | 95 MB |" in table
    assert "| 1,000 | seen before | 5.0 s | 200 | 70 MB | 95 MB |" in table


def test_benchmark_phones_are_distinct() -> None:
    numbers = [phone(i) for i in range(0, 2_000_000, 7)]
    assert len(set(numbers)) == len(numbers)
    assert all(len(n) == 12 and n.startswith("+1") for n in numbers)
