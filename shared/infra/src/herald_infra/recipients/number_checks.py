"""Whether a number is on WhatsApp, as a gateway last answered, remembered per tenant until it
expires (collection ``number_checks``).

Per tenant, because each tenant's answer came through its own accounts: one tenant's checks
never tell another anything about its recipients. An answer is used only before its expiry
(MongoDB's TTL monitor removes expired ones within a minute or so; until then they are
ignored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from pymongo import UpdateOne

from herald_infra.mongo.client import NUMBER_CHECKS, Database


def number_check_id(tenant_id: str, phone: str) -> str:
    return f"{tenant_id}|{phone}"


async def known_answers(
    db: Database, tenant_id: str, phones: Sequence[str], now: datetime
) -> dict[str, bool]:
    """The unexpired answers for ``phones`` of ``tenant_id`` (phones never checked are absent)."""
    ids = [number_check_id(tenant_id, phone) for phone in phones]
    cursor = db[NUMBER_CHECKS].find(
        {"_id": {"$in": ids}, "expiresAt": {"$gt": now}}, {"phone": 1, "onWhatsapp": 1}
    )
    return {document["phone"]: bool(document["onWhatsapp"]) async for document in cursor}


async def remember_answers(
    db: Database,
    tenant_id: str,
    answers: Mapping[str, bool],
    *,
    now: datetime,
    keep_for: timedelta,
) -> None:
    """Store what a gateway answered for each phone, until ``now + keep_for``."""
    if not answers:
        return
    await db[NUMBER_CHECKS].bulk_write(
        [
            UpdateOne(
                {"_id": number_check_id(tenant_id, phone)},
                {
                    "$set": {
                        "tenantId": tenant_id,
                        "phone": phone,
                        "onWhatsapp": on_whatsapp,
                        "checkedAt": now,
                        "expiresAt": now + keep_for,
                    }
                },
                upsert=True,
            )
            for phone, on_whatsapp in answers.items()
        ],
        ordered=False,
    )
