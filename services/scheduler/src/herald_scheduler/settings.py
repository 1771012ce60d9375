"""The scheduler service's settings: Herald's shared ones plus its own (prefix ``HERALD_``)."""

from __future__ import annotations

from pydantic import Field

from herald_infra.runtime.settings import HeraldSettings


class SchedulerSettings(HeraldSettings):
    republish_grace_seconds: float = Field(default=60.0, ge=0)
    """The sweep publishes again a ``pending`` message that has a sender account once it has
    waited this long: its publish was lost (the dispatcher publishes at once)."""
    sweep_recent_seconds: float = Field(default=3600.0, ge=0)
    """The sweep also reconciles the counters of campaigns that finished this recently."""
    sweep_batch_size: int = Field(default=1000, ge=1)
    """Most messages (or expired claims) one sweep step handles per pass."""
