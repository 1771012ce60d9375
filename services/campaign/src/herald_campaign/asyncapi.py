"""What the campaign service publishes, for the AsyncAPI document (see herald_infra.runtime)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.events import (
    CampaignCancelled,
    CampaignCreated,
    CampaignLaunched,
    CampaignPaused,
    CampaignResumed,
    CampaignScheduled,
    ContactEvent,
    ContactsAdded,
)
from herald_core.contracts.topics import CAMPAIGN_EVENTS, CONTACT_EVENTS
from herald_infra.runtime.asyncapi import (
    Publication,
    poison_dead_letters,
    send_attempts,
    status_changes,
)

CampaignServiceEvent = Annotated[
    CampaignCreated
    | ContactsAdded
    | CampaignLaunched
    | CampaignScheduled
    | CampaignPaused
    | CampaignResumed
    | CampaignCancelled,
    Field(discriminator="type"),
]


def campaign_publications(plan: AttemptPlan) -> list[Publication]:
    """The campaign service's topics: its events, receipts, messages sent again, dead letters."""
    return [
        Publication(
            CAMPAIGN_EVENTS,
            CampaignServiceEvent,
            "What the REST API and the commands did to a campaign (created, contacts added, "
            "launched, scheduled, paused, resumed, cancelled); keyed by campaign id. The "
            "scheduler adds campaign.completed and campaign.failed.",
        ),
        status_changes("Delivery receipts from the gateways' webhooks (delivered, read)"),
        Publication(
            CONTACT_EVENTS,
            ContactEvent,
            "What recipients answered, from the accounts' webhooks, and the tenant's own "
            "changes to its suppression list: contact.opted_out (an opt-out keyword, or a "
            "number the tenant added), contact.opted_in (an opt-in keyword, or a number the "
            "tenant removed) and message.replied (the first reply to a campaign message within "
            "the reply window); keyed by `<tenant>|<number>`, so one number's events stay in "
            "order.",
        ),
        *(
            send_attempts(
                topic,
                "Messages published again: by process-queue, retry-failed and dead-letter "
                "redrives (on the plan's first topic), and by a resume (each on the topic of "
                "the attempt it waits at); and confirmations of recipients' keywords "
                "(`kind` keyword-reply, on the plan's first topic).",
            )
            for topic in plan.send_topics()
        ),
        poison_dead_letters(
            "Records of campaign.commands, campaign.system-commands and campaign.events it "
            "cannot decode, validate or accept (the reason says why: undecodable, "
            "schema-invalid, system-only for a system command on campaign.commands, a command "
            "the campaign's status rules out …), and those whose handling kept failing for "
            "another reason than an outage (internal-error, after HERALD_HANDLER_ATTEMPTS tries)"
        ),
    ]
