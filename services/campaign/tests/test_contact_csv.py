"""Reading contact lists in CSV: rows, line numbers, quoting, encodings, bad headers and rows."""

from __future__ import annotations

import pytest

from herald_campaign.domain.contact_csv import (
    MAX_ROW_CHARS,
    ContactCsvReader,
    CsvContact,
    CsvHeaderInvalid,
    CsvRejectedRow,
    CsvRow,
    CsvUnreadable,
)
from herald_campaign.domain.contacts import SubmittedContact


def read(data: bytes, chunk_size: int | None = None) -> list[CsvRow]:
    """Every row of ``data``, fed whole or in chunks of ``chunk_size`` bytes."""
    reader = ContactCsvReader()
    rows: list[CsvRow] = []
    size = chunk_size or max(len(data), 1)
    for start in range(0, len(data), size):
        rows += reader.feed(data[start : start + size])
    return rows + reader.finish()


def contact(line: int, phone: str, name: str | None = None, **fields: str) -> CsvContact:
    return CsvContact(line, SubmittedContact(phone=phone, name=name, fields=fields))


def test_rows_become_contacts_with_their_custom_fields() -> None:
    data = b"phone,name,city,plan\n+919876543210,John,Pune,gold\n+14155552671,Jane,,\n"
    assert read(data) == [
        contact(2, "+919876543210", "John", city="Pune", plan="gold"),
        contact(3, "+14155552671", "Jane"),
    ]


def test_header_names_phone_and_name_in_any_case_and_any_order() -> None:
    data = b"City, NAME ,Phone\nPune,John,+919876543210\n"
    assert read(data) == [contact(2, "+919876543210", "John", City="Pune")]


def test_only_a_phone_column() -> None:
    assert read(b"phone\n+919876543210\n") == [contact(2, "+919876543210")]


def test_values_are_trimmed_and_an_empty_name_is_none() -> None:
    assert read(b"phone,name,city\n  +919876543210 ,  , Pune \n") == [
        contact(2, "+919876543210", None, city="Pune")
    ]


def test_quoted_fields_hold_commas_quotes_and_line_breaks() -> None:
    data = (
        b"phone,name,note\n"
        b'+919876543210,"Doe, John","says ""hi"""\n'
        b'+14155552671,Jane,"line one\nline two\nline three"\n'
        b"+447911123456,Ada,plain\n"
    )
    assert read(data) == [
        contact(2, "+919876543210", "Doe, John", note='says "hi"'),
        contact(3, "+14155552671", "Jane", note="line one\nline two\nline three"),
        # The row after the three-line row starts on line 6, not 4.
        contact(6, "+447911123456", "Ada", note="plain"),
    ]


def test_crlf_line_ends_and_a_quoted_crlf() -> None:
    data = b'phone,name,note\r\n+919876543210,John,"a\r\nb"\r\n+14155552671,Jane,c\r\n'
    assert read(data) == [
        contact(2, "+919876543210", "John", note="a\r\nb"),
        contact(4, "+14155552671", "Jane", note="c"),
    ]


def test_no_line_break_at_the_end() -> None:
    assert read(b"phone,name\n+919876543210,John") == [contact(2, "+919876543210", "John")]


def test_a_byte_order_mark_is_skipped() -> None:
    data = "\ufeffphone,name\n+919876543210,Jöhn\n".encode()
    assert read(data) == [contact(2, "+919876543210", "Jöhn")]


def test_blank_lines_are_skipped_and_still_counted() -> None:
    data = b"\nphone,name\n\n+919876543210,John\n,\n\n+14155552671,Jane\n\n"
    assert read(data) == [
        contact(4, "+919876543210", "John"),
        contact(7, "+14155552671", "Jane"),
    ]


def test_rows_with_the_wrong_number_of_columns_are_rejected_not_fatal() -> None:
    data = b"phone,name,city\n+919876543210,John\n+14155552671,Jane,SF,extra\n+447911123456,A,L\n"
    assert read(data) == [
        CsvRejectedRow(2, "+919876543210", "expected 3 columns, found 2"),
        CsvRejectedRow(3, "+14155552671", "expected 3 columns, found 4"),
        contact(4, "+447911123456", "A", city="L"),
    ]


def test_a_row_without_a_phone_or_with_overlong_values_is_rejected() -> None:
    data = (
        b"phone,name,city\n"
        b",John,Pune\n"
        b"+919876543210," + b"n" * 201 + b",Pune\n"
        b"+14155552671,Jane," + b"c" * 1001 + b"\n"
    )
    assert read(data) == [
        CsvRejectedRow(2, "", "no phone number"),
        CsvRejectedRow(3, "+919876543210", "name longer than 200 characters"),
        CsvRejectedRow(4, "+14155552671", "city longer than 1000 characters"),
    ]


