"""Each gateway's session states, normalised to Herald's one vocabulary (SessionStatus). Pure.

WAHA (``GET /api/sessions/{session}`` → ``status``): STOPPED, STARTING, SCAN_QR_CODE, WORKING,
FAILED: Herald's vocabulary as it is.

Evolution API (``GET /instance/connectionState/{instance}`` → ``instance.state``, Baileys'
connection states): ``open`` → WORKING; ``connecting`` → SCAN_QR_CODE when the instance holds a
login QR code (``GET /instance/connect/{instance}`` answers one), else STARTING; ``close`` →
STOPPED; ``refused`` (Evolution's name for "QR code limit reached") → FAILED. An answer without
a state (the instance is not loaded) is STOPPED.

Anything else a gateway may add later is FAILED: never WORKING, so nothing is sent through it.
"""

from __future__ import annotations

from typing import Any

from herald_gateways.interface import SessionHealth, SessionStatus

_EVOLUTION_STATES = {
    "open": SessionStatus.WORKING,
    "close": SessionStatus.STOPPED,
    "refused": SessionStatus.FAILED,
}


def waha_status(status: str) -> SessionStatus:
    try:
        return SessionStatus(status)
    except ValueError:
        return SessionStatus.FAILED


def waha_session_health(body: Any) -> SessionHealth:
    """The health in a WAHA session answer (``{"name", "status", "me", "engine"}``)."""
    if not isinstance(body, dict):
        return SessionHealth(SessionStatus.FAILED, "")
    raw = str(body.get("status") or "")
    me = body.get("me")
    engine = body.get("engine")
    return SessionHealth(
        status=waha_status(raw),
        gateway_status=raw,
        me_id=str(me["id"]) if isinstance(me, dict) and me.get("id") else None,
        engine=str(engine["engine"]) if isinstance(engine, dict) and engine.get("engine") else None,
    )


def evolution_state(body: Any) -> str | None:
    """``instance.state`` of a connectionState answer (None when it has none)."""
    instance = body.get("instance") if isinstance(body, dict) else None
    state = instance.get("state") if isinstance(instance, dict) else None
    return state if isinstance(state, str) and state else None


def evolution_status(state: str | None, *, qr_pending: bool) -> SessionStatus:
    """Herald's status of an Evolution connection state; ``qr_pending``: a login QR is held."""
    if state is None:
        return SessionStatus.STOPPED
    if state == "connecting":
        return SessionStatus.SCAN_QR_CODE if qr_pending else SessionStatus.STARTING
    return _EVOLUTION_STATES.get(state, SessionStatus.FAILED)


def health_detail(health: SessionHealth) -> str | None:
    """What Herald shows besides a session's status, however it learnt it (a check, or the
    gateway's own report): who it is paired as, that it waits for a scan, or the gateway's own
    word when it says more (Evolution's ``connecting``)."""
    said = health.gateway_status
    if health.status is SessionStatus.WORKING:
        return f"paired as {health.me_id}" if health.me_id else None
    if health.status is SessionStatus.SCAN_QR_CODE:
        return "waiting for the number to be paired (QR code)"
    if said and said != health.status.value:
        return f"the gateway says {said}"
    return None
