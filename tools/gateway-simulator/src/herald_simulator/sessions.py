"""The sessions the simulator knows, with their status and engine, in WAHA's JSON shape."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from herald_simulator.config import Engine, SessionSpec, SessionStatus
from herald_simulator.errors import SimError, bad_request


def fake_me_id(name: str) -> str:
    """A stable, fake own number for a session (``1555`` + 8 digits derived from the name)."""
    return f"1555{zlib.crc32(name.encode()) % 100_000_000:08d}@c.us"


@dataclass(slots=True)
class Session:
    name: str
    engine: Engine
    status: SessionStatus
    me_id: str
    config: dict[str, Any] | None = None
    """WAHA's session ``config`` as last PUT (``webhooks``, ``metadata``, …); None at first."""
    evolution_webhook: dict[str, Any] | None = None
    """Evolution's instance webhook as last set (``/webhook/set``); None: none."""
    restarts: int = 0
    """How often a ``PUT /api/sessions/{name}`` stopped and started it while it ran, as WAHA
    does (the simulator does not model the seconds of STARTING in between)."""

    def to_waha_json(self) -> dict[str, Any]:
        working = self.status is SessionStatus.WORKING
        return {
            "name": self.name,
            "status": self.status.value,
            "config": self.config,
            "me": {"id": self.me_id, "pushName": f"Herald simulator ({self.name})"}
            if working
            else None,
            "engine": {"engine": self.engine.value},
        }

    def to_sim_json(self) -> dict[str, Any]:
        """The WAHA answer, and what only the simulator tells: its restarts."""
        return {**self.to_waha_json(), "restarts": self.restarts}


class SessionRegistry:
    def __init__(self, specs: tuple[SessionSpec, ...], default_engine: Engine) -> None:
        self._specs = specs
        self.default_engine = default_engine
        self._sessions: dict[str, Session] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the startup sessions, all in their startup status."""
        self._sessions = {
            spec.name: Session(
                name=spec.name,
                engine=spec.engine or self.default_engine,
                status=spec.status,
                me_id=fake_me_id(spec.name),
            )
            for spec in self._specs
        }

    def get(self, name: str) -> Session | None:
        return self._sessions.get(name)

    def require(self, name: str) -> Session:
        session = self._sessions.get(name)
        if session is None:
            raise SimError(404, f"Session '{name}' does not exist", session=name)
        return session

    def all(self) -> list[Session]:
        return list(self._sessions.values())

    def create(self, name: str, status: SessionStatus) -> Session:
        """A new session (WAHA ``POST /api/sessions``, Evolution ``/instance/create``)."""
        session = Session(name, self.default_engine, status, fake_me_id(name))
        self._sessions[name] = session
        return session

    def upsert(self, name: str, body: Any) -> Session:
        """Apply ``PUT /_sim/sessions/{name}``: ``{"status"?: ..., "engine"?: ...}``.

        Creates the session when it does not exist (status defaults to WORKING).
        Raises SimError (400, naming the field).
        """
        if not isinstance(body, dict):
            raise bad_request("body", "must be a JSON object")
        for key in body:
            if key not in ("status", "engine"):
                raise bad_request(key, "unknown field (known: engine, status)")
        status: SessionStatus | None = None
        if "status" in body:
            try:
                status = SessionStatus(body["status"])
            except ValueError:
                choices = ", ".join(s.value for s in SessionStatus)
                raise bad_request("status", f"must be one of {choices}") from None
        engine: Engine | None = None
        if "engine" in body:
            try:
                engine = Engine(body["engine"])
            except ValueError:
                raise bad_request("engine", "must be NOWEB, GOWS or WEBJS") from None
        session = self._sessions.get(name)
        if session is None:
            session = Session(
                name=name,
                engine=engine or self.default_engine,
                status=status or SessionStatus.WORKING,
                me_id=fake_me_id(name),
            )
            self._sessions[name] = session
            return session
        if status is not None:
            session.status = status
        if engine is not None:
            session.engine = engine
        return session
