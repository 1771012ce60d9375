from __future__ import annotations

from herald_sender.partition_progress import PartitionProgress


def test_nothing_received_means_nothing_to_commit() -> None:
    assert PartitionProgress().commit_point() is None


def test_the_commit_point_waits_for_the_lowest_unfinished_offset() -> None:
    progress = PartitionProgress()
    for offset in (10, 11, 12, 13):
        progress.received(offset)
    progress.finished(12)
    progress.finished(11)
    assert progress.commit_point() == 10  # 10 still runs: a restart must read it again
    progress.finished(10)
    assert progress.commit_point() == 13
    assert progress.in_flight == 1
    progress.finished(13)
    assert progress.commit_point() == 14
    assert progress.in_flight == 0


def test_finishing_twice_or_unknown_offsets_changes_nothing() -> None:
    progress = PartitionProgress()
    progress.received(5)
    progress.received(6)
    progress.finished(6)
    progress.finished(6)
    progress.finished(99)
    assert progress.commit_point() == 5
    assert progress.in_flight == 1
