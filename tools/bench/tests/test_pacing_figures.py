"""The pacing benchmark's arithmetic: lateness against reserved slots, rates, run sizes."""

from __future__ import annotations

import math

import pytest

from herald_bench.pacing_figures import (
    early_pairs,
    histogram_quantile,
    percentile,
    slot_lateness,
    steady_rate,
)
from herald_bench.pacing_setup import gap_seconds, messages_per_account


def test_a_send_is_late_against_its_accounts_previous_send_plus_the_gap() -> None:
    sends = {
        "acc_a": [(100.0, "m1"), (100.1, "m2"), (100.5, "m3")],  # on time, then 0.3 s late
        "acc_b": [(102.0, "m4")],  # its only send: 2 s after the publish
    }
    lateness = slot_lateness(sends, gap_seconds=0.1, published_at=100.0)
    assert sorted(lateness) == pytest.approx([0.0, 0.0, 0.3, 2.0])


def test_sends_closer_than_the_gap_are_early() -> None:
    sends = {"acc_a": [(10.0, "m1"), (10.05, "m2"), (10.2, "m3")]}
    assert early_pairs(sends, gap_seconds=0.1) == [("m1", "m2")]


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


def test_runs_are_sized_by_the_slower_of_the_pace_and_the_sender() -> None:
    gap = gap_seconds(0.1)
    assert gap == pytest.approx(0.1005)
    # 100 accounts could send 995/s; a sender doing 100/s needs 20 per account for 20 s.
    assert messages_per_account(100, gap, seconds=20, expected_rate=100) == 20
    # A fast sender: the accounts' own pace limits each to about 200 sends in 20 s.
    assert messages_per_account(100, gap, seconds=20, expected_rate=10_000) == 200
    # Ever so many accounts: still one each.
    assert messages_per_account(10_000, gap, seconds=20, expected_rate=100) == 1
    assert messages_per_account(100, 0.0, seconds=10, expected_rate=100) == 10