def test_any_chunking_reads_the_same() -> None:
    data = (
        "phone,name,note\r\n"
        '+919876543210,"Doe, John","multi\r\nline ""quoted"""\r\n'
        "+14155552671,Jöhn,ü\r\n"
        "+447911123456,short\r\n"
    ).encode()
    whole = read(data)
    assert len(whole) == 3
    for size in (1, 2, 3, 5, 7, 64):
        assert read(data, size) == whole


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (b"name,city\n", "no phone column"),
        (b"phone,first name\n", "column 2 'first name' cannot be used in a template"),
        (b"phone,1st\n", "column 2 '1st' cannot be used in a template"),
        (b"phone,city,\n", "column 3 has no name"),
        (b"phone,city,city\n", "column 3: 'city' appears twice"),
        (b"phone,Phone\n", "column 2: a second phone column"),
        (b"phone,name,Name\n", "column 3: a second name column"),
        (b"phone,na\xc3\xafve\n", "column 2 'na\u00efve' cannot be used in a template"),
    ],
)
def test_a_bad_header_is_refused_naming_the_column(header: bytes, problem: str) -> None:
    with pytest.raises(CsvHeaderInvalid) as refused:
        read(header + b"+919876543210,x,y\n")
    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_too_many_custom_fields() -> None:
    header = ",".join(["phone", *(f"f{i}" for i in range(51))]).encode() + b"\n"
    with pytest.raises(CsvHeaderInvalid) as refused:
        read(header)
    assert refused.value.problems == ["51 custom fields; at most 50"]


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\r\n", "\ufeff".encode(), b",,\n"])
def test_an_empty_file_has_no_header(data: bytes) -> None:
    with pytest.raises(CsvHeaderInvalid) as refused:
        read(data)
    assert refused.value.problems == [
        "the file is empty: its first row must be a header with a phone column"
    ]


def test_a_header_alone_is_an_empty_list() -> None:
    assert read(b"phone,name\n") == []


def test_undecodable_bytes_name_their_line() -> None:
    data = b"phone,name\n+919876543210,John\n+14155552671,J\xe9r\xf4me\n+447911123456,Ada\n"
    reader = ContactCsvReader()
    # The rows before the bad line come first; the next call raises.
    assert reader.feed(data) == [contact(2, "+919876543210", "John")]
    with pytest.raises(CsvUnreadable) as unreadable:
        reader.finish()
    assert unreadable.value.line == 3
    assert str(unreadable.value) == "line 3: not UTF-8 (byte 0xe9 at byte 15 of the line)"
    with pytest.raises(CsvUnreadable):
        reader.feed(b"+447911123456,Ada\n")


def test_a_bad_first_line_raises_at_once() -> None:
    with pytest.raises(CsvUnreadable) as unreadable:
        ContactCsvReader().feed(b"ph\xffone\n")
    assert unreadable.value.line == 1


def test_undecodable_bytes_inside_a_quoted_row_name_their_own_line() -> None:
    data = b'phone,note\n+919876543210,"ok\nstill \xff ok"\n'
    with pytest.raises(CsvUnreadable) as unreadable:
        read(data)
    assert unreadable.value.line == 3


def test_a_quote_left_open_is_rejected_at_the_end() -> None:
    data = b'phone,note\n+919876543210,fine\n+14155552671,"never closed\n+447911123456,x\n'
    assert read(data) == [
        contact(2, "+919876543210", note="fine"),
        CsvRejectedRow(3, "", "a quoted field is not closed (the row runs to the end)"),
    ]


def test_a_row_cannot_grow_without_bound() -> None:
    reader = ContactCsvReader()
    reader.feed(b'phone,note\n+919876543210,"open\n')
    with pytest.raises(CsvUnreadable) as unreadable:
        for _ in range(MAX_ROW_CHARS // 1000 + 2):
            reader.feed(b"x" * 999 + b"\n")
    assert unreadable.value.line == 2
    assert "runs past" in unreadable.value.problem


def test_a_line_cannot_grow_without_bound() -> None:
    reader = ContactCsvReader()
    reader.feed(b"phone\n")
    with pytest.raises(CsvUnreadable) as unreadable:
        for _ in range(MAX_ROW_CHARS * 4 // 1000 + 2):
            reader.feed(b"9" * 1000)
    assert unreadable.value.line == 2


def test_a_quote_inside_an_unquoted_field_is_text_as_csv_reads_it() -> None:
    data = b'phone,name\n+919876543210,6" tall\n+14155552671,Jane\n'
    assert read(data) == [
        contact(2, "+919876543210", '6" tall'),
        contact(3, "+14155552671", "Jane"),
    ]


def test_text_after_a_closing_quote_stays_in_its_row() -> None:
    data = b'phone,name\n+919876543210,"Jo"hn\n+14155552671,Jane\n'
    rows = read(data)
    assert [row.line for row in rows] == [2, 3]
