"""Reading and updating by many ids, against the real MongoDB-wire server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from herald_infra.mongo.id_batches import IDS_PER_QUERY, find_by_ids, update_by_ids
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration

COUNT = 3 * IDS_PER_QUERY + 7  # several queries' worth, the last one short


@pytest.fixture
def settings(mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(mongodb_url=mongodb_url, mongodb_database="it_id_batches")


@pytest.fixture
async def collection(db: Any) -> Any:
    collection = db[f"docs_{uuid.uuid4().hex[:8]}"]
    await collection.insert_many(
        [{"_id": f"d{n:04d}", "even": n % 2 == 0, "n": n} for n in range(COUNT)]
    )
    return collection


async def test_every_listed_document_is_found_across_queries_and_none_other(
    collection: Any,
) -> None:
    wanted = [f"d{n:04d}" for n in range(COUNT)] + ["missing-1", "missing-2"]
    found = await find_by_ids(collection, wanted, projection={"n": 1})
    assert sorted(d["_id"] for d in found) == [f"d{n:04d}" for n in range(COUNT)]
    assert set(found[0]) == {"_id", "n"}

    some = [f"d{n:04d}" for n in range(5, COUNT, 3)]
    found = await find_by_ids(collection, some, {"even": True})
    assert sorted(d["n"] for d in found) == [n for n in range(5, COUNT, 3) if n % 2 == 0]
    assert await find_by_ids(collection, []) == []


async def test_an_update_by_ids_modifies_exactly_the_listed_matching_documents(
    collection: Any,
) -> None:
    listed = [f"d{n:04d}" for n in range(1, COUNT - 1)] + ["missing"]
    modified = await update_by_ids(collection, listed, {"even": False}, {"$set": {"seen": True}})
    expected = [n for n in range(1, COUNT - 1) if n % 2 == 1]
    assert modified == len(expected)
    assert sorted([d["n"] async for d in collection.find({"seen": True})]) == expected
