"""Startup configuration of the simulator and the small enums it is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from herald_simulator.receipts import ReceiptConfig


class Engine(StrEnum):
    """WAHA engine whose response shape the simulator imitates."""

    NOWEB = "NOWEB"  # Baileys-based: Baileys-like message object
    WEBJS = "WEBJS"  # whatsapp-web.js: whatsapp-web.js message object


class SessionStatus(StrEnum):
    """WAHA session statuses."""

    STOPPED = "STOPPED"
    STARTING = "STARTING"
    SCAN_QR_CODE = "SCAN_QR_CODE"
    WORKING = "WORKING"
    FAILED = "FAILED"


class FaultMode(StrEnum):
    """Forced outcome of ``POST /api/sendText`` (runtime fault control)."""

    OK = "ok"
    FAIL_5XX = "fail_5xx"
    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    PERMANENT_INVALID_NUMBER = "permanent_invalid_number"
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
                    f"unknown engine {engine_text!r} for session {name!r} (NOWEB or WEBJS)"
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
