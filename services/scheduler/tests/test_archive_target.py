"""HERALD_ARCHIVE_URL chooses the archive: a bucket for s3://, a directory for a path or
file:// URL, a refusal at start for anything else."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from herald_scheduler.archive_target import configured_archive
from herald_scheduler.message_archive import DirectoryArchive, UnsupportedArchiveUrl
from herald_scheduler.s3_archive import BucketPrefix, S3Archive
from herald_scheduler.settings import SchedulerSettings


def test_an_s3_url_names_a_bucket_and_a_prefix_and_the_api_shows_s3_locations() -> None:
    archive = configured_archive(
        SchedulerSettings(
            archive_url="s3://herald-archive/prod/runs/",
            archive_s3_endpoint_url="http://minio:9000",
            archive_s3_region="eu-west-1",
            archive_s3_access_key_id="key",
            archive_s3_secret_access_key=SecretStr("secret"),
            archive_s3_force_path_style=True,
        )
    )
    assert isinstance(archive, S3Archive)
    assert archive.target == BucketPrefix("herald-archive", "prod/runs")
    assert (
        archive.location("acme/cmp_1/run-2.jsonl.gz")
        == "s3://herald-archive/prod/runs/acme/cmp_1/run-2.jsonl.gz"
    )
    assert BucketPrefix.parse("s3://bucket").object_key("a/b") == "a/b"


def test_a_path_or_file_url_names_a_directory() -> None:
    for url in (".local/archive", "file:///var/lib/herald/archive"):
        archive = configured_archive(SchedulerSettings(archive_url=url))
        assert isinstance(archive, DirectoryArchive)
    archive = configured_archive(SchedulerSettings(archive_url="file:///var/lib/herald/archive"))
    assert isinstance(archive, DirectoryArchive)
    assert archive.root == Path("/var/lib/herald/archive")


@pytest.mark.parametrize("url", ["s3:///no-bucket", "gs://bucket/x", "s3://bucket/x?acl=public"])
def test_anything_else_is_refused_at_start(url: str) -> None:
    with pytest.raises(UnsupportedArchiveUrl):
        configured_archive(SchedulerSettings(archive_url=url))
