from herald_dispatcher.waiting_partitions import WaitingPartitions, is_due, seconds_until


def test_a_record_is_due_from_its_due_millisecond_on() -> None:
    assert not is_due(due_ms=1_000, now_ms=999)
    assert is_due(due_ms=1_000, now_ms=1_000)
    assert is_due(due_ms=1_000, now_ms=5_000)


def test_a_record_not_due_waits_the_rest_of_its_delay_and_a_due_one_not_at_all() -> None:
    assert seconds_until(due_ms=3_500, now_ms=1_000) == 2.5
    assert seconds_until(due_ms=1_000, now_ms=1_000) == 0
    assert seconds_until(due_ms=1_000, now_ms=9_000) == 0


def test_records_behind_the_awaited_one_are_rewound_to_it_never_forward() -> None:
    waiting: WaitingPartitions[str] = WaitingPartitions()
    waiting.wait_at("retry-0", 41)
    assert waiting.rewind_offset("retry-0", 42) == 41
    assert waiting.rewind_offset("retry-0", 90) == 41
    # The awaited record itself, or one before it (redelivered after a rebalance), is handled.
    assert waiting.rewind_offset("retry-0", 41) is None
    assert waiting.rewind_offset("retry-0", 7) is None
    # Other partitions flow.
    assert waiting.rewind_offset("retry-1", 500) is None


def test_a_partition_stops_waiting_when_its_record_comes_back() -> None:
    waiting: WaitingPartitions[str] = WaitingPartitions()
    waiting.wait_at("retry-0", 41)
    waiting.stop_waiting("retry-0")
    assert "retry-0" not in waiting
    assert waiting.rewind_offset("retry-0", 42) is None


def test_partitions_taken_by_a_rebalance_are_forgotten() -> None:
    waiting: WaitingPartitions[str] = WaitingPartitions()
    waiting.wait_at("retry-0", 41)
    waiting.wait_at("retry-1", 8)
    waiting.forget(["retry-0"])
    assert "retry-0" not in waiting
    assert waiting.rewind_offset("retry-1", 9) == 8
