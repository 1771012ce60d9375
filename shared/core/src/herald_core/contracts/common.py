"""Pieces every contract shares."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

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


class CustomDelay(BaseModel):
    """A campaign's own anti-ban gap range, in seconds, instead of its delay type's profile.
    A range, never one value: a fixed interval is what anti-spam systems look for."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    min_seconds: Annotated[float, Field(ge=1, le=3600)]
    max_seconds: Annotated[float, Field(ge=1, le=3600)]

    @model_validator(mode="after")
    def _a_range(self) -> CustomDelay:
        if self.max_seconds <= self.min_seconds:
            raise ValueError("max_seconds must be greater than min_seconds")
        return self

    def bounds(self) -> tuple[float, float]:
        return (self.min_seconds, self.max_seconds)


class Contract(BaseModel):
    """Base of every command and event: strict about unknown fields, immutable."""

    # Field docstrings become the descriptions of the JSON Schemas and the AsyncAPI document.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    event_id: Identifier = Field(default_factory=new_event_id)
    """The id of this command or event: a command whose id was processed already is skipped,
    and a consumer of events can drop duplicates by it."""
    occurred_at: datetime = Field(default_factory=utc_now)
    """When it was issued (ISO 8601); now, when not given."""
