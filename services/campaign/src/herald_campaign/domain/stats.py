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
    suppressed: int = 0
    """Recipients not sent to because they are on the suppression list: contacts the fan-out
    made no message for, and messages the sender stopped (status ``suppressed``)."""
    replied: int = 0
    """Sent messages a recipient wrote back to within the reply window."""
    opted_out: int = 0
    """Sent messages a recipient answered with an opt-out keyword."""
    reply_rate: str = "0.00"
    """``replied`` as a percentage of ``sent``, two decimals."""
    opt_out_rate: str = "0.00"
    """``opted_out`` as a percentage of ``sent``, two decimals."""


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


def campaign_stats(
    counts: Mapping[str, object],
    *,
    not_on_whatsapp: int = 0,
    engagement: Mapping[str, object] | None = None,
    suppressed_at_fan_out: int = 0,
) -> CampaignStats:
    """The statistics of a campaign document's ``counts`` (``total`` plus one per status),
    its ``engagement`` (``replied``, ``optedOut``) and ``suppressedAtFanOut``.

    Sent includes delivered and read; failed includes expired; cancelled and suppressed
    messages count as neither sent, failed nor pending.
    """
    total = _count(counts, "total")
    read = _count(counts, S.READ)
    delivered = _count(counts, S.DELIVERED) + read
    sent = _count(counts, S.SENT) + delivered
    failed = _count(counts, S.FAILED) + _count(counts, S.EXPIRED)
    cancelled = _count(counts, S.CANCELLED)
    stopped = _count(counts, S.SUPPRESSED)
    pending = max(total - sent - failed - cancelled - stopped, 0)
    engaged = engagement or {}
    replied = min(_count(engaged, "replied"), sent)
    opted_out = min(_count(engaged, "optedOut"), sent)
    return CampaignStats(
        total=total,
        pending=pending,
        sent=sent,
        delivered=delivered,
        failed=failed,
        not_on_whatsapp=min(max(not_on_whatsapp, 0), failed),
        success_rate=success_rate(sent, total),
        suppressed=stopped + max(suppressed_at_fan_out, 0),
        replied=replied,
        opted_out=opted_out,
        reply_rate=success_rate(replied, sent),
        opt_out_rate=success_rate(opted_out, sent),
    )
