"""What the scheduler publishes, for the AsyncAPI document (see herald_infra.runtime.asyncapi)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.commands import SystemCommand
from herald_core.contracts.events import CampaignCompleted, CampaignFailed
from herald_core.contracts.topics import CAMPAIGN_EVENTS, CAMPAIGN_SYSTEM_COMMANDS
from herald_infra.runtime.asyncapi import Publication, message_dead_letters, send_attempts

RunEnded = Annotated[CampaignCompleted | CampaignFailed, Field(discriminator="type")]


def scheduler_publications(plan: AttemptPlan) -> list[Publication]:
    """Runs of schedules that fired, the sweep's verdicts, and the messages it moves on."""
    return [
        Publication(
            CAMPAIGN_SYSTEM_COMMANDS,
            SystemCommand,
            "campaign.run when a campaign's schedule fires (its event_id derives from the "
            "schedule and due time, so a firing repeated after a hand-over acts once), and "
            "campaign.pause by the system when the sweep finds a campaign's messages failing; "
            "keyed by campaign id. On the topic only the scheduler may write, not on "
            "campaign.commands, where the campaign service refuses them as forged.",
        ),
        Publication(
            CAMPAIGN_EVENTS,
            RunEnded,
            "The sweep's verdict on a run whose every message ended: campaign.completed, or "
            "campaign.failed when it sent nothing; keyed by campaign id.",
        ),
        *(
            send_attempts(
                topic,
                "Messages the sweep publishes again (a publish that was lost, a claim that "
                "expired under the resend policy) and the hourly redrive of retryable failures "
                "(on the plan's first topic).",
            )
            for topic in plan.send_topics()
        ),
        message_dead_letters(
            "Messages whose sender's claim expired without an outcome, under the fail policy "
            "(reason outcome-unknown). Also, reason internal-error, what kept failing for "
            "another reason than an outage: a schedule's firing (payload its campaign.run "
            "command, original topic campaign.system-commands: a redrive starts the run), a "
            "schedule that cannot be fired or moved on (made inactive; payload JSON naming it, "
            "original topic schedules), a campaign or message the sweep cannot handle (payload "
            "JSON naming the step, original topic sweep)"
        ),
    ]
