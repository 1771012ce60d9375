"""Campaigns: their lifecycle, identifiers and the draft a user submits. Pure; no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from herald_core.campaigns.lifecycle import CampaignStatus
from herald_core.contracts.common import CustomDelay, DelayType
from herald_core.media import MediaRef, media_document
from herald_core.messages.states import NOT_ON_WHATSAPP_FAILURES, MessageStatus

__all__ = ["CampaignDraft", "CampaignStatus", "MediaChoice"]

CAMPAIGN_ID_PREFIX = "cmp_"


@dataclass(frozen=True)
class MediaChoice:
    """The media a campaign was submitted with: a URL with its type, or an upload (whose type
    Herald knows)."""

    url: str | None = None
    upload_id: str | None = None
    mimetype: str | None = None
    filename: str | None = None


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
    media: MediaChoice | None = None
    """An image, video or document every message carries, the body as its caption."""


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


def draft_campaign_document(
    campaign_id: str,
    tenant_id: str,
    draft: CampaignDraft,
    *,
    now: datetime,
    command_id: str | None = None,
    media: MediaRef | None = None,
) -> dict[str, Any]:
    """The stored document of a new draft campaign: no contacts, every message counter at 0;
    ``createdByCommand`` names the command that created it, if one did."""
    campaign: dict[str, Any] = {
        "_id": campaign_id,
        "tenantId": tenant_id,
        "name": draft.name,
        "messageBody": draft.message_body,
        "delayType": draft.delay_type.value,
        "status": CampaignStatus.DRAFT.value,
        "contactCount": 0,
        "counts": {"total": 0, **{status.value: 0 for status in MessageStatus}},
        NOT_ON_WHATSAPP_FAILURES: 0,
        "createdAt": now,
        "updatedAt": now,
    }
    if draft.custom_delay is not None:
        campaign["customDelay"] = {
            "minSeconds": draft.custom_delay.min_seconds,
            "maxSeconds": draft.custom_delay.max_seconds,
        }
    if media is not None:
        campaign["media"] = media_document(media)
    if draft.expires_at is not None:
        campaign["expiresAt"] = draft.expires_at
    if draft.valid_for_seconds is not None:
        campaign["validForSeconds"] = draft.valid_for_seconds
    if command_id is not None:
        campaign["createdByCommand"] = command_id
    return campaign
