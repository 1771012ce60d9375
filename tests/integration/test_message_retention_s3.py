"""Retention to an S3-compatible bucket: moto's S3 server as a real HTTP endpoint on a free
port, the real Kafka broker and MongoDB-wire server. The run's messages become one gzipped JSON
Lines object, ``<prefix>/<tenant>/<campaign>/run-<n>.jsonl.gz``, holding every message, and are
deleted only then; an upload that fails deletes nothing, the scheduler's firing of the job says
why, and a later run of the job archives the run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from herald_core.contracts.common import utc_now
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_core.schedules import ScheduleKind, system_schedule_id
from herald_devstack.waiting import eventually
from herald_scheduler.actions import ScheduleActions
from herald_scheduler.archive_target import configured_archive
from herald_scheduler.firing_loop import FiringLoop
from herald_scheduler.lease import LeaderLease, LeaseStatus
from herald_scheduler.message_archive import read_archive_lines
from herald_scheduler.redrive import ScheduledRedrive
from herald_scheduler.replica import SchedulerReplica
from herald_scheduler.s3_archive import S3Archive
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.sweep import Sweep
from herald_scheduler.system_jobs import configured_system_jobs
from tests.integration.retention_stack import (
    TENANT,
    Stack,
    answers,
    as_archived,
    by_id,
    ended_campaign,
    retention_job,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

PREFIX = "herald/archive"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 API served over HTTP on a free loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def archive_settings(endpoint: str, bucket: str) -> SchedulerSettings:
    """The scheduler's settings for a MinIO-like bucket, as an operator writes them."""
    return SchedulerSettings(
        archive_url=f"s3://{bucket}/{PREFIX}/",
        archive_s3_endpoint_url=endpoint,
        archive_s3_region=REGION,
        archive_s3_access_key_id="herald-archive",
        archive_s3_secret_access_key=SecretStr("herald-archive-secret"),
        archive_s3_force_path_style=True,
    )


