"""Campaign counters against a recount of the campaign's messages.

Counters move with every transition (a compare-and-set on the message, then ``$inc`` on the
campaign). A process that dies between the two leaves a counter off by one; the sweep puts it
right with :func:`reconcile_counters`.
"""

from __future__ import annotations

from collections.abc import Sequence

from herald_core.messages.states import MessageStatus, counter_field
from herald_infra.mongo.client import CAMPAIGNS, MESSAGES, Database, Document


async def count_by_status(
    db: Database, campaign_ids: Sequence[str], selector: Document | None = None
) -> dict[str, int]:
    """The messages of the campaigns ``campaign_ids`` (and matching ``selector``, if given) per
    status, every status listed (zeros included).

    One count per status: each rides the ``(status, campaignId, …)`` index, where a single
    query over every status would read the campaigns' messages one by one.
    """
    if not campaign_ids:
        return {status.value: 0 for status in MessageStatus}
    campaigns = campaign_ids[0] if len(campaign_ids) == 1 else {"$in": list(campaign_ids)}
    return {
        status.value: await db[MESSAGES].count_documents(
            {"status": status.value, "campaignId": campaigns, **(selector or {})}
        )
        for status in MessageStatus
    }


async def recount(db: Database, campaign_id: str) -> dict[str, int]:
    """The campaign's messages per status (every status listed), and ``total``."""
    counts = await count_by_status(db, [campaign_id])
    counts["total"] = sum(counts.values())
    return counts


async def reconcile_counters(db: Database, campaign_id: str) -> dict[str, int]:
    """Set the campaign's counters to a recount; returns the corrections made (recount minus
    counter, non-zero ones only).

    Optimistic: it applies only if the counters did not move while it counted, so a campaign
    that is busy sending is left for the next sweep rather than set to a stale count.
    """
    before = await db[CAMPAIGNS].find_one({"_id": campaign_id}, {"counts": 1})
    if before is None:
        return {}
    counters = before.get("counts") or {}
    actual = await recount(db, campaign_id)
    corrections = {
        name: value - int(counters.get(name, 0))
        for name, value in actual.items()
        if value != int(counters.get(name, 0))
    }
    if not corrections:
        return {}
    fields = {counter_field(MessageStatus(s)): actual[s] for s in actual if s != "total"}
    # Unchanged since read: every counter holds the value read, and none appeared meanwhile.
    unchanged: dict[str, object] = {f"counts.{name}": value for name, value in counters.items()}
    unchanged |= {f"counts.{n}": {"$exists": False} for n in actual if n not in counters}
    result = await db[CAMPAIGNS].update_one(
        {"_id": campaign_id, **unchanged},
        {"$set": {**fields, "counts.total": actual["total"]}},
    )
    return corrections if result.modified_count else {}
