"""The CSV files commands send and receive: a file, or standard input or output for ``-``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from herald_cli.csv_records import CsvRecordCounter
from herald_cli.session import NoSuchFile

STANDARD_STREAM = "-"


def open_csv(name: str, stack: ExitStack) -> tuple[IO[bytes], str]:
    """The CSV to send and what to call it: a file, or standard input for ``-``."""
    if name == STANDARD_STREAM:
        return sys.stdin.buffer, "standard input"
    path = Path(name)
    if not path.is_file():
        raise NoSuchFile(name)
    return stack.enter_context(path.open("rb")), path.name


def save_csv(chunks: Iterable[bytes], name: str) -> int:
    """Write a downloaded CSV as it arrives, each chunk flushed: to standard output for ``-``,
    else to the file ``name``, which only appears (or is replaced) once the download ended
    well: one cut short leaves no half a file, and an earlier file as it was. Returns the
    records written (the header is one)."""
    # Not a @contextmanager: the API's errors are frozen dataclasses, and a contextmanager
    # that re-raises one sets its __traceback__.
    counter = CsvRecordCounter()
    if name == STANDARD_STREAM:
        sys.stdout.flush()
        _copy(chunks, sys.stdout.buffer, counter)
        return counter.records
    path = Path(name)
    partial = path.with_name(f".{path.name}.part")
    try:
        with partial.open("wb") as file:
            _copy(chunks, file, counter)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return counter.records


def _copy(chunks: Iterable[bytes], destination: IO[bytes], counter: CsvRecordCounter) -> None:
    for chunk in chunks:
        destination.write(chunk)
        destination.flush()
        counter.feed(chunk)
