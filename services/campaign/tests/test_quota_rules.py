"""The quota rules, pure: overrides, what passes a count quota, a cron's shortest interval."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from herald_campaign.domain.quotas import (
    DEFAULT_QUOTAS,
    QuotaName,
    contacts_refusal,
    cron_interval_refusal,
    running_refusal,
    shortest_cron_interval,
)

NOW = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)


def test_overrides_replace_the_defaults_they_name_and_nothing_else() -> None:
    quotas = DEFAULT_QUOTAS.overridden(
        {
            "accounts": 3,
            "schedules": "7",
            "runningCampaigns": -1,
            "colour": 9,
            "contactsPerCampaign": True,
        }
    )
    assert quotas.as_dict() == {**DEFAULT_QUOTAS.as_dict(), "accounts": 3}
    assert quotas.limit(QuotaName.ACCOUNTS) == 3


def test_a_count_quota_takes_its_value_and_refuses_one_more() -> None:
    assert contacts_refusal(10, in_campaign=7, adding=3) is None
    refusal = contacts_refusal(10, in_campaign=7, adding=4)
    assert refusal is not None
    assert (refusal.quota, refusal.limit, refusal.used) == (QuotaName.CONTACTS_PER_CAMPAIGN, 10, 7)
    assert refusal.message.startswith("quota contactsPerCampaign is 10:")
    assert running_refusal(2, running=1) is None
    assert running_refusal(2, running=2) is not None
    # Over a lowered quota already, adding nothing is never refused.
    assert contacts_refusal(10, in_campaign=12, adding=0) is None


@pytest.mark.parametrize(
    ("cron", "zone", "seconds"),
    [
        ("*/5 * * * *", "UTC", 300),
        ("*/5 0 * * *", "UTC", 300),
        ("0 0,23 * * *", "UTC", 3600),
        ("0,59 0,23 1,31 * *", "UTC", 60),
        # Across the switch to summer time (29 March), a week is an hour short.
        ("0 9 * * MON", "Europe/Berlin", 7 * 24 * 3600 - 3600),
        ("0 9 * * MON", "UTC", 7 * 24 * 3600),
        ("* * * * * *", "UTC", 1),
        ("* * * * * */30", "UTC", 30),
        ("*/1 * * * *", "Asia/Kolkata", 60),
    ],
)
def test_the_shortest_interval_of_a_cron_expression(cron: str, zone: str, seconds: int) -> None:
    assert shortest_cron_interval(cron, zone, NOW) == seconds


def test_a_cron_firing_once_in_its_horizon_has_no_interval() -> None:
    # 29 February 2028, then 2032: past the five years looked at.
    assert shortest_cron_interval("0 0 29 2 *", "UTC", NOW) is None
    assert shortest_cron_interval("0 0 1 1 *", "UTC", NOW) == 365 * 24 * 3600


def test_crons_firing_more_often_than_the_quota_are_refused_naming_it() -> None:
    every_second = cron_interval_refusal("* * * * * *", "UTC", 300, NOW)
    assert every_second is not None
    assert (every_second.quota, every_second.limit) == (QuotaName.MIN_CRON_INTERVAL_SECONDS, 300)
    assert "1 s apart" in every_second.message and "every 5 min" in every_second.message
    assert cron_interval_refusal("*/1 * * * *", "UTC", 300, NOW) is not None
    assert cron_interval_refusal("*/5 * * * *", "UTC", 300, NOW) is None
    assert cron_interval_refusal("*/1 * * * *", "UTC", 60, NOW) is None
