"""``herald_pace_gap_seconds``: every slot a sender takes records the gap drawn for it, by the
campaign's pacing profile, so the dashboards show the gap distribution each profile gives."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY

from herald_core.contracts.common import CustomDelay, DelayType
from herald_core.contracts.events import SendMessage
from herald_core.pacing import PROFILES, PaceRange
from herald_infra.accounts.pace_slots import AccountPace
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.pacer import SendPacer

pytestmark = pytest.mark.integration

GAP = "herald_pace_gap_seconds"


@pytest.fixture(scope="module")
def settings(mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_pace_gap_{uuid.uuid4().hex[:8]}"
    )


def send_event(**pacing: Any) -> SendMessage:
    return SendMessage(
        tenant_id="t-pace",
        campaign_id="c-pace",
        message_id=f"m-{uuid.uuid4().hex}",
        account_id=f"acc-{uuid.uuid4().hex[:6]}",  # a fresh account: its slot is free at once
        phone="+919876543210",
        body="hello",
        **pacing,
    )


def observed(profile: str) -> tuple[float, float]:
    """(count, sum) of the gaps recorded so far for ``profile``."""
    labels = {"profile": profile}
    count = REGISTRY.get_sample_value(f"{GAP}_count", labels) or 0.0
    total = REGISTRY.get_sample_value(f"{GAP}_sum", labels) or 0.0
    return count, total


@pytest.mark.parametrize(
    ("pacing", "profile", "bounds"),
    [
        ({"delay_type": DelayType.FAST}, "fast", PROFILES[DelayType.FAST]),
        ({"delay_type": DelayType.SAFE}, "safe", PROFILES[DelayType.SAFE]),
        (
            {
                "delay_type": DelayType.SAFE,
                "custom_delay": CustomDelay(min_seconds=3, max_seconds=4),
            },
            "custom",
            PaceRange(3, 4),
        ),
    ],
)
async def test_each_slot_records_the_gap_drawn_for_it_by_profile(
    db: Any, pacing: dict[str, Any], profile: str, bounds: PaceRange
) -> None:
    pacer = SendPacer(AccountPace(db, hold_seconds=5), scale=1.0)
    count, total = observed(profile)

    slot = await pacer.wait_turn(send_event(**pacing))

    assert bounds.min_seconds <= slot.gap_seconds <= bounds.max_seconds
    after_count, after_total = observed(profile)
    assert after_count == count + 1
    assert after_total == pytest.approx(total + slot.gap_seconds)
    await pacer.slot_unused(slot)
