"""What a pipeline benchmark run needs before its clock starts: the tenant's sender accounts,
a campaign and its contacts (through Herald's API, as a user adds them), and the same contacts
for the ceiling (straight into MongoDB).

Every account has its own session on each simulator (one session per WhatsApp number), caps far
above the run and no warm-up, so the dispatcher never defers a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import httpx

from herald_bench.pacing_setup import TENANT_ID, account_id, session_name
from herald_infra.mongo.client import ACCOUNTS, CONTACTS, Database, Document

BODY = "Hello {{name|there}}, this is Herald's pipeline benchmark."
CONTACTS_PER_REQUEST = 10_000
"""The API's limit per JSON request."""
AREA_CODES = (415, 212, 312, 617, 206, 303, 512, 713, 404, 305)
ACCOUNT_PREFIX = account_id(0).removesuffix("00000")
SESSION_PREFIX = session_name(0).removesuffix("00000")


def phone(index: int) -> str:
    """A valid US number, distinct for every ``index`` below 8,000,000."""
    line = index // len(AREA_CODES)
    return f"+1{AREA_CODES[index % len(AREA_CODES)]}{200 + line // 10_000:03d}{line % 10_000:04d}"


def simulator_sessions(accounts: int) -> str:
    """The ``--sessions`` of each simulator: the configured gateway's and one per account."""
    return ",".join(["default", *(session_name(index) for index in range(accounts))])


async def add_accounts(db: Database, documents: Sequence[Document]) -> None:
    await db[ACCOUNTS].insert_many(list(documents), ordered=False)


async def create_campaign(api: httpx.AsyncClient, name: str, phones: Sequence[str]) -> str:
    """A draft campaign with these recipients, made through the API; returns its id."""
    created = await api.post(
        "/api/campaigns", json={"name": name, "messageBody": BODY, "delayType": "fast"}
    )
    if created.status_code != 201:
        raise RuntimeError(f"campaign not created: {created.status_code} {created.text}")
    campaign_id: str = created.json()["id"]
    for start in range(0, len(phones), CONTACTS_PER_REQUEST):
        chunk = phones[start : start + CONTACTS_PER_REQUEST]
        added = await api.post(
            f"/api/campaigns/{campaign_id}/contacts",
            json={"contacts": [{"phone": p, "name": f"n{start + i}"} for i, p in enumerate(chunk)]},
        )
        if added.status_code != 200 or added.json()["accepted"] != len(chunk):
            raise RuntimeError(f"contacts not added: {added.status_code} {added.text[:500]}")
    return campaign_id


async def add_ceiling_contacts(
    db: Database, campaign_id: str, phones: Sequence[str], now: datetime
) -> None:
    """The ceiling's contacts, stored as Herald stores them (one document per recipient)."""
    documents = [
        {
            "_id": f"{campaign_id}|{p}",
            "tenantId": TENANT_ID,
            "campaignId": campaign_id,
            "phone": p,
            "name": f"n{i}",
            "fields": {},
            "createdAt": now,
        }
        for i, p in enumerate(phones)
    ]
    for start in range(0, len(documents), CONTACTS_PER_REQUEST):
        await db[CONTACTS].insert_many(documents[start : start + CONTACTS_PER_REQUEST])
