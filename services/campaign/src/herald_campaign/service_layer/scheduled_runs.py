"""A campaign schedule's firing: the scheduler's ``StartCampaignRun`` starts the run it is due.

Each firing starts one run: the campaign becomes ``running`` with ``run`` one higher, a fresh
validity window and launch event; the dispatcher makes the run's own batch of messages (one per
recipient). A firing for a campaign that is paused, cancelled, completed or back in draft is
skipped (:class:`RunSkipped`): the scheduler's job is done, the campaign's state says no.
"""

from __future__ import annotations

from herald_campaign.domain.campaigns import derived_event_id, run_expiry
from herald_campaign.service_layer.campaigns import CampaignService, stored_now
from herald_core.campaigns.lifecycle import RUN_STARTABLE_FROM, CampaignStatus
from herald_core.contracts.commands import StartCampaignRun
from herald_infra.mongo.client import CAMPAIGNS, Database, Document
from herald_infra.runtime.logging import bind_context, get_logger

log = get_logger(__name__)

ATTEMPTS_ON_RACE = 3


class RunSkipped(Exception):
    """The firing does not start a run; ``reason`` says why (``campaign-paused`` …)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class ScheduledRuns:
    def __init__(self, db: Database, campaigns: CampaignService) -> None:
        self._campaign_docs = db[CAMPAIGNS]
        self._campaigns = campaigns

    async def start_run(self, command: StartCampaignRun) -> Document:
        """Start the run a firing is due and publish its ``CampaignLaunched``; returns the
        campaign. The same command delivered again after the campaign moved publishes the
        launch again (the first delivery may have stopped between the two). A run past the
        tenant's ``runningCampaigns`` is refused (:class:`QuotaExceeded`: a dead letter that
        says so; the schedule's next firing tries again)."""
        bind_context(campaign_id=command.campaign_id)
        for _ in range(ATTEMPTS_ON_RACE):
            campaign = await self._campaigns.get_campaign(command.tenant_id, command.campaign_id)
            if campaign.get("launchCommandId") == command.event_id:
                log.info("run start delivered again; publishing its launch again")
                await self._campaigns.publish_launch(campaign)
                return campaign
            launch = self._launch_fields(campaign, command)
            async with self._campaigns.quotas.room_to_run(command.tenant_id, campaign["_id"]):
                moved = await self._campaign_docs.update_one(
                    {
                        "_id": campaign["_id"],
                        "tenantId": campaign["tenantId"],
                        "status": campaign["status"],
                        "run": campaign.get("run"),
                    },
                    {"$set": launch},
                )
            if moved.modified_count == 1:
                campaign = {**campaign, **launch}
                await self._campaigns.publish_launch(campaign)
                log.info(
                    "scheduled run started",
                    run=launch["run"],
                    scheduled_for=command.scheduled_for.isoformat(),
                )
                return campaign
        raise RuntimeError(
            f"campaign {command.campaign_id} kept changing while its run started; retried"
        )

    @staticmethod
    def _launch_fields(campaign: Document, command: StartCampaignRun) -> Document:
        status = CampaignStatus(campaign["status"])
        if status not in RUN_STARTABLE_FROM:
            raise RunSkipped(
                f"the schedule fired for a {status.value} campaign; no run started",
                f"campaign-{status.value}",
            )
        now = stored_now()
        expires_at = run_expiry(campaign, now)
        if expires_at is not None and expires_at <= now:
            raise RunSkipped(
                f"the campaign's validity window ended at {expires_at.isoformat()}; no run started",
                "campaign-expired",
            )
        return {
            "status": CampaignStatus.RUNNING.value,
            "run": int(campaign.get("run") or 0) + 1,
            "launchedAt": now,
            "runExpiresAt": expires_at,
            "updatedAt": now,
            "launchEventId": derived_event_id("campaign.launched", command.event_id),
            "launchCommandId": command.event_id,
            "runScheduledFor": command.scheduled_for,
            # The sweep's automatic pause judges what ended since the latest launch or resume.
            "countsAtLaunch": dict(campaign.get("counts") or {}),
        }
