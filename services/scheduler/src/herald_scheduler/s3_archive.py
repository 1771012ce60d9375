"""Archive files in an S3-compatible bucket (AWS S3, MinIO, Ceph, Cloudflare R2, …) through boto3.

A run's object is ``<prefix>/<tenant>/<campaign>/run-<n>.jsonl.gz``. Its gzip is written to a
temporary file first (never the whole run in memory), then uploaded as one object: a single
PUT when small, a multipart upload when big (boto3's ``upload_fileobj`` decides; S3 shows a
multipart object only once it is completed, so a half-written object never appears). The
upload is then checked by a HEAD: the object must be there with the file's size, or nothing
of the run is deleted. An object written again (a pass that stopped before deleting) replaces
the earlier one.

boto3 blocks, so every call runs in a thread.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from herald_scheduler.message_archive import (
    ArchiveWriteFailed,
    GzipLinesWriter,
    UnsupportedArchiveUrl,
    message_id_batches,
)
from herald_scheduler.settings import SchedulerSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

S3_SCHEME = "s3"
_MISSING = {"404", "NoSuchKey", "NotFound"}
_UPLOAD_ERRORS = (BotoCoreError, ClientError, Boto3Error, OSError)


@dataclass(frozen=True)
class BucketPrefix:
    """Where ``s3://bucket/prefix`` points: a bucket, and a key prefix without slashes around."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> BucketPrefix:
        parsed = urlparse(url)
        if parsed.scheme != S3_SCHEME or not parsed.netloc:
            raise UnsupportedArchiveUrl(f"archive URL {url!r}: expected s3://bucket/prefix")
        if parsed.query or parsed.fragment:
            raise UnsupportedArchiveUrl(f"archive URL {url!r}: an S3 URL takes no query")
        return cls(parsed.netloc, parsed.path.strip("/"))

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key


def s3_client(settings: SchedulerSettings) -> S3Client:
    """A client for the archive's bucket. A setting left unset falls back to what boto3 reads
    itself (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
    ``AWS_REGION``, ``AWS_ENDPOINT_URL_S3``, ``AWS_PROFILE``, a web identity or instance role)."""
    # An empty setting (compose's ``${VAR:-}``) is an unset one.
    secret = settings.archive_s3_secret_access_key
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.archive_s3_endpoint_url or None,
        region_name=settings.archive_s3_region or None,
        aws_access_key_id=settings.archive_s3_access_key_id or None,
        aws_secret_access_key=(secret.get_secret_value() or None) if secret else None,
        config=Config(
            s3={"addressing_style": "path" if settings.archive_s3_force_path_style else "auto"},
            retries={"mode": "standard"},
        ),
    )


class S3ArchiveUpload(GzipLinesWriter):
    """A run's object being written: gzip into a temporary file, uploaded and checked on
    commit."""

    def __init__(self, client: S3Client, bucket: str, object_key: str) -> None:
        self._client, self._bucket, self._key = client, bucket, object_key
        # Closed by commit or abort; in TMPDIR (the pod's /tmp volume must hold a run's gzip).
        staged = tempfile.TemporaryFile(prefix="herald-archive-", suffix=".jsonl.gz")  # noqa: SIM115
        super().__init__(staged)

    async def commit(self) -> None:
        await asyncio.to_thread(self._upload)

    def _upload(self) -> None:
        location = f"s3://{self._bucket}/{self._key}"
        try:
            size = self._finish()
            self._raw.seek(0)
            self._client.upload_fileobj(
                self._raw,
                self._bucket,
                self._key,
                ExtraArgs={"ContentType": "application/gzip"},
            )
            stored = self._client.head_object(Bucket=self._bucket, Key=self._key)
        except _UPLOAD_ERRORS as error:
            raise ArchiveWriteFailed(f"archive {location} not written: {error}") from error
        finally:
            self._raw.close()
        if stored["ContentLength"] != size:
            raise ArchiveWriteFailed(
                f"archive {location} holds {stored['ContentLength']} bytes, {size} were uploaded"
            )


class S3Archive:
    """Archive files as objects of an S3-compatible bucket, under a key prefix."""

    def __init__(self, client: S3Client, target: BucketPrefix) -> None:
        self._client = client
        self.target = target

    def location(self, key: str) -> str:
        return f"s3://{self.target.bucket}/{self.target.object_key(key)}"

    def open(self, key: str) -> S3ArchiveUpload:
        return S3ArchiveUpload(self._client, self.target.bucket, self.target.object_key(key))

    async def exists(self, key: str) -> bool:
        try:
            await asyncio.to_thread(
                self._client.head_object,
                Bucket=self.target.bucket,
                Key=self.target.object_key(key),
            )
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in _MISSING:
                return False
            raise
        return True

    def id_batches(self, key: str, size: int) -> Iterator[list[str]]:
        body = self._client.get_object(Bucket=self.target.bucket, Key=self.target.object_key(key))[
            "Body"
        ]
        try:
            yield from message_id_batches(body, size)
        finally:
            body.close()
