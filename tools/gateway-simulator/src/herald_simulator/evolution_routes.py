"""Evolution API's routes (the subset Herald uses), wired to the simulator's shared state.

``POST /message/sendText/{instance}`` ``{"number", "text"}`` → 201 with the sent message;
``GET /instance/connectionState/{instance}`` → ``{"instance": {"instanceName", "state"}}``;
``GET /instance/connect/{instance}`` → the login QR while connecting, the connection state
when open, and on a closed instance it starts connecting (the session goes to SCAN_QR_CODE)
and answers the new QR, as Evolution does.

Sends go through the same fault settings (``/_sim/config``) and send ledger (counted by
``X-Herald-Message-Id``) as WAHA's sendText; shapes and rules live in ``evolution``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from herald_simulator import evolution
from herald_simulator.config import FaultMode, SessionStatus
from herald_simulator.faults import decide, draw_latency_seconds
from herald_simulator.ledger import Outcome, ledger_key
from herald_simulator.login_qr import qr_png_base64, qr_value

if TYPE_CHECKING:
    from herald_simulator.app import SimulatorState

API_KEY_HEADER = "apikey"
HERALD_ID_HEADER = "X-Herald-Message-Id"
QR_COUNT = 1


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def add_evolution_routes(app: FastAPI, state: SimulatorState) -> None:
    def guard(instance: str, request: Request) -> Response | None:
        """Evolution's guards, in its order: the instance exists, then the ``apikey``."""
        if state.sessions.get(instance) is None:
            return _answer(404, evolution.instance_missing(instance))
        expected = state.config.api_key
        given = request.headers.get(API_KEY_HEADER)
        if expected is not None and (
            given is None or not hmac.compare_digest(given.encode(), expected.encode())
        ):
            return _answer(401, evolution.unauthorized())
        return None

    @app.post("/message/sendText/{instance}")
    async def send_text(instance: str, request: Request) -> Response:
        herald_id = request.headers.get(HERALD_ID_HEADER) or None
        now = time.time()
        number, text = "", ""

        def record(
            outcome: Outcome, status: int, gateway_id: str | None = None, *, keyed: bool = True
        ) -> None:
            chat = evolution.remote_jid(number) if number else ""
            state.ledger.record(
                ledger_key(herald_id, instance, chat, text) if keyed else None,
                time=now,
                session=instance,
                chat_id=chat,
                text=text,
                outcome=outcome,
                status_code=status,
                gateway_message_id=gateway_id,
            )

        rejected = guard(instance, request)
        if rejected is not None:
            outcome = (
                Outcome.UNKNOWN_SESSION if rejected.status_code == 404 else Outcome.UNAUTHORIZED
            )
            record(outcome, rejected.status_code, keyed=herald_id is not None)
            return rejected
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict):
            number = body["number"] if isinstance(body.get("number"), str) else ""
            text = body["text"] if isinstance(body.get("text"), str) else ""
        try:
            req = evolution.parse_send_text(body)
        except evolution.BadRequest as err:
            not_on_whatsapp = any(isinstance(m, dict) for m in err.messages)
            outcome = (
                Outcome.PERMANENT_INVALID_NUMBER if not_on_whatsapp else Outcome.INVALID_REQUEST
            )
            record(outcome, 400, keyed=herald_id is not None or not_on_whatsapp)
            return _answer(400, evolution.error_body(400, err.messages))

        session = state.sessions.require(instance)
        if session.status is not SessionStatus.WORKING:
            record(Outcome.SESSION_NOT_WORKING, 500)
            return _answer(500, evolution.error_body(500, evolution.CONNECTION_CLOSED))

        settings = state.settings
        mode = decide(settings, instance, state.rng)
        if mode is FaultMode.TIMEOUT:
            if settings.timeout_delivers:
                record(Outcome.TIMEOUT_DELIVERED, 504, state.ids.next_id())
            else:
                record(Outcome.TIMEOUT, 504)
            try:
                await asyncio.wait_for(state.stopping.wait(), settings.timeout_seconds)
            except TimeoutError:
                return _answer(504, evolution.error_body(504, "Gateway timeout (simulated)"))
            return _answer(503, evolution.error_body(503, "Simulator shutting down"))

        await asyncio.sleep(draw_latency_seconds(settings, state.rng))

        if mode is FaultMode.FAIL_5XX:
            record(Outcome.FAIL_5XX, 500)
            return _answer(500, evolution.error_body(500, "simulated gateway failure"))
        if mode is FaultMode.RATE_LIMIT:
            record(Outcome.RATE_LIMITED, 429)
            return _answer(
                429,
                evolution.error_body(429, "Too Many Requests (simulated rate limit)"),
                headers={"Retry-After": str(settings.retry_after_seconds)},
            )
        if mode is FaultMode.PERMANENT_INVALID_NUMBER:
            record(Outcome.PERMANENT_INVALID_NUMBER, 400)
            missing = evolution.not_on_whatsapp(req.remote_jid, req.number)
            return _answer(400, evolution.error_body(400, [missing]))

        gateway_id = state.ids.next_id()
        record(Outcome.ACCEPTED, 201, gateway_id)
        if mode is FaultMode.ACCEPTED_WITHOUT_ID:
            return Response(status_code=201)
        payload = evolution.sent_message(
            instance,
            remote_jid=req.remote_jid,
            text=req.text,
            message_id=gateway_id,
            timestamp=int(now),
        )
        return _answer(201, payload)

    @app.get("/instance/connectionState/{instance}")
    async def connection_state(instance: str, request: Request) -> Response:
        rejected = guard(instance, request)
        if rejected is not None:
            return rejected
        session = state.sessions.require(instance)
        return _answer(200, evolution.connection_state_body(instance, session.status))

    @app.get("/instance/connect/{instance}")
    async def connect(instance: str, request: Request) -> Response:
        rejected = guard(instance, request)
        if rejected is not None:
            return rejected
        session = state.sessions.require(instance)
        if session.status is SessionStatus.WORKING:
            return _answer(200, evolution.connection_state_body(instance, session.status))
        if session.status is SessionStatus.STARTING:
            return _answer(200, evolution.qr_body(None, None, count=0))
        if session.status in (SessionStatus.STOPPED, SessionStatus.FAILED):
            session.status = SessionStatus.SCAN_QR_CODE  # connecting again shows a new QR
        value = qr_value(instance, QR_COUNT)
        return _answer(200, evolution.qr_body(value, qr_png_base64(value), count=QR_COUNT))
