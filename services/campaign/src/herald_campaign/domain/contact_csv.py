"""A contact list in CSV, read as it arrives: bytes in, one outcome per row out. Pure; no I/O.

The format: UTF-8 (a byte-order mark is fine), LF or CRLF line ends, RFC 4180 quoting (a quoted
field may hold commas, line breaks and doubled quotes). The first row is the header: ``phone``
(required) and ``name`` (optional), in any letter case, and any other column is a custom field
a message template can use, so its name must be one (``city``, ``first_name``). Blank rows are
skipped. Each row becomes a contact, or a rejection with the physical line it starts on and the
reason (wrong number of columns, no phone, an overlong value). A line that cannot be read
(bytes that are not UTF-8, a row running past :data:`MAX_ROW_CHARS`) raises
:class:`CsvUnreadable` naming it, once every row before it has been returned; a header that
cannot be used raises :class:`CsvHeaderInvalid`.

:class:`ContactCsvReader` keeps at most one unfinished row between calls, so a file of any size
is read in constant memory.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import Enum

from herald_campaign.domain.contacts import SubmittedContact
from herald_core.templates import FIELD_NAME

MAX_CUSTOM_FIELDS = 50
MAX_FIELD_NAME_LENGTH = 64
MAX_NAME_LENGTH = 200
MAX_VALUE_LENGTH = 1000
MAX_ROW_CHARS = 64 * 1024
"""A row (all of its lines) may be this long; a quote left open would otherwise swallow the
rest of the file."""

PHONE_COLUMN = "phone"
NAME_COLUMN = "name"


class CsvHeaderInvalid(ValueError):
    """The header row cannot be used; ``problems`` says why, one sentence per column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class CsvUnreadable(ValueError):
    """The file cannot be read past ``line`` (1-based, physical)."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class CsvContact:
    """A row that is a contact (its phone not checked yet); ``line`` is where it starts."""

    line: int
    contact: SubmittedContact


@dataclass(frozen=True)
class CsvRejectedRow:
    line: int
    phone: str
    reason: str


CsvRow = CsvContact | CsvRejectedRow


@dataclass(frozen=True)
class CsvHeader:
    """Where each column of a contact list goes."""

    width: int
    phone: int
    name: int | None
    fields: tuple[tuple[str, int], ...]
    """Custom field names and their column."""


def read_header(cells: list[str]) -> CsvHeader:
    """The columns of a header row; raises :class:`CsvHeaderInvalid` with every problem."""
    problems: list[str] = []
    phone: int | None = None
    name: int | None = None
    fields: list[tuple[str, int]] = []
    for index, raw in enumerate(cells):
        title = raw.strip()
        column = f"column {index + 1}"
        if title.lower() == PHONE_COLUMN:
            if phone is not None:
                problems.append(f"{column}: a second phone column")
            phone = index
        elif title.lower() == NAME_COLUMN:
            if name is not None:
                problems.append(f"{column}: a second name column")
            name = index
        elif not title:
            problems.append(f"{column} has no name")
        elif not FIELD_NAME.fullmatch(title):
            problems.append(
                f"{column} {title!r} cannot be used in a template: name it with letters, digits"
                " and _, not starting with a digit"
            )
        elif len(title) > MAX_FIELD_NAME_LENGTH:
            problems.append(f"{column} {title[:20]!r}… is longer than {MAX_FIELD_NAME_LENGTH}")
        elif any(title == known for known, _ in fields):
            problems.append(f"{column}: {title!r} appears twice")
        else:
            fields.append((title, index))
    if phone is None:
        problems.append("no phone column: the first row must be a header naming one")
    if len(fields) > MAX_CUSTOM_FIELDS:
        problems.append(f"{len(fields)} custom fields; at most {MAX_CUSTOM_FIELDS}")
    if problems or phone is None:
        raise CsvHeaderInvalid(problems)
    return CsvHeader(width=len(cells), phone=phone, name=name, fields=tuple(fields))


def read_row(header: CsvHeader, cells: list[str], line: int) -> CsvRow:
    """One data row as a contact or a rejection. Values are trimmed; an empty custom field is
    left out (a template shows its default either way)."""
    phone = cells[header.phone].strip() if header.phone < len(cells) else ""
    if len(cells) != header.width:
        return CsvRejectedRow(line, phone, f"expected {header.width} columns, found {len(cells)}")
    if not phone:
        return CsvRejectedRow(line, phone, "no phone number")
    name = cells[header.name].strip() if header.name is not None else ""
    if len(name) > MAX_NAME_LENGTH:
        return CsvRejectedRow(line, phone, f"name longer than {MAX_NAME_LENGTH} characters")
    fields: dict[str, str] = {}
    for field, column in header.fields:
        value = cells[column].strip()
        if len(value) > MAX_VALUE_LENGTH:
            return CsvRejectedRow(line, phone, f"{field} longer than {MAX_VALUE_LENGTH} characters")
        if value:
            fields[field] = value
    return CsvContact(line, SubmittedContact(phone=phone, name=name or None, fields=fields))


class _Quoting(Enum):
    """Where a row's text stands, as Python's csv module (excel dialect) reads it."""

    FIELD_START = 1
    UNQUOTED = 2
    QUOTED = 3
    QUOTE_IN_QUOTED = 4
    """A quote inside a quoted field: it closes the field, or doubles into a literal quote."""


def _quoting_after(text: str, state: _Quoting) -> _Quoting:
    """The quoting state after ``text`` (one line without its line break)."""
    for char in text:
        if state is _Quoting.QUOTED:
            if char == '"':
                state = _Quoting.QUOTE_IN_QUOTED
        elif state is _Quoting.QUOTE_IN_QUOTED:
            if char == '"':
                state = _Quoting.QUOTED
            elif char == ",":
                state = _Quoting.FIELD_START
            else:
                state = _Quoting.UNQUOTED
        elif state is _Quoting.FIELD_START:
            if char == '"':
                state = _Quoting.QUOTED
            elif char != ",":
                state = _Quoting.UNQUOTED
        elif char == ",":
            state = _Quoting.FIELD_START
    return state


class CsvRowSplitter:
    """Cuts a byte stream into rows: ``(first line, text)``, a quoted line break kept inside
    its row. Decodes line by line, so an undecodable byte is reported on its own line."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._line = 0
        self._row: list[str] = []
        self._row_start = 0
        self._row_chars = 0
        self._quoting = _Quoting.FIELD_START
        self._failure: CsvUnreadable | None = None

    def feed(self, chunk: bytes) -> list[tuple[int, str]]:
        """The rows completed by ``chunk``. At a line that cannot be read, the rows before it
        are returned and this call or the next raises :class:`CsvUnreadable`."""
        if self._failure is not None:
            raise self._failure
        self._pending += chunk
        end = self._pending.rfind(b"\n")
        if end == -1:
            if len(self._pending) > MAX_ROW_CHARS * 4:
                raise CsvUnreadable(
                    self._line + 1, f"the line runs past {MAX_ROW_CHARS} characters"
                )
            return []
        complete = bytes(self._pending[: end + 1])
        del self._pending[: end + 1]
        rows: list[tuple[int, str]] = []
        # Only \n ends a line: 0x0a is never part of a multi-byte UTF-8 character.
        try:
            for raw in complete.split(b"\n")[:-1]:
                self._take_line(raw + b"\n", rows)
        except CsvUnreadable as failure:
            if not rows:
                raise
            self._failure = failure
        return rows

    def finish(self) -> tuple[list[tuple[int, str]], int | None]:
        """The last rows, and the line of a row whose quoted field never closed (or None)."""
        if self._failure is not None:
            raise self._failure
        rows: list[tuple[int, str]] = []
        if self._pending:
            self._take_line(bytes(self._pending), rows)
            self._pending.clear()
        unclosed = self._row_start if self._row else None
        self._row = []
        return rows, unclosed

    def _take_line(self, raw: bytes, rows: list[tuple[int, str]]) -> None:
        self._line += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CsvUnreadable(
                self._line,
                f"not UTF-8 (byte 0x{raw[error.start]:02x} at byte {error.start + 1} of the line)",
            ) from None
        if self._line == 1:
            text = text.removeprefix("\ufeff")
        if not self._row:
            self._row_start = self._line
            self._row_chars = 0
        self._row_chars += len(text)
        if self._row_chars > MAX_ROW_CHARS:
            raise CsvUnreadable(
                self._row_start,
                f"the row runs past {MAX_ROW_CHARS} characters (is a quote left open?)",
            )
        if not self._row and '"' not in text:
            rows.append((self._line, text))
            return
        self._row.append(text)
        self._quoting = _quoting_after(text.rstrip("\r\n"), self._quoting)
        if self._quoting is not _Quoting.QUOTED:
            rows.append((self._row_start, "".join(self._row)))
            self._row = []
            self._quoting = _Quoting.FIELD_START


