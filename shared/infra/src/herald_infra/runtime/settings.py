"""Configuration shared by every Herald process (environment prefix ``HERALD_``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from herald_core.accounts.sending_limits import parse_warmup_schedule
from herald_core.accounts.shared_gateway import WARMED_UP, SharedGateway
from herald_core.attempt_plan import AttemptPlan
from herald_core.schedules import check_cron


class HeraldSettings(BaseSettings):
    """Settings every service reads; each service reads only the fields it needs."""

    model_config = SettingsConfigDict(env_prefix="HERALD_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How every Kafka client of Herald connects (its producers, consumers, the admin clients
    that create topics and read lag): ``SASL_SSL`` for a production broker with ACLs, each
    service with a principal of its own (docs/kafka-contract.md lists what each needs)."""
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    """Required with ``SASL_PLAINTEXT`` and ``SASL_SSL``, refused otherwise."""
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    """PEM file of the CAs that signed the brokers' certificates (``SSL``, ``SASL_SSL``);
    unset: the system's CAs."""
    kafka_ssl_certfile: str | None = None
    """PEM client certificate, for brokers that authenticate clients by TLS (``SSL``)."""
    kafka_ssl_keyfile: str | None = None
    """The client certificate's private key, when it is not in ``kafka_ssl_certfile``."""
    kafka_ssl_key_password: SecretStr | None = None
    mongodb_url: str = "mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false"
    """Defaults to the local SecantusDB of ``make up`` (deploy/local/mongo.sh says why
    retryWrites=false); point it at any MongoDB."""
    mongodb_database: str = "herald"
    mongodb_writes: Literal["durable", "fast"] = "durable"
    """``durable``: MongoDB acknowledges a write once it is in the journal (``j: true``) and, on a
    replica set, on a majority of its members (``w: "majority"``), so an acknowledged claim
    survives a crash of the database and a message is never claimed, and sent, twice.
    ``fast``: acknowledged from memory (``w: 1``); a crash may lose acknowledged writes. For
    measuring what durability costs, not for running campaigns."""

    send_topic_partitions: int = Field(default=48, ge=1)
    event_topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)

    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=0, ge=0, le=65535)
    """Port of the HTTP surface (campaign: the API; every service: /healthz, /readyz); 0: the
    service's default. Never serves /metrics."""
    metrics_port: int = Field(default=0, ge=0, le=65535)
    """Port of the metrics listener (``GET /metrics`` for Prometheus, nothing else), on
    ``http_host`` too; 0: the service's default (campaign 9401, dispatcher 9402,
    primary-sender 9403, fallback-sender 9404, scheduler 9405). Keep it inside the deployment:
    Prometheus scrapes it, nobody outside needs it."""

    api_token: str | None = None
    """Bearer token of the default tenant; upserted into ``api_keys`` at campaign start-up."""
    default_tenant: str = "default"

    default_account_id: str = "default"
    """The sender account of every message of a tenant that has no sender accounts (the senders
    then use the gateway configured below)."""

    gateway_adapter: Literal["waha", "evolution"] = "waha"
    """Which HTTP API the gateway at ``gateway_url`` speaks (sender.gateways.build_gateway)."""
    gateway_url: str = "http://127.0.0.1:3100"
    gateway_api_key: str | None = None
    gateway_session: str = "default"
    gateway_timeout_seconds: float = 30.0
    """Each gateway call's timeout. Keep it well above 5 s (``herald_gateways.waha.
    MIN_TIMEOUT_SECONDS``, 10): WAHA waits 5 s for a session that is not WORKING before its
    422, which moves the message to the other engine; a shorter timeout turns that into a
    ``gateway-timeout``, which does not. The claim lease must outlast it
    (``claim_lease_seconds``)."""
    session_poll_seconds: float = Field(default=30.0, gt=0)
    """How often each sender process checks the health of its engine's session of every
    enabled sender account (and of the gateway above); a session not WORKING is not sent
    through until a check finds it WORKING again."""
    outbound_allow: str = ""
    """Non-public addresses a tenant's URLs (media, sender accounts' gateways, notification
    endpoints) may point at all the same: a comma list of CIDRs and host names (``127.0.0.1/32``
    for the local simulators, ``waha-noweb,waha-webjs`` for gateways in the cluster). Empty:
    public addresses only. The deployment's own gateway (``gateway_url``) needs no entry."""
    number_check_hours: float = Field(default=168.0, ge=0)
    """Before a number's first send, the sender asks the account's gateway whether it is on
    WhatsApp (WAHA answers 201 to a send to a number that is not, and the message never gets
    past the server), in a paced turn of the account like a send; a number that is not fails as
    ``not-on-whatsapp`` without a send. Each answer is kept per tenant for this many hours.
    0 turns the check off."""
    reply_window: timedelta = timedelta(days=7)
    """A recipient's message counts as a reply to the latest campaign message sent to it from
    the same account within this long before (``7d``, ``12h``, ``P7D``)."""
    suppression_scope: Literal["tenant", "global"] = "tenant"
    """Whose opt-outs a number's suppression follows: the tenant's own (a STOP sent to tenant
    B's number does not stop tenant A's messages), or, when the operator chooses ``global``,
    every tenant's."""
    suppression_refresh_seconds: float = Field(default=1.0, gt=0)
    """A sender keeps each tenant's suppression list in memory and reads its changes at most
    this often (one query per tenant, never one per send): an opt-out stops the messages
    claimed from this long after it on."""
    account_cache_seconds: float = Field(default=5.0, ge=0)
    """How long a sender remembers a sender account (gateway, session, enabled): a change or a
    disable reaches the senders within this time."""

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
    pace_scale: float = Field(default=1.0, ge=0)
    """Multiplies every anti-ban gap (fast 2-5 s, balanced 5-10 s, safe 10-30 s): 1 in
    production; tests and demos shorten the gaps proportionally (0.001); 0 turns pacing off
    (no gaps, and no hold of the account in MongoDB: an account's sends may then overlap)."""
    pace_lease_seconds: float = Field(default=30.0, ge=0, le=300)
    """A sender process leases each account it sends (in MongoDB) and keeps its pace in memory
    meanwhile: a lease lasts one send's gateway timeout, its gap and this long (scaled by
    ``pace_scale``), and is extended as the account keeps sending. Longer: fewer MongoDB writes
    per send; shorter: the other route's sender, or a partition's new owner, waits less for
    the account (about this long at most), and so does everyone for an account held by a
    sender that died (its gateway timeout, a gap and this long). 0 turns leases off (two
    MongoDB round trips or more per paced send)."""
    sender_max_in_flight: int = Field(default=4000, ge=1)
    """The records a sender's account lanes may hold unfinished, all its partitions together
    (each gets an even share; a partition is paused at its share and resumed at half of it):
    the sender's memory stays bounded whatever the lag, the partition count or N."""

    dispatch_batch_size: int = Field(default=2000, ge=1)
    """Contacts a fan-out turns into messages per batch (after a first batch of 50 that
    doubles up to this), and messages per batch of a resume, release or redrive. Each batch
    costs a round of MongoDB round trips (caps of every sender account, the insert, the
    watermark), so fewer, bigger batches fan out faster (figures in docs/benchmarks.md)."""

    account_hourly_cap: int = Field(default=150, ge=1)
    """Messages a new sender account may be given per clock hour (UTC); each account keeps its
    own cap, set from this one when it is created."""
    account_daily_cap: int = Field(default=1000, ge=1)
    """Messages a new sender account may be given per day (UTC), once warmed up."""
    account_warmup_schedule: str = "50, 100, 200, 400, 700"
    """Daily allowance of a new sender account on its first days after activation (day 1, day 2,
    …; capped by its daily cap); empty: no warm-up. Each account keeps its own copy."""
    shared_gateway: bool = True
    """Whether tenants without sender accounts of their own send through the gateway configured
    above (``gateway_url``), as the account ``default_account_id``: one number for them all,
    capped like any account (the two settings below). Off: a tenant without an account cannot
    launch a campaign (refused naming the ``accounts`` quota) until it adds one."""
    shared_gateway_hourly_cap: int | None = Field(default=None, ge=1)
    """Messages the shared gateway may be given per clock hour (UTC), all tenants together;
    unset: ``account_hourly_cap``."""
    shared_gateway_daily_cap: int | None = Field(default=None, ge=1)
    """Messages the shared gateway may be given per day (UTC); unset: ``account_daily_cap``."""
    shared_gateway_activated_at: datetime | None = None
    """Day 1 of the shared number's warm-up (``account_warmup_schedule``); unset: no warm-up
    (an established number)."""
    deferred_release_interval_seconds: float = Field(default=30.0, gt=0)
    """How often the dispatcher gives the messages no account had room for another chance."""

    campaign_state_cache_seconds: float = Field(default=1.0, ge=0)
    """How long a sender trusts a campaign's status (running, paused, cancelled) it read: a
    pause or cancel stops new gateway calls within this time."""

    scheduler_lease_seconds: float = Field(default=10.0, gt=0)
    """How long the active scheduler replica's lease lasts without renewal: when it dies,
    another replica takes over within this time."""
    scheduler_tick_seconds: float = Field(default=0.25, gt=0)
    """The longest the active scheduler sleeps between looks for due jobs (it wakes earlier
    for the next known one)."""
    redrive_cron: str = "0 * * * *"
    """When the scheduler redrives retryable failed messages (cron, in ``system_jobs_timezone``)."""
    sweep_cron: str = "*/5 * * * *"
    """When the scheduler runs the queue processor and sweep: re-publish pending messages never
    published, resolve expired claims, expire overdue messages, reconcile counters, complete
    campaigns."""
    retention_cron: str = "23 * * * *"
    """When the scheduler archives and deletes the messages of runs past their tenant's
    retention (docs/retention.md)."""
    message_retention_days: int = Field(default=90, ge=0, le=36_500)
    """Days a campaign run's messages stay in MongoDB after the run ended; then they are
    archived (gzipped JSON Lines, ``HERALD_ARCHIVE_URL``) and deleted. An operator may set a
    tenant's own (``messageRetentionDays`` of ``PUT /api/admin/tenants/{tenantId}/quotas``)."""
    system_jobs_timezone: str = "UTC"
    auto_pause_min_attempts: int = Field(default=20, ge=1)
    """The sweep pauses a running campaign by itself ("paused by the system") once at least this
    many of its messages ended since its launch or last resume …"""
    auto_pause_failure_ratio: float = Field(default=0.8, gt=0, le=1)
    """… and at least this share of them failed: a broken number or gateway, not bad luck."""

    handler_attempts: int = Field(default=3, ge=1)
    """How many times a consumer tries a record (a command, a campaign event, a send, a delayed
    attempt, a dead letter; the scheduler a firing, the sweep a campaign) whose handling fails
    with an error that is not an outage of MongoDB or Kafka; then the record becomes a dead
    letter naming the error (``internal-error``) and the consumer moves on. Outages are retried
    with back-off for as long as they last."""
    handler_backoff_seconds: float = Field(default=0.5, ge=0)
    """The wait before a failed record's second try; it doubles with each further one (at most
    5 s, outages included)."""

    notification_max_attempts: int = Field(default=8, ge=1)
    """Deliveries of one campaign notification to one webhook endpoint before giving up."""
    notification_backoff_seconds: float = Field(default=2.0, gt=0)
    """First wait before retrying a failed notification; it doubles with each attempt."""
    notification_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator(
        "kafka_sasl_mechanism",
        "kafka_sasl_username",
        "kafka_sasl_password",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "kafka_ssl_key_password",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose and Kubernetes pass an unused variable as "": that is "not set".
        return None if value == "" else value

    @model_validator(mode="after")
    def _usable_kafka_security(self) -> HeraldSettings:
        problem = kafka_security_problem(self)
        if problem is not None:
            raise ValueError(problem)  # at start-up, naming the setting, not at first connect
        return self

    @field_validator("redrive_cron", "sweep_cron", "retention_cron")
    @classmethod
    def _readable_cron(cls, value: str) -> str:
        check_cron(value)
        return value

    @field_validator("account_warmup_schedule")
    @classmethod
    def _readable_warmup_schedule(cls, value: str) -> str:
        parse_warmup_schedule(value)  # fail at start-up, naming the allowance it cannot read
        return value

    @field_validator("attempt_plan")
    @classmethod
    def _readable_attempt_plan(cls, value: str) -> str:
        AttemptPlan.parse(value)  # fail at start-up, naming the step it cannot read
        return value

    def shared_gateway_caps(self) -> SharedGateway | None:
        """The shared gateway's account id, caps and warm-up; None when it is off."""
        if not self.shared_gateway:
            return None
        return SharedGateway(
            account_id=self.default_account_id,
            hourly_cap=self.shared_gateway_hourly_cap or self.account_hourly_cap,
            daily_cap=self.shared_gateway_daily_cap or self.account_daily_cap,
            warmup_schedule=(
                parse_warmup_schedule(self.account_warmup_schedule)
                if self.shared_gateway_activated_at is not None
                else ()
            ),
            activated_at=self.shared_gateway_activated_at or WARMED_UP,
        )

    @model_validator(mode="after")
    def _distinct_ports(self) -> HeraldSettings:
        if self.metrics_port and self.metrics_port == self.http_port:
            raise ValueError(
                "HERALD_METRICS_PORT must differ from HERALD_HTTP_PORT: metrics are served on "
                "their own listener, never on the HTTP port"
            )
        return self


_SSL_PROTOCOLS = ("SSL", "SASL_SSL")
_SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")


def kafka_security_problem(settings: HeraldSettings) -> str | None:
    """What is wrong with the ``HERALD_KAFKA_*`` security settings taken together, or None: a
    SASL protocol without its mechanism or credentials, credentials or TLS files that the
    protocol would ignore (a setting silently ignored is a broker silently reached without
    it), a TLS file that does not exist."""
    protocol = settings.kafka_security_protocol
    sasl = {
        "HERALD_KAFKA_SASL_MECHANISM": settings.kafka_sasl_mechanism,
        "HERALD_KAFKA_SASL_USERNAME": settings.kafka_sasl_username,
        "HERALD_KAFKA_SASL_PASSWORD": settings.kafka_sasl_password,
    }
    tls = {
        "HERALD_KAFKA_SSL_CAFILE": settings.kafka_ssl_cafile,
        "HERALD_KAFKA_SSL_CERTFILE": settings.kafka_ssl_certfile,
        "HERALD_KAFKA_SSL_KEYFILE": settings.kafka_ssl_keyfile,
        "HERALD_KAFKA_SSL_KEY_PASSWORD": settings.kafka_ssl_key_password,
    }
    if protocol in _SASL_PROTOCOLS:
        missing = [name for name, value in sasl.items() if not _given(value)]
        if missing:
            return f"HERALD_KAFKA_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}"
    else:
        ignored = [name for name, value in sasl.items() if _given(value)]
        if ignored:
            return (
                f"{', '.join(ignored)} set, but HERALD_KAFKA_SECURITY_PROTOCOL={protocol} does "
                "not use SASL (SASL_PLAINTEXT or SASL_SSL does)"
            )
    if protocol not in _SSL_PROTOCOLS:
        ignored = [name for name, value in tls.items() if _given(value)]
        if ignored:
            return (
                f"{', '.join(ignored)} set, but HERALD_KAFKA_SECURITY_PROTOCOL={protocol} does "
                "not use TLS (SSL or SASL_SSL does)"
            )
    if _given(settings.kafka_ssl_keyfile) and not _given(settings.kafka_ssl_certfile):
        return "HERALD_KAFKA_SSL_KEYFILE set without HERALD_KAFKA_SSL_CERTFILE"
    for name in (
        "HERALD_KAFKA_SSL_CAFILE",
        "HERALD_KAFKA_SSL_CERTFILE",
        "HERALD_KAFKA_SSL_KEYFILE",
    ):
        path = tls[name]
        if isinstance(path, str) and path and not Path(path).is_file():
            return f"{name}: no such file {path}"
    return None


def _given(value: str | SecretStr | None) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)


@lru_cache(maxsize=1)
def get_settings() -> HeraldSettings:
    """The process-wide settings, read once from the environment."""
    return HeraldSettings()
