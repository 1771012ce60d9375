"""Herald's indexes on the real MongoDB-wire server: created at start-up, the retired ones of
a database an earlier version set up dropped, and all of it again without harm."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pymongo import ASCENDING, IndexModel

from herald_infra.mongo.client import INDEXES, MESSAGES, RETIRED_INDEXES, ensure_indexes
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_idx_{uuid.uuid4().hex[:8]}"
    )


async def test_the_retired_message_indexes_are_dropped_and_the_declared_ones_kept(db: Any) -> None:
    # A database an earlier version set up.
    await db[MESSAGES].create_indexes(
        [
            IndexModel([("status", ASCENDING), ("claim.leaseUntil", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("notBefore", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("campaignId", ASCENDING)]),
            IndexModel([("campaignId", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("tenantId", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("expiresAt", ASCENDING)]),
        ]
    )

    await ensure_indexes(db)
    await ensure_indexes(db)  # at every start-up

    present = set(await db[MESSAGES].index_information())
    declared = {index.document["name"] for index in INDEXES[MESSAGES]}
    assert declared <= present
    assert not present & set(RETIRED_INDEXES[MESSAGES])
    assert present == declared | {"_id_"}
