"""How a fan-out cuts a campaign into batches. Pure."""

from __future__ import annotations

import itertools

from herald_dispatcher.fan_out import batch_sizes


def test_a_fan_out_starts_small_and_doubles_up_to_the_batch_size() -> None:
    # The first messages reach the senders within moments; then full batches.
    assert list(itertools.islice(batch_sizes(500), 7)) == [50, 100, 200, 400, 500, 500, 500]


def test_a_batch_size_below_the_first_batch_is_kept() -> None:
    assert list(itertools.islice(batch_sizes(20), 3)) == [20, 20, 20]