def bucket_client(endpoint: str) -> S3Client:
    """A client of the test's own, as someone reading the archive would use."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="reader",
        aws_secret_access_key="reader-secret",
    )


def new_bucket() -> str:
    return f"herald-archive-{uuid.uuid4().hex[:10]}"


def object_lines(client: S3Client, bucket: str, key: str) -> list[dict[str, Any]]:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        return list(read_archive_lines(body))
    finally:
        body.close()


async def test_an_archived_run_is_one_object_in_the_bucket_holding_every_message(
    stack: Stack, s3_endpoint: str
) -> None:
    bucket = new_bucket()
    client = bucket_client(s3_endpoint)
    client.create_bucket(Bucket=bucket)
    archive = configured_archive(archive_settings(s3_endpoint, bucket))
    assert isinstance(archive, S3Archive)
    campaign_id, messages = await ended_campaign(stack)
    before = await answers(stack, campaign_id)
    assert before["stats"]["total"] == 4 and before["listed"]["archive"] is None

    report = await retention_job(stack, archive).run()

    assert report.archived_runs == [f"{campaign_id}|1"] and report.archived_messages == 4
    assert await stack.db["messages"].count_documents({"campaignId": campaign_id}) == 0
    after = await answers(stack, campaign_id)
    assert after["stats"] == before["stats"] and after["dead"] == before["dead"]
    key = f"{PREFIX}/{TENANT}/{campaign_id}/run-1.jsonl.gz"
    assert after["listed"]["archive"]["location"] == f"s3://{bucket}/{key}"
    listed = client.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed.get("Contents", [])] == [key]
    assert by_id(object_lines(client, bucket, key)) == as_archived(messages)
    again = await retention_job(stack, archive).run()
    assert again.archived_runs == [] and again.left_for_later == []


async def firing_outcomes(stack: Stack, schedule_id: str) -> list[tuple[str, str]]:
    firings = stack.db["schedule_firings"].find({"scheduleId": schedule_id, "state": "done"})
    return [(f["outcome"], f["detail"]) async for f in firings.sort("scheduledFor", 1)]


async def test_a_failed_upload_deletes_nothing_and_a_later_run_of_the_job_archives(
    stack: Stack, s3_endpoint: str
) -> None:
    bucket = new_bucket()  # not created yet: every upload fails with NoSuchBucket
    settings = archive_settings(s3_endpoint, bucket)
    campaign_id, messages = await ended_campaign(stack)
    before = await answers(stack, campaign_id)
    # The scheduler as the service wires it, its retention job writing to the bucket.
    actions = ScheduleActions(
        stack.broker,
        sweep=Sweep(stack.db, stack.broker, settings),
        redrive=ScheduledRedrive(
            stack.db, stack.broker, first_topic=MESSAGE_SEND_PRIMARY, batch_size=10
        ),
        retention=retention_job(stack, configured_archive(settings)),
    )
    lease = LeaderLease(stack.db, "replica-retention", lease_seconds=600)
    assert await lease.try_hold() is LeaseStatus.ACQUIRED
    loop = FiringLoop(stack.db, lease, actions, tick_seconds=0.05, abandon_after_seconds=60)
    [job] = [j for j in configured_system_jobs(settings) if j.kind is ScheduleKind.RETENTION]
    replica = SchedulerReplica(stack.db, lease, loop, system_jobs=[job])
    schedule_id = system_schedule_id(ScheduleKind.RETENTION)
    await replica.start()
    try:
        await stack.db["schedules"].update_one(
            {"_id": schedule_id}, {"$set": {"runRequestedAt": utc_now()}}
        )
        [(outcome, detail)] = await eventually(
            lambda: firing_outcomes(stack, schedule_id),
            lambda found: len(found) == 1,
            timeout=60,
            what="the retention job's first firing",
        )
        assert outcome == "failed" and "NoSuchBucket" in detail, detail
        assert f"s3://{bucket}/{PREFIX}/{TENANT}/{campaign_id}/run-1.jsonl.gz" in detail
        assert await stack.db["messages"].count_documents({"campaignId": campaign_id}) == 4
        written = {"campaignId": campaign_id, "location": {"$exists": True}}
        assert await stack.db["campaign_runs"].count_documents(written) == 0
        assert await answers(stack, campaign_id) == before

        bucket_client(s3_endpoint).create_bucket(Bucket=bucket)
        await stack.db["schedules"].update_one(
            {"_id": schedule_id}, {"$set": {"runRequestedAt": utc_now()}}
        )
        outcomes = await eventually(
            lambda: firing_outcomes(stack, schedule_id),
            lambda found: len(found) == 2,
            timeout=60,
            what="the retention job's second firing",
        )
    finally:
        await replica.stop()
    assert outcomes[1][0] == "done" and "runs archived 1" in outcomes[1][1], outcomes
    assert await stack.db["messages"].count_documents({"campaignId": campaign_id}) == 0
    after = await answers(stack, campaign_id)
    assert after["stats"] == before["stats"] and after["listed"]["archive"]["messages"] == 4
    key = f"{PREFIX}/{TENANT}/{campaign_id}/run-1.jsonl.gz"
    assert by_id(object_lines(bucket_client(s3_endpoint), bucket, key)) == as_archived(messages)


async def test_a_big_run_goes_up_in_parts_and_reads_back_whole(s3_endpoint: str) -> None:
    """A run whose gzip passes boto3's multipart threshold (8 MiB) is one multipart object;
    rewriting it replaces it, and its ids read back complete."""
    bucket = new_bucket()
    client = bucket_client(s3_endpoint)
    client.create_bucket(Bucket=bucket)
    archive = configured_archive(archive_settings(s3_endpoint, bucket))
    key = f"{TENANT}/cmp_big/run-1.jsonl.gz"
    # Bodies that do not compress, so that the gzip is bigger than the threshold.
    messages = [{"_id": f"msg_{n}", "body": os.urandom(150).hex()} for n in range(60_000)]
    for _ in range(2):  # the second write is a retry: same key, replaced
        upload = archive.open(key)
        for start in range(0, len(messages), 5_000):
            await upload.write(messages[start : start + 5_000])
        await upload.commit()
    stored = client.head_object(Bucket=bucket, Key=f"{PREFIX}/{key}")
    assert stored["ContentLength"] > 8 * 2**20 and "-" in stored["ETag"], stored  # multipart
    assert await archive.exists(key)
    assert not await archive.exists(f"{TENANT}/cmp_big/run-2.jsonl.gz")
    ids = [i for batch in archive.id_batches(key, 7_000) for i in batch]
    assert ids == [m["_id"] for m in messages]
