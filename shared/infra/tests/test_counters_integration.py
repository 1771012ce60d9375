"""Counter reconciliation against the real MongoDB-wire server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from herald_infra.messages.counters import reconcile_counters
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_counters_{uuid.uuid4().hex[:8]}"
    )


async def campaign_with(db: Any, statuses: list[str], counts: dict[str, int]) -> str:
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    await db["campaigns"].insert_one({"_id": campaign_id, "counts": counts})
    await db["messages"].insert_many(
        [
            {"_id": f"{campaign_id}-{i}", "campaignId": campaign_id, "status": s}
            for i, s in enumerate(statuses)
        ]
    )
    return campaign_id


async def stored_counts(db: Any, campaign_id: str) -> dict[str, int]:
    campaign = await db["campaigns"].find_one({"_id": campaign_id})
    return {name: n for name, n in campaign["counts"].items() if n}


async def test_counters_left_off_by_a_crash_are_set_to_the_recount(db: Any) -> None:
    # The process died after moving a message to sent but before moving the counters.
    campaign_id = await campaign_with(
        db, ["sent", "sent", "failed"], {"total": 3, "sent": 1, "sending": 1, "failed": 1}
    )

    corrections = await reconcile_counters(db, campaign_id)

    assert corrections == {"sent": 1, "sending": -1}
    assert await stored_counts(db, campaign_id) == {"total": 3, "sent": 2, "failed": 1}
    assert await reconcile_counters(db, campaign_id) == {}  # nothing more to correct


async def test_an_unknown_campaign_has_nothing_to_reconcile(db: Any) -> None:
    assert await reconcile_counters(db, f"c-missing-{uuid.uuid4().hex[:6]}") == {}
