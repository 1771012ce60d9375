"""The archive ``HERALD_ARCHIVE_URL`` names: an S3-compatible bucket for ``s3://bucket/prefix``,
else a directory (``file:///path`` or a path). Anything else is refused at start, before the
retention job could delete messages it cannot archive."""

from __future__ import annotations

from urllib.parse import urlparse

from herald_scheduler.message_archive import DirectoryArchive, RunArchive, archive_directory
from herald_scheduler.s3_archive import S3_SCHEME, BucketPrefix, S3Archive, s3_client
from herald_scheduler.settings import SchedulerSettings


def configured_archive(settings: SchedulerSettings) -> RunArchive:
    url = settings.archive_url
    if urlparse(url).scheme == S3_SCHEME:
        return S3Archive(s3_client(settings), BucketPrefix.parse(url))
    return DirectoryArchive(archive_directory(url))
