"""Retention across the campaign service and the scheduler, on the real Kafka broker and
MongoDB-wire server: a campaign run that ended longer ago than its tenant's retention (0 days
here) has its messages archived to a gzipped JSON Lines file and deleted, and its statistics,
its place in the campaign list and its dead letters still answer, as before, over the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from herald_scheduler.message_archive import DirectoryArchive, read_archive
from herald_scheduler.retention import MessageRetention
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.sweep import Sweep
from tests.integration.retention_stack import (
    TENANT,
    Stack,
    answers,
    as_archived,
    by_id,
    ended_campaign,
    retention_job,
)

pytestmark = pytest.mark.integration


def retention(stack: Stack, root: Path) -> MessageRetention:
    return retention_job(stack, DirectoryArchive(root))


def archived_lines(location: str) -> list[dict[str, Any]]:
    path = Path(urlparse(location).path)
    assert path.name == "run-1.jsonl.gz" and not path.with_name(path.name + ".partial").exists()
    return list(read_archive(path))


async def test_an_archived_run_keeps_its_stats_list_entry_and_dead_letters(
    stack: Stack, tmp_path: Path
) -> None:
    campaign_id, messages = await ended_campaign(stack)
    before = await answers(stack, campaign_id)
    assert before["stats"]["total"] == 4 and before["stats"]["notOnWhatsapp"] == 1
    assert len(before["dead"]) == 1 and before["listed"]["archive"] is None

    report = await retention(stack, tmp_path).run()

    assert report.archived_runs == [f"{campaign_id}|1"] and report.archived_messages == 4
    left = await stack.db["messages"].count_documents({"campaignId": campaign_id})
    assert left == 0
    after = await answers(stack, campaign_id)
    assert after["stats"] == before["stats"]
    assert after["dead"] == before["dead"]
    archive = after["listed"]["archive"]
    assert archive["messages"] == 4 and archive["throughRun"] == 1 and archive["archivedAt"]
    shown = (await stack.api.get(f"/api/campaigns/{campaign_id}")).json()["archive"]
    assert shown == archive
    assert by_id(archived_lines(archive["location"])) == as_archived(messages)
    # The sweep's recount of the counters takes the archived run's frozen figures.
    await Sweep(stack.db, stack.broker, SchedulerSettings(sweep_recent_seconds=3600)).run()
    assert (await answers(stack, campaign_id))["stats"] == before["stats"]
    again = await retention(stack, tmp_path).run()
    assert again.archived_runs == [] and again.left_for_later == []


class StopsBeforeDeleting(MessageRetention):
    """A retention pass that dies once its archive is written and recorded."""

    async def _delete_archived(self, campaign_id: str, run: int, key: str) -> int:
        raise ConnectionError("the scheduler died here")


async def test_a_pass_stopped_between_writing_and_deleting_is_finished_by_the_next(
    stack: Stack, tmp_path: Path
) -> None:
    campaign_id, messages = await ended_campaign(stack)
    before = await answers(stack, campaign_id)

    with pytest.raises(ConnectionError):
        await retention_job(stack, DirectoryArchive(tmp_path), job=StopsBeforeDeleting).run()
    assert await stack.db["messages"].count_documents({"campaignId": campaign_id}) == 4
    assert (await answers(stack, campaign_id))["stats"] == before["stats"]

    report = await retention(stack, tmp_path).run()

    assert report.archived_runs == [f"{campaign_id}|1"] and report.archived_messages == 4
    assert await stack.db["messages"].count_documents({"campaignId": campaign_id}) == 0
    after = await answers(stack, campaign_id)
    assert after["stats"] == before["stats"] and after["listed"]["archive"]["runs"] == 1
    lines = archived_lines(after["listed"]["archive"]["location"])
    assert sorted(m["_id"] for m in lines) == sorted(m["_id"] for m in messages)


async def test_a_tenant_with_a_longer_retention_keeps_its_messages(
    stack: Stack, tmp_path: Path
) -> None:
    campaign_id, _ = await ended_campaign(stack)
    await stack.db["tenants"].update_one(
        {"_id": TENANT}, {"$set": {"quotas.messageRetentionDays": 30}}, upsert=True
    )

    report = await retention(stack, tmp_path).run()

    assert f"{campaign_id}|1" not in report.archived_runs
    assert await stack.db["messages"].count_documents({"campaignId": campaign_id}) == 4
