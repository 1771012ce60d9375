"""Counting the records of a CSV file as its bytes stream past, without keeping them. Pure."""

from __future__ import annotations


class CsvRecordCounter:
    """Records of a CSV stream fed chunk by chunk. A newline ends a record unless it is inside
    a quoted field (a message text may hold one); a doubled quote inside a field toggles the
    quoting twice, so it changes nothing."""

    def __init__(self) -> None:
        self._ended = 0
        self._in_quotes = False
        self._record_started = False

    def feed(self, chunk: bytes) -> None:
        # Split on quotes: the pieces alternate outside and inside a quoted field, and only
        # newlines outside count. Whole pieces are counted in C, not byte by byte.
        pieces = chunk.split(b'"')
        for index, piece in enumerate(pieces):
            if index:
                self._in_quotes = not self._in_quotes
                self._record_started = True
            if self._in_quotes or not piece:
                self._record_started = self._record_started or bool(piece)
                continue
            newlines = piece.count(b"\n")
            self._ended += newlines
            if newlines:
                self._record_started = not piece.endswith(b"\n")
            else:
                self._record_started = True

    @property
    def records(self) -> int:
        """Records so far, the last one counted even without a newline after it."""
        return self._ended + (1 if self._record_started else 0)
