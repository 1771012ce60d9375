"""Startup configuration of the simulator and the small enums it is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from herald_simulator.receipts import ReceiptConfig
from herald_simulator.recipient_behaviours import RecipientBehaviour


class Engine(StrEnum):
    """WAHA engine whose response shape the simulator imitates."""

    NOWEB = "NOWEB"  # Baileys-based: Baileys-like message object
    GOWS = "GOWS"  # whatsmeow-based (Go): {"id": "true_<chat>_<id>", "_data"}
    WEBJS = "WEBJS"  # whatsapp-web.js: whatsapp-web.js message object


class WahaTier(StrEnum):
    """WAHA's tier: Core serves only the session ``default``, checks no API key, ignores a
    webhook's ``hmac`` and ``customHeaders`` and cannot send media (sendImage and sendFile: 422
    "available only in Plus", sendVideo: 422 "not implemented by the engine"); Plus serves any
    session, honours them and sends media."""

    CORE = "CORE"
    PLUS = "PLUS"


class Profile(StrEnum):
    """``real``: the gateways' own timing (WAHA waits 5 s for a session that is not WORKING
    before its 422); ``fast``: the same answers at once, for test suites and demos."""

    FAST = "fast"
    REAL = "real"


REAL_NOT_WORKING_WAIT_SECONDS = 5.0
"""WAHA's ``WAIT_STATUS_TIMEOUT``: sendText, auth/qr and check-exists wait this long."""
WAHA_VERSION = "2024.10.8"
"""The WAHA release whose answers the simulator gives (GET /api/server/version)."""
EVOLUTION_VERSION = "2.3.6"
"""The Evolution API release whose answers the simulator gives (GET /)."""


class SessionStatus(StrEnum):
    """WAHA session statuses."""

    STOPPED = "STOPPED"
    STARTING = "STARTING"
    SCAN_QR_CODE = "SCAN_QR_CODE"
    WORKING = "WORKING"
    FAILED = "FAILED"


class FaultMode(StrEnum):
    """Forced outcome of a send, text or media (runtime fault control)."""

    OK = "ok"
    FAIL_5XX = "fail_5xx"
    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    PERMANENT_INVALID_NUMBER = "permanent_invalid_number"
    """No number is on WhatsApp: the number checks say so, WAHA answers a send 201 and the
    message stays at ack SERVER, Evolution answers 400 ``[{"exists": false, …}]``."""
    BAD_REQUEST = "bad_request"
    """The gateway refuses the body: WAHA's NestJS 400, Evolution's schema 400 (permanent)."""
    ACCEPTED_WITHOUT_ID = "accepted_without_id"  # sent, but answered 201 with an empty body


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """A session that exists at startup; ``engine`` None means the simulator's default engine."""

    name: str
    engine: Engine | None = None
    status: SessionStatus = SessionStatus.WORKING


def parse_sessions(spec: str) -> tuple[SessionSpec, ...]:
    """Parse ``"default"`` or ``"primary:NOWEB,fallback:WEBJS"`` into session specs.

    Raises ValueError on an empty list, an empty or duplicate name, or an unknown engine.
    """
    result: list[SessionSpec] = []
    seen: set[str] = set()
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        name, sep, engine_text = item.partition(":")
        name = name.strip()
        if not name or "/" in name:
            raise ValueError(f"invalid session name {name!r}")
        if name in seen:
            raise ValueError(f"duplicate session name {name!r}")
        seen.add(name)
        engine: Engine | None = None
        if sep:
            try:
                engine = Engine(engine_text.strip().upper())
            except ValueError:
                raise ValueError(
                    f"unknown engine {engine_text!r} for session {name!r} (NOWEB, GOWS or WEBJS)"
                ) from None
        result.append(SessionSpec(name=name, engine=engine))
    if not result:
        raise ValueError("at least one session name is required")
    return tuple(result)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulator needs at startup. Runtime changes go through ``/_sim/*``."""

    host: str = "127.0.0.1"
    port: int = 3100
    api_key: str | None = None
    engine: Engine = Engine.NOWEB
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    failure_rate: float = 0.0
    sessions: tuple[SessionSpec, ...] = field(default_factory=lambda: (SessionSpec("default"),))
    seed: int | None = None
    timeout_seconds: float = 30.0
    retry_after_seconds: int = 1
    log_level: str = "info"
    receipts: ReceiptConfig = field(default_factory=ReceiptConfig)
    """Delivery receipts (WAHA message.ack webhooks) of accepted sends; off without a URL."""
    tier: WahaTier = WahaTier.PLUS
    profile: Profile = Profile.FAST
    not_working_wait_seconds: float | None = None
    """How long WAHA's routes wait for a session that is not WORKING before answering 422;
    None: the profile's (5 s real, 0 fast)."""
    not_on_whatsapp: frozenset[str] = frozenset()
    """Numbers (digits) WhatsApp does not know: check-exists says so, WAHA still answers a send
    201 (no receipt past SERVER), Evolution refuses it (400 ``exists: false``)."""
    evolution_version: str = EVOLUTION_VERSION
    recipients: tuple[RecipientBehaviour, ...] = ()
    """Numbers that write back to the sessions writing to them (``PUT /_sim/recipients``
    changes them at runtime)."""

    @property
    def not_working_wait(self) -> float:
        if self.not_working_wait_seconds is not None:
            return self.not_working_wait_seconds
        return REAL_NOT_WORKING_WAIT_SECONDS if self.profile is Profile.REAL else 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if self.latency_ms < 0 or self.latency_jitter_ms < 0:
            raise ValueError("latency_ms and latency_jitter_ms must be >= 0")
        if self.timeout_seconds < 0:
            raise ValueError("timeout_seconds must be >= 0")
        if self.retry_after_seconds < 0:
            raise ValueError("retry_after_seconds must be >= 0")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if not self.sessions:
            raise ValueError("at least one session is required")
        if self.api_key == "":
            object.__setattr__(self, "api_key", None)
        if self.not_working_wait_seconds is not None and self.not_working_wait_seconds < 0:
            raise ValueError("not_working_wait_seconds must be >= 0")
