"""Campaign counters against a recount of the campaign's messages.

Counters move with every transition (a compare-and-set on the message, then ``$inc`` on the
campaign). A process that dies between the two leaves a counter off by one; the sweep puts it
right with :func:`reconcile_counters`.
"""

from __future__ import annotations

from herald_shared.message_states import MessageStatus, counter_field
from herald_shared.mongo import CAMPAIGNS, MESSAGES, Database, Document


async def count_by_status(db: Database, selector: Document) -> dict[str, int]:
    """The messages matching ``selector`` per status, every status listed (zeros included)."""
    counts = {status.value: 0 for status in MessageStatus}
    rows = await db[MESSAGES].aggregate(
        [{"$match": selector}, {"$group": {"_id": "$status", "count": {"$sum": 1}}}]
    )
    async for row in rows:
        counts[str(row["_id"])] = int(row["count"])
    return counts


async def recount(db: Database, campaign_id: str) -> dict[str, int]:
    """The campaign's messages per status (every status listed), and ``total``."""
    counts = await count_by_status(db, {"campaignId": campaign_id})
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
