"""Pieces every contract shares."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return uuid4().hex


class DelayType(StrEnum):
    """Anti-ban pacing profiles a campaign can choose."""

    FAST = "fast"
    BALANCED = "balanced"
    SAFE = "safe"


class Contract(BaseModel):
    """Base of every command and event: strict about unknown fields, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier = Field(default_factory=new_event_id)
    occurred_at: datetime = Field(default_factory=utc_now)
