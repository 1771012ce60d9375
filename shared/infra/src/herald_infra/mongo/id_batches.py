"""Reading and updating many documents by ``_id``, a few dozen ids per query.

One ``{_id: {$in: [...]}}`` query for thousands of ids costs the MongoDB-wire server of local
runs (SecantusDB) time that grows with the number of ids times the number of documents found.
Queries of 50 ids each cost it a fraction of one query for all of them, for a find and for an
``update_many`` alike (figures in docs/benchmarks.md). Ids that match nothing cost next to
nothing.
On MongoDB the extra round trips cost little. Every lookup of a batch of messages, recipients,
usage or dead letters by id goes through here; the queries of one call go out together, so a
busy server answers them in one wait rather than one wait each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from herald_infra.mongo.client import Collection, Document

IDS_PER_QUERY = 50


def _id_chunks(ids: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(ids), IDS_PER_QUERY):
        yield list(ids[start : start + IDS_PER_QUERY])


async def find_by_ids(
    collection: Collection,
    ids: Sequence[Any],
    selector: Mapping[str, Any] | None = None,
    projection: Mapping[str, Any] | None = None,
) -> list[Document]:
    """The documents whose ``_id`` is among ``ids`` and that match ``selector``, in no
    particular order."""

    async def find(chunk: list[Any]) -> list[Document]:
        query = {**(selector or {}), "_id": {"$in": chunk}}
        return [d async for d in collection.find(query, projection)]

    return [d for found in await asyncio.gather(*map(find, _id_chunks(ids))) for d in found]


async def update_by_ids(
    collection: Collection,
    ids: Sequence[Any],
    selector: Mapping[str, Any],
    update: Mapping[str, Any],
) -> int:
    """``update_many`` of the documents whose ``_id`` is among ``ids`` and that match
    ``selector``; returns how many were modified."""

    async def update_chunk(chunk: list[Any]) -> int:
        result = await collection.update_many({**selector, "_id": {"$in": chunk}}, update)
        return int(result.modified_count)

    return sum(await asyncio.gather(*map(update_chunk, _id_chunks(ids))))
