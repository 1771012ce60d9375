"""Campaign statistics from the per-status counters."""

from __future__ import annotations

from herald_campaign.domain.stats import CampaignStats, campaign_stats, success_rate


def test_the_seed_example_all_sent() -> None:
    assert campaign_stats({"total": 3, "sent": 3}) == CampaignStats(
        total=3, pending=0, sent=3, delivered=0, failed=0, success_rate="100.00"
    )


def test_delivered_and_read_count_as_sent_and_read_as_delivered() -> None:
    stats = campaign_stats({"total": 10, "sent": 2, "delivered": 3, "read": 4, "queued": 1})
    assert (stats.sent, stats.delivered, stats.pending) == (9, 7, 1)
    assert stats.success_rate == "90.00"


def test_expired_counts_as_failed_and_cancelled_as_nothing() -> None:
    stats = campaign_stats({"total": 10, "sent": 5, "failed": 1, "expired": 2, "cancelled": 1})
    assert (stats.sent, stats.failed, stats.pending) == (5, 3, 1)
    assert stats.success_rate == "50.00"


def test_pending_is_every_message_without_an_outcome() -> None:
    counts = {"total": 8, "pending": 1, "queued": 2, "sending": 1, "retrying": 1, "sent": 3}
    assert campaign_stats(counts).pending == 5


def test_zero_total_has_a_zero_rate() -> None:
    assert campaign_stats({}) == CampaignStats(0, 0, 0, 0, 0, "0.00")
    assert campaign_stats({"total": 0, "sent": 0}).success_rate == "0.00"


def test_rates_have_two_decimals() -> None:
    assert success_rate(2, 3) == "66.67"
    assert success_rate(1, 3) == "33.33"
    assert success_rate(1, 7) == "14.29"
    assert success_rate(999, 1000) == "99.90"
    assert success_rate(1, 100_000) == "0.00"
    assert success_rate(0, 5) == "0.00"


def test_counters_are_read_defensively() -> None:
    # Missing counters are zero; a counter briefly below zero (concurrent transitions) or of the
    # wrong type never makes a statistic negative.
    stats = campaign_stats({"total": 5, "sent": -1, "failed": "x", "delivered": None})
    assert stats == CampaignStats(5, 5, 0, 0, 0, "0.00")
    assert campaign_stats({"total": 2, "sent": 2, "failed": 1}).pending == 0
    assert campaign_stats({"total": 4.0, "sent": 1.0}).success_rate == "25.00"


def test_numbers_not_on_whatsapp_are_part_of_failed_never_more() -> None:
    stats = campaign_stats({"total": 10, "sent": 6, "failed": 4}, not_on_whatsapp=3)
    assert (stats.failed, stats.not_on_whatsapp, stats.pending) == (4, 3, 0)
    # Counters lag the messages a little: the part never exceeds the whole.
    assert campaign_stats({"total": 10, "failed": 1}, not_on_whatsapp=2).not_on_whatsapp == 1


def test_suppressed_messages_are_no_longer_pending_and_add_to_those_skipped_at_the_fan_out() -> (
    None
):
    counts = {"total": 10, "sent": 6, "queued": 1, "suppressed": 3}
    stats = campaign_stats(counts, suppressed_at_fan_out=4)
    assert (stats.pending, stats.suppressed, stats.failed) == (1, 7, 0)
    assert stats.success_rate == "60.00"


def test_replies_and_opt_outs_are_shares_of_the_sent_messages() -> None:
    counts = {"total": 200, "sent": 150, "delivered": 40, "failed": 10}
    stats = campaign_stats(counts, engagement={"replied": 19, "optedOut": 10})
    assert (stats.replied, stats.opted_out) == (19, 10)
    assert (stats.reply_rate, stats.opt_out_rate) == ("10.00", "5.26")
    # Counters moved by concurrent writes never show more engagement than messages sent.
    odd = campaign_stats({"total": 2, "sent": 1}, engagement={"replied": 5, "optedOut": -1})
    assert (odd.replied, odd.opted_out, odd.reply_rate) == (1, 0, "100.00")
