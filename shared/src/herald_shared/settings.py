"""Configuration shared by every Herald process (environment prefix ``HERALD_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class HeraldSettings(BaseSettings):
    """Settings every service reads; each service reads only the fields it needs."""

    model_config = SettingsConfigDict(env_prefix="HERALD_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongodb_url: str = "mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false"
    """Defaults to the local SecantusDB of ``make up`` (deploy/local/mongo.sh says why
    retryWrites=false); point it at any MongoDB."""
    mongodb_database: str = "herald"

    send_topic_partitions: int = Field(default=48, ge=1)
    event_topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)

    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    http_port: int = 0
    """Port of the HTTP surface (campaign: the API; every service: /metrics, /healthz, /readyz)."""

    api_token: str | None = None
    """Bearer token of the default tenant; upserted into ``api_keys`` at campaign start-up."""
    default_tenant: str = "default"

    default_account_id: str = "default"
    """The sender account every message is assigned to until sender accounts exist."""

    gateway_url: str = "http://127.0.0.1:3100"
    gateway_api_key: str | None = None
    gateway_session: str = "default"
    gateway_timeout_seconds: float = 30.0

    attempt_plan: str = "primary, fallback, fallback@60s"
    """One step per attempt: engine (primary or fallback) and an optional delay (``@60s``)."""
    claim_lease_seconds: float = Field(default=120.0, gt=0)
    """How long a claim may stay ``sending`` before the sweep deems its outcome unknown."""
    expired_claim_policy: Literal["fail", "resend"] = "fail"
    """What the sweep does with an expired claim: ``fail`` it ("outcome unknown"; never a
    double send) or ``resend`` it (never a lost message, maybe a duplicate)."""
    circuit_failure_threshold: int = Field(default=5, ge=1)
    """Consecutive retryable failures of one account on one engine that open its circuit."""
    circuit_cooldown_seconds: float = Field(default=60.0, gt=0)
    """How long an open circuit routes that account's messages to the other engine."""
    sender_concurrency: int = Field(default=8, ge=1)
    """Consumers per sender process; each works its own partitions one message at a time."""

    dispatch_batch_size: int = Field(default=500, ge=1)

    @field_validator("attempt_plan")
    @classmethod
    def _readable_attempt_plan(cls, value: str) -> str:
        from herald_shared.attempt_plan import AttemptPlan  # it imports the topics, which import us

        AttemptPlan.parse(value)  # fail at start-up, naming the step it cannot read
        return value


@lru_cache(maxsize=1)
def get_settings() -> HeraldSettings:
    """The process-wide settings, read once from the environment."""
    return HeraldSettings()
