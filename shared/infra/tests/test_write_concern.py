"""Every service's writes are durable unless told otherwise: the database handle carries the
write concern, so no write of any collection can forget it. No server: a client connects
lazily."""

from __future__ import annotations

from typing import Literal

import pytest
from pymongo import AsyncMongoClient

from herald_infra.mongo.client import CAMPAIGNS, MESSAGES, Document, database, reconciled
from herald_infra.runtime.settings import HeraldSettings


def write_concern_of(writes: Literal["durable", "fast"] | None) -> dict[str, object]:
    settings = HeraldSettings() if writes is None else HeraldSettings(mongodb_writes=writes)
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_url, connect=False)
    return dict(database(client, settings)[MESSAGES].write_concern.document)


def test_writes_are_journaled_on_a_majority_by_default() -> None:
    assert write_concern_of(None) == {"w": "majority", "j": True}


def test_fast_writes_are_acknowledged_from_memory() -> None:
    assert write_concern_of("fast") == {"w": 1, "j": False}


def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_MONGODB_WRITES", "fast")
    assert HeraldSettings().mongodb_writes == "fast"
    monkeypatch.setenv("HERALD_MONGODB_WRITES", "sometimes")
    with pytest.raises(ValueError, match="mongodb_writes"):
        HeraldSettings()


def test_counters_the_sweep_recomputes_skip_the_journal() -> None:
    settings = HeraldSettings()
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_url, connect=False)
    counters = reconciled(database(client, settings)[CAMPAIGNS])
    assert dict(counters.write_concern.document) == {"w": 1, "j": False}
