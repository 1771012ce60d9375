"""The pacing benchmark's arithmetic: lateness against reserved slots, rates, the threshold rule
and the search for the most accounts one sender carries."""

from __future__ import annotations

import math

import pytest

from herald_bench.pacing_figures import (
    GatewayCheck,
    Resources,
    RunFigures,
    Verdict,
    accounts_per_pod,
    early_pairs,
    far_behind,
    histogram_quantile,
    lateness_threshold_seconds,
    limits_text,
    next_step,
    paced_rate,
    percentile,
    run_figures,
    slot_lateness,
    steady_rate,
    steady_window,
    step_verdict,
    verdict_line,
)
from herald_bench.pacing_setup import gap_range, mean_gap_seconds

LADDER = (250, 500, 1_000, 1_500, 2_000, 3_000)


def test_a_send_is_late_against_its_accounts_previous_send_plus_the_gap_drawn() -> None:
    sends = {
        "acc_a": [(100.0, "m1"), (102.0, "m2"), (105.5, "m3")],
        "acc_b": [(101.0, "m4")],  # its only send: no slot to be late against
    }
    gaps = {"m1": 2.0, "m2": 3.0, "m3": 4.0}  # m2 on time; m3 0.5 s after m2 + 3 s
    assert sorted(slot_lateness(sends, gaps)) == pytest.approx([0.0, 0.5])
    # Only sends whose previous one went out in the window count; a gap not written down
    # leaves its send out.
    assert slot_lateness(sends, gaps, since=101.0) == pytest.approx([0.5])
    assert slot_lateness(sends, {"m2": 3.0}) == pytest.approx([0.5])


def test_sends_closer_than_their_drawn_gap_are_early() -> None:
    sends = {"acc_a": [(10.0, "m1"), (12.5, "m2"), (14.6, "m3"), (17.0, "m4")]}
    gaps = {"m1": 3.0, "m2": 2.0}  # m1 -> m2 is 0.5 s short; m2 -> m3 keeps its 2 s
    # m3's gap was not written down: the range's shortest (2 s) is what m3 -> m4 had to keep.
    assert early_pairs(sends, gaps, shortest_gap=2.0) == [("m1", "m2", 3.0)]
    assert early_pairs(sends, gaps, shortest_gap=2.5) == [("m1", "m2", 3.0), ("m3", "m4", 2.5)]


def test_the_steady_window_runs_while_every_account_is_under_way() -> None:
    sends = {
        "acc_a": [(0.0, "a1"), (3.0, "a2"), (6.0, "a3"), (9.0, "a4")],
        "acc_b": [(2.0, "b1"), (5.0, "b2"), (8.0, "b3")],  # its first send came last…
        "acc_c": [(1.0, "c1"), (4.0, "c2"), (7.0, "c3")],  # …and c ran out first
    }
    assert steady_window(sends) == (2.0, 7.0)
    assert steady_window({}) == (0.0, 0.0)


def test_the_rate_achieved_is_n_over_the_mean_interval_of_an_account() -> None:
    # Both accounts sent first at once (the launch), then every 2 s, except b once 3 s.
    sends = {
        "acc_a": [(0.0, "a1"), (2.0, "a2"), (4.0, "a3"), (6.0, "a4")],
        "acc_b": [(0.0, "b1"), (2.0, "b2"), (5.0, "b3"), (7.0, "b4")],
    }
    assert paced_rate(sends) == pytest.approx(2 / (13 / 6))  # 6 intervals over 13 s
    assert paced_rate(sends, since=4.0) == pytest.approx(2 / 2)  # a3 -> a4, b3 -> b4
    assert paced_rate(sends, since=7.0) is None


def test_the_steady_rate_leaves_out_the_start_and_the_tail() -> None:
    steady = [float(i) / 100 for i in range(1000)]  # 100 per second for 10 s…
    tail = [20.0 + i for i in range(30)]  # …then a few stragglers
    assert steady_rate(steady + tail) == pytest.approx(100, rel=0.05)


