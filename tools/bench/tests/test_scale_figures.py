"""The scale benchmark's figures: ratios against the targets, and the table. Pure."""

from __future__ import annotations

import pytest

from herald_bench.scale_figures import (
    MessageStorage,
    RouteLatencies,
    ScaleRun,
    SendWindow,
    hottest_frames,
    missed_targets,
    ratio,
    scale_rows,
    scale_table,
)


def run(
    contacts: int,
    *,
    import_seconds: float = 10.0,
    fan_out_seconds: float | None = 20.0,
    rate: float = 300.0,
    dispatcher_mb: float = 90.0,
    stats_p99: float = 0.05,
) -> ScaleRun:
    return ScaleRun(
        contacts=contacts,
        import_seconds=import_seconds,
        fan_out_seconds=fan_out_seconds,
        send=SendWindow(sent=int(rate * 60), seconds=60.0),
        cancel_seconds=contacts / 100_000,
        peak_mb={"campaign": 100.0, "dispatcher": dispatcher_mb},
        storage=MessageStorage(
            messages=contacts,
            data_bytes=300 * contacts,
            storage_bytes=200 * contacts,
            index_bytes=80 * contacts,
        ),
        routes=[
            RouteLatencies("campaign stats", [0.01] * 98 + [stats_p99] * 2),
            RouteLatencies("queue-stats", [0.02] * 100, failures=1),
        ],
    )


def rows_by_label(runs: list[ScaleRun]) -> dict[str, tuple[float | None, bool | None]]:
    """Each row's ratio (to 3 decimals) and verdict, by its label."""
    return {
        row.label.strip(): (None if row.ratio is None else round(row.ratio, 3), row.met)
        for row in scale_rows(runs)
    }


def test_a_linear_run_meets_every_target() -> None:
    small = run(100_000, import_seconds=10, fan_out_seconds=18, rate=300)
    large = run(1_000_000, import_seconds=100, fan_out_seconds=170, rate=290)

    rows = rows_by_label([small, large])

    assert rows["import (CSV through the API)"] == (10.0, True)
    assert rows["fan-out, until all queued"] == (round(170 / 18, 3), True)
    assert rows["fan-out: contacts/s"][1] is True  # 1,000,000 in 170 s
    assert rows["sending: msgs/s over the window"] == (round(290 / 300, 3), True)
    assert rows["projected time to send all"] == (round(10 * 300 / 290, 3), True)
    assert rows["peak memory (VmHWM): dispatcher"] == (1.0, True)
    assert rows["MongoDB messages: data/message"] == (1.0, True)
    assert rows["campaign stats: p99"][1] is True
    assert missed_targets([small, large]) == []


def test_what_grows_faster_than_n_is_named() -> None:
    small = run(100_000, import_seconds=10, fan_out_seconds=40)
    large = run(
        1_000_000,
        import_seconds=150,  # 15 times the time for 10 times the contacts
        fan_out_seconds=400,  # linear, but 1,000,000 over 3 minutes
        rate=200,  # a per-message cost that grows with N
        dispatcher_mb=400,  # a list held in memory
        stats_p99=0.5,  # a count over all messages
    )

    assert missed_targets([small, large]) == [
        "import (CSV through the API)",
        "fan-out: contacts/s",
        "sending: msgs/s over the window",
        "projected time to send all",
        "peak memory (VmHWM): dispatcher",
        "campaign stats: p99",
    ]


def test_targets_scale_with_the_ratio_of_the_sizes() -> None:
    # 300 against 600: linear is a ratio of 2, so 2.2 at most.
    rows = rows_by_label([run(300, import_seconds=1.0), run(600, import_seconds=2.1)])
    assert rows["import (CSV through the API)"] == (2.1, True)
    rows = rows_by_label([run(300, import_seconds=1.0), run(600, import_seconds=2.3)])
    assert rows["import (CSV through the API)"] == (2.3, False)


def test_one_size_alone_has_figures_but_no_ratios() -> None:
    rows = scale_rows([run(300)])

    assert all(row.ratio is None for row in rows)
    assert all(row.met is None for row in rows if "p99" not in row.label and "/s" not in row.label)
    assert all(len(row.values) == 1 for row in rows)


def test_a_missing_figure_is_a_dash_not_a_verdict() -> None:
    small, large = run(100_000), run(1_000_000, fan_out_seconds=None)

    rows = rows_by_label([small, large])

    assert rows["fan-out, until all queued"] == (None, None)
    assert "fan-out, until all queued" in scale_table([small, large])
    assert ratio(None, 2.0) is None and ratio(0.0, 2.0) is None and ratio(2.0, 5.0) == 2.5


def test_the_table_shows_each_size_the_ratio_and_the_target() -> None:
    text = scale_table([run(100_000), run(1_000_000, import_seconds=150)])
    header, rule, *lines = text.splitlines()

    assert "N = 100,000" in header and "N = 1,000,000" in header and "ratio" in header
    assert set(rule) <= {"-", " "}
    imported = next(line for line in lines if line.startswith("import"))
    assert "10.0 s" in imported and "150.0 s" in imported and "15.00" in imported
    assert "ratio <= 11" in imported and imported.endswith("MISSED")
    stats = next(line for line in lines if line.startswith("campaign stats: p99"))
    assert "50 ms" in stats and "< 200 ms" in stats and stats.endswith("ok")


def test_the_send_window_projects_the_whole_campaign() -> None:
    window = SendWindow(sent=30_000, seconds=100.0)

    assert window.rate == 300.0
    assert window.projected_seconds(1_000_000) == pytest.approx(3333.3, abs=0.1)
    assert SendWindow(sent=0, seconds=0.0).projected_seconds(10) is None


def test_route_percentiles_are_nearest_rank() -> None:
    latencies = RouteLatencies("campaign list", [i / 1000 for i in range(1, 201)])

    assert latencies.p50 == 0.1
    assert latencies.p99 == 0.198
    assert RouteLatencies("dead letters", []).p99 is None


def test_the_hottest_frames_of_a_profile() -> None:
    collapsed = "\n".join(
        [
            "main (a.py);run (herald_x/app.py);insert (pymongo/x.py) 60",
            "main (a.py);run (herald_x/app.py);screen (herald_x/rules.py) 30",
            "main (a.py);idle (asyncio/base.py) 10",
        ]
    )

    inclusive, own = hottest_frames(collapsed, top=2)

    assert [(f.frame, f.share) for f in inclusive] == [
        ("run (herald_x/app.py)", 0.9),
        ("screen (herald_x/rules.py)", 0.3),
    ]
    assert [(f.frame, f.share) for f in own] == [
        ("insert (pymongo/x.py)", 0.6),
        ("screen (herald_x/rules.py)", 0.3),
    ]
    assert hottest_frames("") == ([], [])