class ContactCsvReader:
    """Reads a contact list fed in chunks of bytes; each call returns the rows it completed."""

    def __init__(self) -> None:
        self._rows = CsvRowSplitter()
        self._header: CsvHeader | None = None

    @property
    def header(self) -> CsvHeader | None:
        return self._header

    def feed(self, chunk: bytes) -> list[CsvRow]:
        return self._read(self._rows.feed(chunk))

    def finish(self) -> list[CsvRow]:
        """The last rows; raises :class:`CsvHeaderInvalid` if the file had no header."""
        rows, unclosed = self._rows.finish()
        read = self._read(rows)
        if unclosed is not None and self._header is not None:
            read.append(
                CsvRejectedRow(
                    unclosed, "", "a quoted field is not closed (the row runs to the end)"
                )
            )
        if self._header is None:
            raise CsvHeaderInvalid(
                ["the file is empty: its first row must be a header with a phone column"]
            )
        return read

    def _read(self, rows: list[tuple[int, str]]) -> list[CsvRow]:
        read: list[CsvRow] = []
        for line, text in rows:
            try:
                cells = next(csv.reader((text,)), [])
            except csv.Error as error:
                if self._header is None:
                    raise CsvHeaderInvalid([f"the header row cannot be read: {error}"]) from None
                read.append(CsvRejectedRow(line, "", f"unreadable row: {error}"))
                continue
            if not any(cell.strip() for cell in cells):
                continue
            if self._header is None:
                self._header = read_header(cells)
            else:
                read.append(read_row(self._header, cells, line))
        return read