def test_a_histogram_quantile_is_the_bound_of_its_bucket() -> None:
    buckets = [(0.001, 50.0), (0.01, 98.0), (0.1, 99.0), (math.inf, 100.0)]
    assert histogram_quantile(buckets, 0.5) == 0.001
    assert histogram_quantile(buckets, 0.99) == 0.1
    assert histogram_quantile([(math.inf, 0.0)], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([], 0.5) is None


def test_the_fast_profile_is_2_to_5_seconds_times_the_scale() -> None:
    assert (gap_range(1).min_seconds, gap_range(1).max_seconds) == (2.0, 5.0)
    assert mean_gap_seconds(1) == 3.5
    assert mean_gap_seconds(0.2) == pytest.approx(0.7)
    assert mean_gap_seconds(0) == 0


def test_the_lateness_threshold_scales_like_the_gaps() -> None:
    assert lateness_threshold_seconds(500, 1.0) == pytest.approx(0.5)
    assert lateness_threshold_seconds(500, 0.25) == pytest.approx(0.125)
    assert lateness_threshold_seconds(200, 0.5) == pytest.approx(0.1)


def step(
    accounts: int,
    *,
    rate: float,
    late_p99: float | None,
    sent: int | None = None,
    failures: int = 0,
    histogram_p99: float | None = None,
) -> RunFigures:
    """A paced step of ``accounts`` at the fast profile, 10 messages each."""
    return RunFigures(
        label=f"paced-{accounts}",
        accounts=accounts,
        messages=accounts * 10,
        mean_gap_seconds=3.5,
        sent=accounts * 10 if sent is None else sent,
        duplicates=0,
        failures=failures,
        run_seconds=40.0,
        rate=rate,
        steady_seconds=30.0,
        late_p50=None if late_p99 is None else late_p99 / 2,
        late_p99=late_p99,
        late_measured=accounts * 8,
        first_send_p50=None,
        first_send_p99=None,
        intervals=accounts * 9,
        gaps_known=accounts * 9,
        early=0,
        gateway=GatewayCheck(0, 0, None),
        histogram_p50=None,
        histogram_p99=histogram_p99,
        resources=Resources(80.0, 90.0, {}, 40.0, 2.0),
    )


def test_a_step_is_carried_only_on_time_at_the_demanded_rate_with_every_message_sent() -> None:
    threshold = 0.5
    demand = 1_000 / 3.5  # 286 sends/s
    assert step_verdict(step(1_000, rate=demand, late_p99=0.3), threshold) is Verdict.CARRIED
    assert step_verdict(step(1_000, rate=demand, late_p99=0.7), threshold) is Verdict.LATE
    behind = step(1_000, rate=0.8 * demand, late_p99=0.3)
    assert step_verdict(behind, threshold) is Verdict.BEHIND
    unfinished = step(1_000, rate=demand, late_p99=0.3, sent=9_000)
    assert step_verdict(unfinished, threshold) is Verdict.UNFINISHED
    # A message that failed on this route (handed to the fallback route) is not waited for.
    failed_over = step(1_000, rate=demand, late_p99=0.3, sent=9_999, failures=1)
    assert step_verdict(failed_over, threshold) is Verdict.CARRIED
    # No gap written down: the sender's histogram decides, by its bucket's upper bound.
    by_histogram = step(1_000, rate=demand, late_p99=None, histogram_p99=0.25)
    assert step_verdict(by_histogram, threshold) is Verdict.CARRIED
    assert step_verdict(by_histogram, 0.125) is Verdict.LATE


def test_a_step_far_behind_its_demand_is_stopped_but_not_its_tail() -> None:
    demand = 1_000 / 3.5  # 286 sends/s
    assert far_behind(1_000, 10.0, remaining=20_000, demanded_rate=demand)  # 100/s
    assert not far_behind(2_500, 10.0, remaining=20_000, demanded_rate=demand)  # 250/s
    # The last accounts finishing send slower by nature: a tail is never far behind.
    assert not far_behind(100, 10.0, remaining=2_000, demanded_rate=demand)
    assert not far_behind(0, 10.0, remaining=20_000, demanded_rate=None)  # unpaced


def test_the_steps_climb_the_ladder_until_one_is_not_carried_then_halve_the_interval() -> None:
    assert next_step(LADDER, {}, resolution=0.1) == 250
    carried = {250: True, 500: True, 1_000: True}
    assert next_step(LADDER, carried, resolution=0.1) == 1_500
    carried |= {1_500: True, 2_000: True, 3_000: False}
    assert next_step(LADDER, carried, resolution=0.1) == 2_500
    carried[2_500] = False
    assert next_step(LADDER, carried, resolution=0.1) == 2_250
    carried[2_250] = True
    assert next_step(LADDER, carried, resolution=0.1) is None  # 2,250 carried, 2,500 not
    assert accounts_per_pod(carried) == (2_250, True)
    # A coarser resolution stops sooner: 2,000 carried is within a quarter of 2,500.
    assert next_step(LADDER, {2_000: True, 2_500: False}, resolution=0.25) is None
    # No halving asked for: the ladder's last carried step is the figure.
    assert next_step(LADDER, {250: True, 500: False}, resolution=0) is None


def test_the_search_ends_with_the_ladder_or_halves_below_its_first_step() -> None:
    every = dict.fromkeys(LADDER, True)
    assert next_step(LADDER, every, resolution=0.25) is None
    assert accounts_per_pod(every) == (3_000, False)  # a floor: nothing above was tried
    # The first step not carried: halve towards 0.
    assert next_step(LADDER, {250: False}, resolution=0.25) == 120
    assert next_step(LADDER, {250: False, 120: True}, resolution=0.25) == 180
    assert next_step(LADDER, {250: False, 120: True, 180: True}, resolution=0.25) == 220
    assert next_step(LADDER, {250: False, 120: True, 220: True}, resolution=0.25) is None
    assert accounts_per_pod({250: False, 120: False, 60: True}) == (60, True)
    assert accounts_per_pod({250: False}) == (None, True)
    # A step carried above one that was not (noise) does not count.
    assert accounts_per_pod({500: True, 1_000: False, 1_500: True}) == (500, True)


def test_the_final_line_names_the_figure_the_threshold_and_the_target() -> None:
    line = verdict_line({1_000: True, 1_500: False}, 500, 0.5, 1.0)
    assert line == "accounts per pod at p99 lateness < 500 ms: 1,000   (target 2,000)"
    scaled = verdict_line({250: True, 500: False}, 500, 0.125, 0.25)
    assert "< 500 ms (scaled: < 125 ms at pace scale 0.25): 250" in scaled
    assert "none (fewer than 250)" in verdict_line({250: False}, 500, 0.5, 1.0)
    assert "3,000 or more" in verdict_line(dict.fromkeys(LADDER, True), 500, 0.5, 1.0)


def test_a_runs_figures_come_from_its_steady_window() -> None:
    # Four accounts at a 1 s gap, their first sends a quarter of a second apart (the launch's
    # burst); each keeps its drawn gap, but one send of account 2 goes out 0.3 s late.
    sends: dict[str, list[tuple[float, str]]] = {}
    for account in range(4):
        times = [account * 0.25 + n for n in range(20)]
        times[10:] = [t + 0.3 for t in times[10:]] if account == 2 else times[10:]
        sends[f"acc_{account}"] = [(t, f"m{account}_{n}") for n, t in enumerate(times)]
    gaps = {message: 1.0 for account_sends in sends.values() for _, message in account_sends}
    figures = run_figures(
        label="paced-4",
        accounts=4,
        messages=80,
        mean_gap_seconds=1.0,
        shortest_gap_seconds=0.5,
        sends=sends,
        gaps=gaps,
        published_at=0.0,
        duplicates=0,
        failures=0,
        gateway=GatewayCheck(0, 0, None),
        lateness_buckets=[(0.1, 76.0), (math.inf, 76.0)],
        resources=Resources(80.0, 90.0, {"sender": 0.5}, 20.0, 2.0),
    )
    # From the last first send (0.75 s) to the first last send (account 0's, at 19 s).
    assert figures.steady_seconds == pytest.approx(18.25)
    assert figures.rate == pytest.approx(4.0, rel=0.05)
    assert figures.demanded_rate == pytest.approx(4.0)
    # Every interval but those from accounts 0-2's first sends (before 0.75 s).
    assert figures.late_measured == 76 - 3
    assert figures.late_p50 == pytest.approx(0.0)
    assert figures.late_p99 == pytest.approx(0.3)
    assert figures.first_send_p99 == pytest.approx(0.75)
    assert (figures.intervals, figures.gaps_known, figures.early) == (76, 76, 0)
    assert step_verdict(figures, threshold_seconds=0.5) is Verdict.CARRIED
    assert step_verdict(figures, threshold_seconds=0.25) is Verdict.LATE


def test_what_limits_a_step_names_lateness_even_when_the_rate_kept_up() -> None:
    demand = 1_000 / 3.5
    on_time = step(1_000, rate=demand, late_p99=0.3)
    assert limits_text(on_time, cores=2, threshold_seconds=0.5) == (
        "the accounts' own pace (as designed)"
    )
    late = step(1_000, rate=demand, late_p99=0.7)
    assert limits_text(late, cores=2, threshold_seconds=0.5).startswith(
        "kept up with the demand, but p99 700 ms late; "
    )
    behind = step(1_000, rate=0.5 * demand, late_p99=3.0)
    assert "kept up" not in limits_text(behind, cores=2, threshold_seconds=0.5)
