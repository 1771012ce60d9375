"""Archive files of campaign runs' messages: gzipped JSON Lines, one file per run, one message
document per line (datetimes as ISO 8601 strings).

One interface (:class:`RunArchive`), two targets chosen by ``HERALD_ARCHIVE_URL``
(:mod:`herald_scheduler.archive_target`): a directory (``file:///var/lib/herald/archive`` or a
plain path; :class:`DirectoryArchive`, here) or an S3-compatible bucket (``s3://bucket/prefix``;
:mod:`herald_scheduler.s3_archive`). Either way a run's file is complete, durable and verified
once :meth:`ArchiveWriter.commit` returns, and not visible under its name before; a run
archived again (a pass that stopped before its messages were deleted) writes the same name
again, replacing it.

In a directory, a file is written to ``<name>.partial``, flushed and fsynced, renamed, and its
directory fsynced.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote, unquote, urlparse

from herald_infra.mongo.client import Document


class UnsupportedArchiveUrl(ValueError):
    """``HERALD_ARCHIVE_URL`` names a target this build cannot write."""


class ArchiveWriteFailed(RuntimeError):
    """A run's file could not be written completely (or not verified once written); nothing of
    the run was deleted, and the next pass tries again."""


class ArchiveWriter(Protocol):
    """A run's file being written; :meth:`commit` makes it appear, :meth:`abort` drops it."""

    async def write(self, messages: Iterable[Document]) -> None: ...

    async def commit(self) -> None:
        """Complete, durable, verified and under its final name once this returns; else
        :class:`ArchiveWriteFailed` (or the I/O error)."""

    def abort(self) -> None: ...


class RunArchive(Protocol):
    """Where the runs' files go (a directory, a bucket), by each file's :func:`archive_key`."""

    def location(self, key: str) -> str:
        """What the API shows of a file: a ``file://`` or ``s3://`` URL."""

    def open(self, key: str) -> ArchiveWriter: ...

    async def exists(self, key: str) -> bool: ...

    def id_batches(self, key: str, size: int) -> Iterator[list[str]]:
        """The ``_id`` of every message in the file, ``size`` at a time (blocking: run it in
        a thread)."""


def archive_directory(url: str) -> Path:
    """The directory ``url`` names (``file:///abs/path``, or a path, relative to the working
    directory); :class:`UnsupportedArchiveUrl` for anything else."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise UnsupportedArchiveUrl(f"archive URL {url!r}: a file URL names no host")
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return Path(url)
    raise UnsupportedArchiveUrl(
        f"archive URL {url!r}: a directory (file:///path, or a path) or an S3-compatible "
        "bucket (s3://bucket/prefix) is expected (docs/retention.md)"
    )


def archive_key(tenant_id: str, campaign_id: str, run: int) -> str:
    """Where in the archive one run's file goes: ``<tenant>/<campaign>/run-<n>.jsonl.gz``
    (ids percent-encoded, so that no id can name another's file)."""
    return f"{quote(tenant_id, safe='')}/{quote(campaign_id, safe='')}/run-{run}.jsonl.gz"


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def message_line(message: Document) -> bytes:
    """One message as a line of the archive."""
    return (
        json.dumps(message, default=_json_value, ensure_ascii=False, separators=(",", ":")) + "\n"
    ).encode()


class GzipLinesWriter:
    """The gzipped lines of a run's file, written into ``raw`` (a file the subclass owns and
    publishes on commit)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._gzip = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0)

    async def write(self, messages: Iterable[Document]) -> None:
        data = b"".join(message_line(m) for m in messages)
        await asyncio.to_thread(self._gzip.write, data)

    def _finish(self) -> int:
        """Close the gzip stream and flush ``raw``; returns the file's size in bytes."""
        self._gzip.close()
        self._raw.flush()
        return self._raw.tell()

    def abort(self) -> None:
        self._gzip.close()
        self._raw.close()


class CompressedStream(Protocol):
    """What the archive's gzip is read from: a file, or an HTTP response's body (read from
    start to end: gzip seeks only to rewind)."""

    def read(self, size: int, /) -> bytes: ...

    def seek(self, offset: int, /) -> object: ...


def message_id_batches(compressed: CompressedStream, size: int) -> Iterator[list[str]]:
    """The ``_id`` of every message of a gzipped archive stream, ``size`` at a time."""
    batch: list[str] = []
    with io.TextIOWrapper(gzip.GzipFile(fileobj=compressed, mode="rb"), encoding="utf-8") as lines:
        for line in lines:
            message: dict[str, Any] = json.loads(line)
            batch.append(str(message["_id"]))
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


class ArchiveFile(GzipLinesWriter):
    """A run's file in a directory, written beside its final name until committed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._partial = path.with_name(path.name + ".partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(open(self._partial, "wb"))  # noqa: SIM115 (closed by commit/abort)

    async def commit(self) -> None:
        await asyncio.to_thread(self._commit)

    def _commit(self) -> None:
        self._finish()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self._partial, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def abort(self) -> None:
        super().abort()
        self._partial.unlink(missing_ok=True)


class DirectoryArchive:
    """Archive files in a directory (a local disk, or a volume mounted there)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def location(self, key: str) -> str:
        return (self.root / key).resolve().as_uri()

    def open(self, key: str) -> ArchiveFile:
        return ArchiveFile(self.root / key)

    async def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def id_batches(self, key: str, size: int) -> Iterator[list[str]]:
        with open(self.root / key, "rb") as compressed:
            yield from message_id_batches(compressed, size)


def read_archive_lines(compressed: CompressedStream) -> Iterator[dict[str, Any]]:
    """Every message of a gzipped archive stream, as its line's JSON object."""
    with io.TextIOWrapper(gzip.GzipFile(fileobj=compressed, mode="rb"), encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def read_archive(path: Path) -> Iterator[dict[str, Any]]:
    """Every message of an archive file, as its line's JSON object."""
    with open(path, "rb") as compressed:
        yield from read_archive_lines(compressed)
