"""Runtime fault settings and the pure decision of what a send's outcome is."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from herald_simulator.config import FaultMode, SimulatorConfig
from herald_simulator.errors import bad_request


@dataclass(slots=True)
class FaultSettings:
    """Mutable runtime settings, changed through ``PUT /_sim/config``."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    failure_rate: float = 0.0
    mode: FaultMode = FaultMode.OK
    session_modes: dict[str, FaultMode] = field(default_factory=dict)
    timeout_seconds: float = 30.0
    timeout_delivers: bool = False
    retry_after_seconds: int = 1

    @classmethod
    def from_config(cls, config: SimulatorConfig) -> FaultSettings:
        return cls(
            latency_ms=config.latency_ms,
            latency_jitter_ms=config.latency_jitter_ms,
            failure_rate=config.failure_rate,
            timeout_seconds=config.timeout_seconds,
            retry_after_seconds=config.retry_after_seconds,
        )

    def mode_for(self, session: str) -> FaultMode:
        """The forced mode for a session: its own override, else the global mode."""
        return self.session_modes.get(session, self.mode)

    def to_json(self) -> dict[str, Any]:
        return {
            "latencyMs": self.latency_ms,
            "latencyJitterMs": self.latency_jitter_ms,
            "failureRate": self.failure_rate,
            "mode": self.mode.value,
            "sessionModes": {name: mode.value for name, mode in self.session_modes.items()},
            "timeoutSeconds": self.timeout_seconds,
            "timeoutDelivers": self.timeout_delivers,
            "retryAfterSeconds": self.retry_after_seconds,
        }


def decide(settings: FaultSettings, session: str, rng: random.Random) -> FaultMode:
    """Outcome of one send that passed validation and the session checks.

    A forced mode (session-scoped first, then global) wins; otherwise a retryable 5xx is drawn
    with probability ``failure_rate``. The generator is consumed only when a draw is needed, so
    a seed reproduces the same sequence for the same requests.
    """
    forced = settings.mode_for(session)
    if forced is not FaultMode.OK:
        return forced
    if settings.failure_rate > 0.0 and rng.random() < settings.failure_rate:
        return FaultMode.FAIL_5XX
    return FaultMode.OK


def draw_latency_seconds(settings: FaultSettings, rng: random.Random) -> float:
    """Latency of one answer: uniform in mean ± jitter, never negative."""
    mean = settings.latency_ms
    jitter = settings.latency_jitter_ms
    if jitter > 0.0:
        mean = rng.uniform(mean - jitter, mean + jitter)
    return max(0.0, mean) / 1000.0


_NUMBER_FIELDS = {
    "latencyMs": "latency_ms",
    "latencyJitterMs": "latency_jitter_ms",
    "timeoutSeconds": "timeout_seconds",
}
_KNOWN_FIELDS = {
    *_NUMBER_FIELDS,
    "failureRate",
    "mode",
    "session",
    "sessionModes",
    "timeoutDelivers",
    "retryAfterSeconds",
}


def _number(body: dict[str, Any], key: str) -> float:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_request(key, "must be a number")
    return float(value)


def _mode(value: Any, key: str) -> FaultMode:
    try:
        return FaultMode(value)
    except ValueError:
        choices = ", ".join(m.value for m in FaultMode)
        raise bad_request(key, f"must be one of {choices}") from None


def apply_update(settings: FaultSettings, body: Any) -> None:
    """Apply a ``PUT /_sim/config`` body; every field is optional.

    ``{"mode": m}`` sets the global mode; ``{"mode": m, "session": s}`` sets the override of
    session ``s`` (``"mode": null`` removes it); ``{"sessionModes": {...}}`` replaces all
    overrides. The body is validated completely before anything changes.
    Raises SimError (400, naming the field).
    """
    if not isinstance(body, dict):
        raise bad_request("body", "must be a JSON object")
    for key in body:
        if key not in _KNOWN_FIELDS:
            raise bad_request(key, f"unknown field (known: {', '.join(sorted(_KNOWN_FIELDS))})")

    numbers: dict[str, float] = {}
    for key, attr in _NUMBER_FIELDS.items():
        if key in body:
            value = _number(body, key)
            if value < 0:
                raise bad_request(key, "must be >= 0")
            numbers[attr] = value
    failure_rate: float | None = None
    if "failureRate" in body:
        failure_rate = _number(body, "failureRate")
        if not 0.0 <= failure_rate <= 1.0:
            raise bad_request("failureRate", "must be between 0 and 1")
    retry_after: int | None = None
    if "retryAfterSeconds" in body:
        value = body["retryAfterSeconds"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad_request("retryAfterSeconds", "must be an integer >= 0")
        retry_after = value
    timeout_delivers: bool | None = None
    if "timeoutDelivers" in body:
        if not isinstance(body["timeoutDelivers"], bool):
            raise bad_request("timeoutDelivers", "must be true or false")
        timeout_delivers = body["timeoutDelivers"]
    session: str | None = None
    if "session" in body and body["session"] is not None:
        if not isinstance(body["session"], str) or not body["session"]:
            raise bad_request("session", "must be a non-empty string or null")
        session = body["session"]
    mode: FaultMode | None = None
    clear_session_mode = False
    if "mode" in body:
        if body["mode"] is None:
            if session is None:
                raise bad_request("mode", "null is only allowed together with a session")
            clear_session_mode = True
        else:
            mode = _mode(body["mode"], "mode")
    elif session is not None:
        raise bad_request("session", "only allowed together with mode")
    session_modes: dict[str, FaultMode] | None = None
    if "sessionModes" in body:
        raw = body["sessionModes"]
        if not isinstance(raw, dict):
            raise bad_request("sessionModes", "must be an object {session: mode}")
        session_modes = {str(k): _mode(v, f"sessionModes.{k}") for k, v in raw.items()}

    for attr, number in numbers.items():
        setattr(settings, attr, number)
    if failure_rate is not None:
        settings.failure_rate = failure_rate
    if retry_after is not None:
        settings.retry_after_seconds = retry_after
    if timeout_delivers is not None:
        settings.timeout_delivers = timeout_delivers
    if session_modes is not None:
        settings.session_modes = session_modes
    if session is None:
        if mode is not None:
            settings.mode = mode
    elif clear_session_mode:
        settings.session_modes.pop(session, None)
    elif mode is not None:
        settings.session_modes[session] = mode
