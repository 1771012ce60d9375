from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from herald_core.contracts.common import CustomDelay, DelayType
from herald_core.pacing import PROFILES, PaceRange, pace_range


@pytest.mark.parametrize(
    ("delay_type", "bounds"),
    [(DelayType.FAST, (2, 5)), (DelayType.BALANCED, (5, 10)), (DelayType.SAFE, (10, 30))],
)
def test_each_profile_has_the_seed_range(delay_type: DelayType, bounds: tuple[int, int]) -> None:
    assert pace_range(delay_type) == PaceRange(*bounds)


def test_gaps_are_random_over_the_whole_range_never_a_fixed_interval() -> None:
    rng = random.Random(7)
    gaps = [PROFILES[DelayType.BALANCED].draw(rng) for _ in range(2000)]
    assert all(5 <= g <= 10 for g in gaps)
    assert len(set(gaps)) == len(gaps)
    # Spread over the range: each fifth of it gets a fair share.
    fifths = [sum(1 for g in gaps if 5 + i <= g < 6 + i) for i in range(5)]
    assert min(fifths) > 300, fifths


def test_the_scale_shortens_every_gap_proportionally() -> None:
    assert pace_range(DelayType.SAFE, scale=0.001) == PaceRange(0.01, 0.03)
    assert pace_range(DelayType.FAST, scale=0) == PaceRange(0, 0)


def test_a_custom_range_wins_over_the_profile() -> None:
    assert pace_range(DelayType.SAFE, (1, 2), scale=2) == PaceRange(2, 4)


@pytest.mark.parametrize("bounds", [(-1, 2), (3, 2)])
def test_a_range_must_run_upwards_from_zero(bounds: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="min <= max"):
        PaceRange(*bounds)


def test_a_custom_delay_must_be_a_range_of_at_least_a_second() -> None:
    assert CustomDelay(min_seconds=3, max_seconds=4).bounds() == (3, 4)
    for low, high in [(5, 5), (6, 5), (0.5, 2)]:
        with pytest.raises(ValidationError):
            CustomDelay(min_seconds=low, max_seconds=high)
