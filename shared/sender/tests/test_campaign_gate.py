"""Whether a claimed message may go to its gateway: the campaign's status and the message's
validity window decide (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from herald_core.campaigns.lifecycle import CampaignStatus
from herald_sender.campaign_gate import GateDecision, gate_decision

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
EARLIER = NOW - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("status", "decision"),
    [
        (CampaignStatus.RUNNING, GateDecision.SEND),
        (CampaignStatus.PAUSED, GateDecision.HOLD),
        (CampaignStatus.CANCELLED, GateDecision.CANCEL),
        # A redriven dead letter of a finished run, a late retry between two cron runs: sent.
        (CampaignStatus.COMPLETED, GateDecision.SEND),
        (CampaignStatus.SCHEDULED, GateDecision.SEND),
    ],
)
def test_the_campaign_status_decides_a_message_in_time(
    status: CampaignStatus, decision: GateDecision
) -> None:
    assert gate_decision(status.value, LATER, NOW) is decision
    assert gate_decision(status.value, None, NOW) is decision


def test_a_message_whose_window_is_over_expires_unless_its_campaign_was_cancelled() -> None:
    assert gate_decision("running", EARLIER, NOW) is GateDecision.EXPIRE
    assert gate_decision("running", NOW, NOW) is GateDecision.EXPIRE  # "by then": inclusive
    # Holding it for a resume could not make it timely.
    assert gate_decision("paused", EARLIER, NOW) is GateDecision.EXPIRE
    # The user's cancel says what becomes of it.
    assert gate_decision("cancelled", EARLIER, NOW) is GateDecision.CANCEL


def test_a_message_whose_campaign_is_unknown_or_has_no_status_is_sent() -> None:
    # Send events carry everything a send needs; the gate stops only what it knows to stop.
    assert gate_decision(None, None, NOW) is GateDecision.SEND
    assert gate_decision(None, EARLIER, NOW) is GateDecision.EXPIRE
