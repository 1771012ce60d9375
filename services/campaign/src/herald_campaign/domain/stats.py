"""A campaign's delivery statistics from its per-status message counters. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from herald_core.messages.states import MessageStatus as S


@dataclass(frozen=True)
class CampaignStats:
    total: int
    pending: int
    sent: int
    delivered: int
    failed: int
    success_rate: str
    """Percentage of messages sent (delivered and read included), two decimals: "97.50"."""
    not_on_whatsapp: int = 0
    """Of ``failed``: numbers the gateway said are not on WhatsApp (never sent)."""


def _count(counts: Mapping[str, object], name: str) -> int:
    # Counters move with concurrent transitions and may be missing or briefly off; a statistic
    # never shows a negative number.
    value = counts.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)


def success_rate(sent: int, total: int) -> str:
    """``sent`` as a percentage of ``total`` with two decimals; "0.00" when there is nothing."""
    if total <= 0:
        return "0.00"
    return f"{100 * sent / total:.2f}"


def campaign_stats(counts: Mapping[str, object], *, not_on_whatsapp: int = 0) -> CampaignStats:
    """The statistics of a campaign document's ``counts`` (``total`` plus one per status).

    Sent includes delivered and read; failed includes expired; cancelled messages count as
    neither sent, failed nor pending.
    """
    total = _count(counts, "total")
    read = _count(counts, S.READ)
    delivered = _count(counts, S.DELIVERED) + read
    sent = _count(counts, S.SENT) + delivered
    failed = _count(counts, S.FAILED) + _count(counts, S.EXPIRED)
    cancelled = _count(counts, S.CANCELLED)
    pending = max(total - sent - failed - cancelled, 0)
    return CampaignStats(
        total=total,
        pending=pending,
        sent=sent,
        delivered=delivered,
        failed=failed,
        not_on_whatsapp=min(max(not_on_whatsapp, 0), failed),
        success_rate=success_rate(sent, total),
    )
