"""Counting an export's records as its bytes stream past agrees with Python's CSV reader,
however the stream is cut into chunks."""

from __future__ import annotations

import csv
import io

import pytest

from herald_cli.csv_records import CsvRecordCounter

EXPORT = (
    b"phone,reason,suppressedAt,keyword,campaignId\n"
    b'+14155550100,keyword,2026-11-29T21:06:03+00:00,"Stop\nplease",cmp_1\n'
    b'+14155550101,keyword,2026-11-29T21:07:00+00:00,"say ""STOP""",cmp_1\r\n'
    b"+14155550102,manual,2026-11-30T08:00:00+00:00,,\n"
)


def records_read_by_csv(data: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(data.decode(), newline="")))


def counted(*chunks: bytes) -> int:
    counter = CsvRecordCounter()
    for chunk in chunks:
        counter.feed(chunk)
    return counter.records


def test_a_newline_inside_quotes_and_doubled_quotes_do_not_end_a_record() -> None:
    assert records_read_by_csv(EXPORT) == 4
    assert counted(EXPORT) == 4


def test_every_cut_of_the_stream_counts_the_same() -> None:
    for cut in range(len(EXPORT) + 1):
        assert counted(EXPORT[:cut], EXPORT[cut:]) == 4, cut
    assert counted(*(EXPORT[i : i + 1] for i in range(len(EXPORT)))) == 4


@pytest.mark.parametrize(
    ("data", "records"),
    [
        (b"", 0),
        (b"phone,reason\n", 1),
        (b"phone,reason\n+14155550100,manual", 2),  # no newline after the last record
        (b'phone\n"+1415\n5550100"', 2),
    ],
)
def test_the_last_record_counts_with_or_without_a_newline(data: bytes, records: int) -> None:
    assert records_read_by_csv(data) == records
    assert counted(data) == records
