"""Campaigns: their lifecycle, identifiers and the draft a user submits. Pure; no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from herald_core.campaigns.lifecycle import CampaignStatus
from herald_core.contracts.common import CustomDelay, DelayType

__all__ = ["CampaignDraft", "CampaignStatus"]

CAMPAIGN_ID_PREFIX = "cmp_"


@dataclass(frozen=True)
class CampaignDraft:
    """What it takes to create a campaign."""

    name: str
    message_body: str
    delay_type: DelayType = DelayType.BALANCED
    custom_delay: CustomDelay | None = None
    expires_at: datetime | None = None
    """A message not sent by then becomes ``expired``."""
    valid_for_seconds: int | None = None
    """The same, as a duration from each launch (each run of a recurring campaign)."""


def run_expiry(campaign: dict[str, object], launched_at: datetime) -> datetime | None:
    """When the messages of a run launched at ``launched_at`` stop being worth sending."""
    valid_for = campaign.get("validForSeconds")
    if isinstance(valid_for, int | float):
        return launched_at + timedelta(seconds=valid_for)
    expires_at = campaign.get("expiresAt")
    return expires_at if isinstance(expires_at, datetime) else None


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def new_campaign_id() -> str:
    """A fresh campaign id (a campaign created through the API)."""
    return f"{CAMPAIGN_ID_PREFIX}{uuid4().hex}"


def campaign_id_for_command(command_event_id: str) -> str:
    """The id of the campaign a create command makes when it names none.

    Deterministic, so a redelivered command finds the campaign it already created.
    """
    return f"{CAMPAIGN_ID_PREFIX}{_digest('campaign.create', command_event_id)}"


def contact_id(campaign_id: str, e164: str) -> str:
    """One contact per phone number and campaign: adding a number twice finds the first."""
    return f"{campaign_id}:{e164}"


def derived_event_id(kind: str, *origin: str) -> str:
    """The ``event_id`` of an event caused by ``origin`` (a command id, a campaign id).

    Publishing the same event again after a crash repeats its id, so consumers can tell.
    """
    return _digest(kind, *origin)
