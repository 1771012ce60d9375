"""An acknowledged write survives a crash of the database process: the MongoDB-wire server is
SIGKILLed right after it acknowledged a write, started again on the same data, and the write is
there. Herald's claim before a gateway call rests on this; without the journal (``fast``), the
same crash loses the write, which is how a message came to be claimed and sent twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Literal

import pytest
from pymongo import AsyncMongoClient

from herald_infra.mongo.client import Document, database
from herald_infra.runtime.settings import HeraldSettings
from tests import infra

pytestmark = pytest.mark.integration
ROUNDS = 3


@pytest.fixture(scope="module")
def database_server() -> Iterator[infra.LocalServer]:
    if infra.servers_from_docker():
        pytest.skip("the crash needs a local MongoDB-wire server of this module's own")
    with infra.restartable_local_mongodb() as server:
        yield server


async def kept_after_crash(server: infra.LocalServer, writes: Literal["durable", "fast"]) -> bool:
    """Write one claim as Herald does with ``writes``, crash the server the moment it is
    acknowledged, start it again; whether the claim is there."""
    settings = HeraldSettings(mongodb_url=server.address, mongodb_writes=writes)
    message_id = f"m-{uuid.uuid4().hex}"
    client: AsyncMongoClient[Document] = AsyncMongoClient(server.address)
    try:
        acknowledged = await database(client, settings)["messages"].update_one(
            {"_id": message_id},
            {"$set": {"status": "sending", "claim": {"owner": "test"}}},
            upsert=True,
        )
        assert acknowledged.upserted_id == message_id
        await asyncio.to_thread(server.kill)
    finally:
        await client.close()
    await asyncio.to_thread(server.start)
    client = AsyncMongoClient(server.address)
    try:
        return (
            await client[settings.mongodb_database]["messages"].find_one({"_id": message_id})
            is not None
        )
    finally:
        await client.close()


async def test_a_durable_write_survives_a_crash_right_after_its_acknowledgement(
    database_server: infra.LocalServer,
) -> None:
    kept = [await kept_after_crash(database_server, "durable") for _ in range(ROUNDS)]
    assert kept == [True] * ROUNDS


async def test_without_the_journal_the_same_crash_loses_acknowledged_writes(
    database_server: infra.LocalServer,
) -> None:
    # The control: what the durable write concern is for (and that the crash above is real).
    kept = [await kept_after_crash(database_server, "fast") for _ in range(ROUNDS)]
    assert False in kept, "the server kept every unjournaled write; the test above proves nothing"
