"""How a campaign's contacts become message documents. Pure; no I/O."""

from __future__ import annotations

from datetime import datetime

from herald_core.messages.ids import message_id
from herald_core.messages.states import MessageStatus
from herald_core.templates import render, template_fields
from herald_infra.mongo.client import Document

__all__ = ["build_message", "contact_fields", "message_id"]


def contact_fields(contact: Document) -> dict[str, object]:
    """The names a template may use for a stored contact (the same the import checked)."""
    return template_fields(contact["phone"], contact.get("name"), contact.get("fields", {}))


def build_message(
    campaign: Document,
    contact: Document,
    *,
    account_id: str | None,
    now: datetime,
    not_before: datetime | None = None,
    run: int = 1,
    expires_at: datetime | None = None,
    queued: bool = False,
) -> Document:
    """The message document for one contact of a campaign's ``run``, on its sender account;
    without one (no account has room), deferred until ``not_before``. It is ``pending``, or
    ``queued`` when ``queued`` and it has an account (the fan-out publishes it right after)."""
    status = MessageStatus.QUEUED if queued and account_id is not None else MessageStatus.PENDING
    document: Document = {
        "_id": message_id(campaign["_id"], contact["phone"], run),
        "run": run,
        "tenantId": campaign["tenantId"],
        "campaignId": campaign["_id"],
        "contactId": contact["_id"],
        "phone": contact["phone"],
        "body": render(campaign["messageBody"], contact_fields(contact)),
        "accountId": account_id,
        "delayType": campaign.get("delayType", "balanced"),
        "status": status.value,
        "attempt": 1,
        "retryCount": 0,
        "attempts": [],
        "createdAt": now,
        "updatedAt": now,
    }
    if campaign.get("customDelay"):
        document["customDelay"] = campaign["customDelay"]
    if campaign.get("media"):
        document["media"] = campaign["media"]
    if account_id is None:
        document["notBefore"] = not_before or now
    if expires_at is not None:
        document["expiresAt"] = expires_at
    return document
