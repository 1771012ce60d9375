"""How WAHA (2024.10.8) answers for a session before it does anything with it, and what it posts
about one; shared by its routes (sendText, check-exists, auth/qr, sessions).

- Core serves only ``default``: any other name is a 422 at once
  (``OnlyDefaultSessionIsAllowed``), on every route that takes a session, and a 404 on
  ``GET /api/sessions/{name}``. Core does not check ``X-Api-Key`` either.
- A session that does not exist or is STOPPED: 404 ``We didn't find a session with name…``.
- A session that is not WORKING: WAHA waits (``WAIT_STATUS_TIMEOUT``, 5 s) for it to become
  WORKING, then answers 422 ``{error, session, status, expected}`` (no ``statusCode``). The
  simulator waits ``SimulatorConfig.not_working_wait`` (5 s in the real profile, 0 in the fast
  one), and answers as soon as the session is WORKING.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse

from herald_simulator.config import SessionStatus, SimulatorConfig, WahaTier
from herald_simulator.errors import SimError
from herald_simulator.ledger import MediaSent
from herald_simulator.receipts import AckTarget
from herald_simulator.session_webhooks import (
    connection_update_event,
    evolution_destinations,
    session_status_event,
    waha_destinations,
)

if TYPE_CHECKING:
    from herald_simulator.app import SimulatorState
    from herald_simulator.sessions import Session

API_KEY_HEADER = "X-Api-Key"
CORE_ONLY_DEFAULT = (
    "WAHA Core support only 'default' session. If you want to run more then one WhatsApp "
    "account - please get WAHA PLUS version. Check this out: https://waha.devlike.pro/"
)
AVAILABLE_IN_PLUS = (
    "The feature is available only in Plus version. Check this out: https://waha.devlike.pro/"
)
"""Core's ``AvailableInPlusVersion`` (src/core/exceptions.ts): sendImage and sendFile of its
NOWEB and WEBJS engines."""
NOT_IMPLEMENTED_BY_ENGINE = "The method is not implemented by the engine."
"""``NotImplementedByEngineError``: sendVideo, which no Core engine overrides."""
SESSION_NOT_WORKING = "Session status is not as expected. Try again later or restart the session"
POLL_SECONDS = 0.05
_EVOLUTION_STATES = {
    SessionStatus.WORKING: "open",
    SessionStatus.STARTING: "connecting",
    SessionStatus.SCAN_QR_CODE: "connecting",
    SessionStatus.STOPPED: "close",
    SessionStatus.FAILED: "close",
}


def nest_error(status: int, message: Any) -> dict[str, Any]:
    """NestJS's answer for an HttpException with a message: ``{statusCode, message, error}``."""
    return {"statusCode": status, "message": message, "error": HTTPStatus(status).phrase}


def waha_media_sent(kind: str, body: Any) -> MediaSent:
    """What a sendImage, sendVideo or sendFile body carries (``file``: ``RemoteFile`` with
    ``url`` or ``BinaryFile`` with base64 ``data``); WAHA checks none of it."""
    file = body.get("file") if isinstance(body, dict) else None
    fields = file if isinstance(file, dict) else {}

    def text(key: str) -> str | None:
        value = fields.get(key)
        return value if isinstance(value, str) else None

    source = "url" if text("url") else "data" if text("data") else None
    return MediaSent(kind, text("mimetype"), text("filename"), source)


def waha_serves(config: SimulatorConfig, session: str) -> bool:
    """Whether WAHA of the configured tier serves a session of this name at all."""
    return config.tier is WahaTier.PLUS or session == "default"


def check_waha_key(config: SimulatorConfig, request: Request) -> None:
    """Raise SimError(401) unless the request carries the expected ``X-Api-Key`` (Plus; Core
    never checks it)."""
    if config.api_key is None or config.tier is WahaTier.CORE:
        return
    given = request.headers.get(API_KEY_HEADER)
    if given is None or not hmac.compare_digest(given.encode(), config.api_key.encode()):
        raise SimError(401, f"Unauthorized: missing or wrong {API_KEY_HEADER} header")


async def waha_session_gate(
    state: SimulatorState,
    name: str,
    expected: SessionStatus = SessionStatus.WORKING,
) -> JSONResponse | None:
    """WAHA's answer refusing to use session ``name`` (None: it is ``expected``, go on)."""
    if not waha_serves(state.config, name):
        return JSONResponse(nest_error(422, CORE_ONLY_DEFAULT), 422)
    session = state.sessions.get(name)
    if session is None or session.status is SessionStatus.STOPPED:
        message = (
            f"We didn't find a session with name '{name}'.\n"
            f"Please start it first by using POST /api/sessions/{name}/start request"
        )
        return JSONResponse(nest_error(404, message), 404)
    deadline = time.monotonic() + state.config.not_working_wait
    while session.status is not expected:
        left = deadline - time.monotonic()
        if left <= 0 or state.stopping.is_set():
            body = {
                "error": SESSION_NOT_WORKING,
                "session": name,
                "status": session.status.value,
                "expected": [expected.value],
            }
            return JSONResponse(body, 422)
        await asyncio.sleep(min(POLL_SECONDS, left))
    return None


def schedule_waha_receipt(state: SimulatorState, session: Session, target: AckTarget) -> None:
    """The receipts of an accepted WAHA send, to the global and the session's webhooks (GOWS
    names the chat by its lid: the lids API knows that lid from now on)."""
    if target.engine == "GOWS":
        state.lids.shown(target.chat_id.partition("@")[0])
    state.receipts.schedule(
        target, waha_destinations(session.config, "message.ack", state.config.tier)
    )


def announce_status(state: SimulatorState, session: Session) -> None:
    """Post a session's new status: WAHA ``session.status`` to its subscribed webhooks, and
    Evolution ``connection.update`` to its instance webhook."""
    tier = state.config.tier
    hooks = waha_destinations(session.config, "session.status", tier)
    if hooks and waha_serves(state.config, session.name):
        me = session.me_id if session.status is SessionStatus.WORKING else None
        event = session_status_event(session.name, session.engine.value, me, session.status, tier)
        state.receipts.post_event(event, hooks)
    instance_hooks = evolution_destinations(session.evolution_webhook, "connection.update")
    if instance_hooks:
        state_name = _EVOLUTION_STATES[session.status]
        event = connection_update_event(session.name, state_name, "http://simulator")
        state.receipts.post_event(event, instance_hooks)
