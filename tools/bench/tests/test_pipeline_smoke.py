"""``make bench``'s pipeline benchmark, small (N = 500): it runs, and what it reports is whole.

A smoke check of the benchmark itself, not of Herald's speed: nothing here depends on timing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from herald_bench.pipeline import Options, run_benchmark

SMOKE = Options(messages=500, accounts=10, fan_outs=(500,), rounds=1, max_run_seconds=240)


@pytest.mark.e2e
@pytest.mark.timeout(900)
async def test_the_pipeline_benchmark_runs_both_pipelines_and_the_fan_out(
    kafka_bootstrap: str, mongodb_url: str, tmp_path: Path
) -> None:
    report = await run_benchmark(kafka_bootstrap, mongodb_url, tmp_path, SMOKE)

    (round_,) = report.rounds
    for run in (round_.herald, round_.ceiling):
        assert run.sent == 500, run
        assert run.duplicates == 0, run
        assert run.rate > 0
        assert run.first_call_seconds is not None and run.first_call_seconds > 0
        assert run.queued_seconds is not None
        assert run.p50_seconds is not None and run.p99_seconds is not None
        assert run.p50_seconds <= run.p99_seconds
    assert [trace.process for trace in round_.senders] == ["primary-sender", "fallback-sender"]
    assert all(trace.samples and trace.peak_mb > 0 for trace in round_.senders)
    fan_out, again = report.fan_outs
    for campaign in (fan_out, again):
        assert campaign.contacts == 500 and campaign.queued_seconds is not None
        assert campaign.dispatcher.peak_mb > 0
    assert (fan_out.audience_seen_before, again.audience_seen_before) == (False, True)
    assert report.complete

    last = report.text.splitlines()[-1]
    assert re.fullmatch(
        r"pipeline/ceiling: \d+\.\d\d \(Herald [\d,]+ msgs/s, ceiling [\d,]+ msgs/s\)", last
    ), last
