"""Campaign counters against a recount of the campaign's messages.

Counters move with every transition (a compare-and-set on the message, then ``$inc`` on the
campaign). A process that dies between the two leaves a counter off by one; the sweep puts it
right with :func:`reconcile_counters`. Beside one counter per status, a campaign counts its failed
messages whose number is not on WhatsApp (:data:`NOT_ON_WHATSAPP_FAILURES`, moved by
:func:`failure_counters`), so that its statistics read counters only.
"""

from __future__ import annotations

from collections.abc import Sequence

from herald_core.messages.states import NOT_ON_WHATSAPP_FAILURES, MessageStatus, counter_field
from herald_gateways.failures import NOT_ON_WHATSAPP
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


ARCHIVE = "archive"
"""On a campaign: its runs whose messages were archived (docs/retention.md): ``throughRun``
(runs 1 to it), their frozen per-status ``counts`` and ``notOnWhatsapp``, and where the
latest went."""


async def recount(
    db: Database, campaign_id: str, archive: Document | None = None
) -> dict[str, int]:
    """The campaign's messages per status (every status listed), and ``total``; the runs its
    ``archive`` holds count by their frozen figures, not by what is left of their messages."""
    through = int((archive or {}).get("throughRun") or 0)
    counts = await count_by_status(
        db, [campaign_id], {"run": {"$gt": through}} if through else None
    )
    frozen = (archive or {}).get("counts") or {}
    for status in counts:
        counts[status] += int(frozen.get(status) or 0)
    counts["total"] = sum(counts.values())
    return counts


async def reconcile_counters(db: Database, campaign_id: str) -> dict[str, int]:
    """Set the campaign's counters to a recount; returns the corrections made (recount minus
    counter, non-zero ones only).

    Optimistic: it applies only if the counters did not move while it counted, so a campaign
    that is busy sending is left for the next sweep rather than set to a stale count.
    """
    before = await db[CAMPAIGNS].find_one(
        {"_id": campaign_id}, {"counts": 1, ARCHIVE: 1, NOT_ON_WHATSAPP_FAILURES: 1}
    )
    if before is None:
        return {}
    counters = before.get("counts") or {}
    actual = await recount(db, campaign_id, before.get(ARCHIVE))
    corrections = {
        name: value - int(counters.get(name, 0))
        for name, value in actual.items()
        if value != int(counters.get(name, 0))
    }
    not_on_whatsapp = await recount_not_on_whatsapp(db, campaign_id, before.get(ARCHIVE))
    stored_not_on_whatsapp = before.get(NOT_ON_WHATSAPP_FAILURES)
    if not_on_whatsapp != int(stored_not_on_whatsapp or 0):
        corrections[NOT_ON_WHATSAPP_FAILURES] = not_on_whatsapp - int(stored_not_on_whatsapp or 0)
    if not corrections:
        return {}
    fields = {counter_field(MessageStatus(s)): actual[s] for s in actual if s != "total"}
    fields[NOT_ON_WHATSAPP_FAILURES] = not_on_whatsapp
    # Unchanged since read: every counter holds the value read, and none appeared meanwhile.
    unchanged: dict[str, object] = {f"counts.{name}": value for name, value in counters.items()}
    unchanged |= {f"counts.{n}": {"$exists": False} for n in actual if n not in counters}
    unchanged[NOT_ON_WHATSAPP_FAILURES] = (
        {"$exists": False} if stored_not_on_whatsapp is None else stored_not_on_whatsapp
    )
    result = await db[CAMPAIGNS].update_one(
        {"_id": campaign_id, **unchanged},
        {"$set": {**fields, "counts.total": actual["total"]}},
    )
    return corrections if result.modified_count else {}


async def recount_not_on_whatsapp(
    db: Database, campaign_id: str, archive: Document | None = None
) -> int:
    """The campaign's failed messages whose number is not on WhatsApp (its archived runs by
    their frozen figure): what :data:`NOT_ON_WHATSAPP_FAILURES` counts."""
    through = int((archive or {}).get("throughRun") or 0)
    selector: Document = {
        "status": MessageStatus.FAILED.value,
        "campaignId": campaign_id,
        "failedReason": NOT_ON_WHATSAPP,
    }
    if through:
        selector["run"] = {"$gt": through}
    live = int(await db[MESSAGES].count_documents(selector))
    return live + int((archive or {}).get("notOnWhatsapp") or 0)


def failure_counters(failed_reason: object, *, leaving: bool = False) -> dict[str, int]:
    """The campaign counters besides the status ones that a message moves when it becomes
    ``failed`` for ``failed_reason`` (or, ``leaving``, when a message that failed so leaves
    ``failed``, redriven): for :func:`herald_infra.messages.transitions.transition`."""
    if failed_reason != NOT_ON_WHATSAPP:
        return {}
    return {NOT_ON_WHATSAPP_FAILURES: -1 if leaving else 1}
