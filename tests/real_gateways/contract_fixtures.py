"""The gateways' own request, response and webhook bodies (``fixtures/*.json``), one file per
gateway, version and engine, each exchange naming the upstream file it comes from (or that it
was seen running the real gateway)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Exchange:
    fixture: str
    name: str
    request: dict[str, Any]
    status: int
    body: Any
    reason: str | None
    message_id: str | None

    @property
    def id(self) -> str:
        return f"{self.fixture}:{self.name}"


@dataclass(frozen=True)
class Webhook:
    fixture: str
    name: str
    body: dict[str, Any]
    message_id: str | None
    status: str | None
    inbound: dict[str, Any] | None = None
    """For an inbound message (``message``, ``messages.upsert``): what Herald reads of it."""

    @property
    def id(self) -> str:
        return f"{self.fixture}:{self.name}"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return document


def fixture_names() -> list[str]:
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


def exchange(fixture: str, name: str) -> Exchange:
    raw = load(fixture)["exchanges"][name]
    return Exchange(
        fixture,
        name,
        raw["request"],
        raw["response"]["status"],
        raw["response"]["body"],
        raw.get("reason"),
        raw.get("message_id"),
    )


def exchanges(gateway: str, *, with_key: str) -> list[Exchange]:
    """Every exchange of ``gateway``'s fixtures that has ``with_key`` (``reason``, ...)."""
    found = []
    for fixture in fixture_names():
        document = load(fixture)
        if document["gateway"] != gateway:
            continue
        for name, raw in document["exchanges"].items():
            if with_key in raw:
                found.append(exchange(fixture, name))
    return found


def webhooks(event: str) -> list[Webhook]:
    """Every webhook body of the given event (``message.ack``, ``messages.update``,
    ``message``, ``messages.upsert``)."""
    found = []
    for fixture in fixture_names():
        for name, raw in load(fixture).get("webhooks", {}).items():
            if raw["body"]["event"] == event:
                found.append(
                    Webhook(
                        fixture,
                        name,
                        raw["body"],
                        raw.get("message_id"),
                        raw.get("status"),
                        raw.get("inbound"),
                    )
                )
    return found


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys (recursively) and types, not the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__
