"""``make bench-scale``, tiny (300 contacts, 5 accounts, a 3 s send window): it runs every
step, and its table has every row with a figure.

A smoke check of the benchmark itself, not of Herald's speed: nothing here depends on timing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from herald_bench.scale import Options, run_benchmark

SMOKE = Options(
    contacts=(300,), accounts=5, send_seconds=3.0, warm_up_seconds=0.0, max_step_seconds=240
)
PROCESSES = [
    "gateway-primary",
    "gateway-fallback",
    "campaign",
    "dispatcher",
    "primary-sender",
    "fallback-sender",
    "scheduler",
]
ROUTES = ["campaign stats", "campaign list", "queue-stats", "dead letters"]


@pytest.mark.e2e
@pytest.mark.timeout(600)
async def test_the_scale_benchmark_imports_fans_out_sends_cancels_and_reports(
    kafka_bootstrap: str, mongodb_url: str, tmp_path: Path
) -> None:
    report = await run_benchmark(kafka_bootstrap, mongodb_url, tmp_path, SMOKE)

    (run,) = report.runs
    assert run.contacts == 300
    assert run.import_seconds is not None and run.import_seconds > 0
    assert run.fan_out_seconds is not None and run.fan_out_seconds > 0
    assert run.send is not None and 0 < run.send.sent <= 300 and run.send.rate > 0
    assert run.cancel_seconds is not None and run.cancel_seconds > 0
    assert sorted(run.peak_mb) == sorted(PROCESSES)
    assert all(10 < mb < 2000 for mb in run.peak_mb.values()), run.peak_mb
    assert run.storage is not None and run.storage.messages == 300
    assert 100 < run.storage.data_bytes / 300 < 5000, run.storage
    assert [route.route for route in run.routes] == ROUTES
    for route in run.routes:
        assert route.failures == 0, route
        assert route.p50 is not None and route.p99 is not None and 0 < route.p50 <= route.p99
    assert report.complete

    lines = report.text.splitlines()
    for label in [
        "import (CSV through the API)",
        "fan-out, until all queued",
        "  fan-out: contacts/s",
        "sending: msgs/s over the window",
        "  projected time to send all",
        "cancel (the API's answer)",
        *(f"peak memory (VmHWM): {name}" for name in PROCESSES),
        "MongoDB messages: data/message",
        "  storage/message",
        "  indexes/message",
        *(f"{route}: {quantile}" for route in ROUTES for quantile in ("p50", "p99")),
    ]:
        row = next((line for line in lines if line.startswith(label + "  ")), None)
        assert row is not None, f"no row {label!r} in\n{report.text}"
        assert row.split()[len(label.split())] != "-", row  # the figure is there
    assert "N = 300" in report.text
    assert "Every route call answered 200." in lines
