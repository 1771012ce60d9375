"""FastAPI routes of the simulator: WAHA's ``/api`` subset, ``/_sim`` control, ``/healthz``.

The decisions live in the pure modules (faults, ids, ledger, sessions, shapes, validation);
this module only wires them to HTTP.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from herald_simulator.config import FaultMode, SessionStatus, SimulatorConfig
from herald_simulator.errors import SimError, bad_request
from herald_simulator.evolution_routes import add_evolution_routes
from herald_simulator.faults import FaultSettings, apply_update, decide, draw_latency_seconds
from herald_simulator.ids import MessageIdGenerator
from herald_simulator.ledger import Outcome, SendLedger, ledger_key
from herald_simulator.receipts import (
    AckTarget,
    ReceiptSender,
    split_receipt_fields,
    updated_config,
)
from herald_simulator.sessions import SessionRegistry
from herald_simulator.shapes import sent_message
from herald_simulator.validation import parse_send_text
from herald_simulator.waha_auth import add_waha_auth_routes

log = logging.getLogger("herald_simulator")

API_KEY_HEADER = "X-Api-Key"
HERALD_ID_HEADER = "X-Herald-Message-Id"
SESSION_NOT_WORKING = "Session status is not as expected. Try again later or restart the session"


@dataclass(slots=True)
class SimulatorState:
    """Everything one simulator instance holds; reachable as ``app.state.sim``."""

    config: SimulatorConfig
    settings: FaultSettings
    sessions: SessionRegistry
    ledger: SendLedger
    rng: random.Random
    ids: MessageIdGenerator
    stopping: asyncio.Event
    receipts: ReceiptSender

    @classmethod
    def from_config(
        cls, config: SimulatorConfig, *, webhook_transport: httpx.AsyncBaseTransport | None = None
    ) -> SimulatorState:
        rng = random.Random(config.seed)
        return cls(
            config=config,
            settings=FaultSettings.from_config(config),
            sessions=SessionRegistry(config.sessions, config.engine),
            ledger=SendLedger(),
            rng=rng,
            ids=MessageIdGenerator(rng),
            stopping=asyncio.Event(),
            receipts=ReceiptSender(config.receipts, transport=webhook_transport),
        )

    def begin_shutdown(self) -> None:
        """Release requests hanging in the 'timeout' mode (call on the event loop's thread)."""
        self.stopping.set()
        self.receipts.cancel_pending()

    def config_json(self) -> dict[str, Any]:
        return {
            **self.settings.to_json(),
            "engine": self.config.engine.value,
            "seed": self.config.seed,
            "apiKeyRequired": self.config.api_key is not None,
            **self.receipts.config.to_json(),
        }


def _error(err: SimError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=headers)


def _check_api_key(config: SimulatorConfig, request: Request) -> None:
    if config.api_key is None:
        return
    given = request.headers.get(API_KEY_HEADER)
    if given is None or not hmac.compare_digest(given.encode(), config.api_key.encode()):
        raise SimError(401, f"Unauthorized: missing or wrong {API_KEY_HEADER} header")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("body", "must be valid JSON") from None


def _partial_str(body: Any, key: str) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


def create_app(
    config: SimulatorConfig, *, webhook_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build a simulator app with its own state (sessions, fault settings, send ledger);
    ``webhook_transport`` carries its receipts (tests pass an in-process one)."""
    state = SimulatorState.from_config(config, webhook_transport=webhook_transport)
    app = FastAPI(
        title="Herald gateway simulator",
        description="The subset of WAHA's HTTP API that Herald uses, with fault injection "
        "and a send ledger (dev and test tooling).",
        version="0.1.0",
    )
    app.state.sim = state

    @app.exception_handler(SimError)
    async def _sim_error(_: Request, exc: SimError) -> JSONResponse:
        return _error(exc)

    def require_api_key(request: Request) -> None:
        _check_api_key(config, request)

    auth = [Depends(require_api_key)]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # ---- WAHA subset -------------------------------------------------------------------------

    @app.post("/api/sendText", status_code=201)
    async def send_text(request: Request) -> Response:
        ledger = state.ledger
        herald_id = request.headers.get(HERALD_ID_HEADER) or None
        now = time.time()

        def record(
            outcome: Outcome,
            status: int,
            session: str,
            chat_id: str,
            text: str,
            gateway_id: str | None = None,
            *,
            keyed: bool = True,
        ) -> None:
            key = ledger_key(herald_id, session, chat_id, text) if keyed else None
            ledger.record(
                key,
                time=now,
                session=session,
                chat_id=chat_id,
                text=text,
                outcome=outcome,
                status_code=status,
                gateway_message_id=gateway_id,
            )

        body: Any = None
        try:
            _check_api_key(config, request)
            body = await _json_body(request)
            req = parse_send_text(body)
        except SimError as err:
            outcome = Outcome.UNAUTHORIZED if err.status == 401 else Outcome.INVALID_REQUEST
            record(
                outcome,
                err.status,
                _partial_str(body, "session"),
                _partial_str(body, "chatId"),
                _partial_str(body, "text"),
                keyed=herald_id is not None,
            )
            return _error(err)

        session = state.sessions.get(req.session)
        if session is None:
            record(Outcome.UNKNOWN_SESSION, 404, req.session, req.chat_id, req.text)
            return _error(SimError(404, f"Session '{req.session}' does not exist"))
        if session.status is not SessionStatus.WORKING:
            record(Outcome.SESSION_NOT_WORKING, 422, req.session, req.chat_id, req.text)
            return _error(
                SimError(
                    422,
                    SESSION_NOT_WORKING,
                    session=session.name,
                    status=session.status.value,
                    expected=[SessionStatus.WORKING.value],
                )
            )

        settings = state.settings
        mode = decide(settings, session.name, state.rng)
        if mode is FaultMode.TIMEOUT:
            gateway_id = None
            if settings.timeout_delivers:
                gateway_id = state.ids.next_id()
                record(
                    Outcome.TIMEOUT_DELIVERED, 504, req.session, req.chat_id, req.text, gateway_id
                )
                state.receipts.schedule(  # it went out: WhatsApp acknowledges it all the same
                    AckTarget(
                        session.name, session.engine.value, session.me_id, req.chat_id, gateway_id
                    )
                )
            else:
                record(Outcome.TIMEOUT, 504, req.session, req.chat_id, req.text)
            try:
                await asyncio.wait_for(state.stopping.wait(), settings.timeout_seconds)
            except TimeoutError:
                return _error(SimError(504, "Gateway timeout (simulated)"))
            return _error(SimError(503, "Simulator shutting down"))

        await asyncio.sleep(draw_latency_seconds(settings, state.rng))

        if mode is FaultMode.FAIL_5XX:
            record(Outcome.FAIL_5XX, 500, req.session, req.chat_id, req.text)
            return _error(
                SimError(
                    500,
                    "Internal server error (simulated retryable failure)",
                    exception={"message": "simulated gateway failure"},
                )
            )
        if mode is FaultMode.RATE_LIMIT:
            record(Outcome.RATE_LIMITED, 429, req.session, req.chat_id, req.text)
            return _error(
                SimError(429, "Too Many Requests (simulated rate limit)"),
                headers={"Retry-After": str(settings.retry_after_seconds)},
            )
        if mode is FaultMode.PERMANENT_INVALID_NUMBER:
            record(Outcome.PERMANENT_INVALID_NUMBER, 400, req.session, req.chat_id, req.text)
            return _error(
                SimError(
                    400,
                    f"chatId: {req.chat_id} is not a registered WhatsApp number",
                    field="chatId",
                    reason="not_on_whatsapp",
                )
            )

        gateway_id = state.ids.next_id()
        record(Outcome.ACCEPTED, 201, req.session, req.chat_id, req.text, gateway_id)
        state.receipts.schedule(
            AckTarget(session.name, session.engine.value, session.me_id, req.chat_id, gateway_id)
        )
        if mode is FaultMode.ACCEPTED_WITHOUT_ID:  # as WAHA's WEBJS did (devlikeapro/waha#1087)
            return Response(status_code=201)
        payload = sent_message(
            session.engine,
            chat_id=req.chat_id,
            text=req.text,
            message_id=gateway_id,
            timestamp=int(now),
            me_id=session.me_id,
        )
        return JSONResponse(payload, status_code=201)

    add_waha_auth_routes(app, state)  # GET /api/{session}/auth/qr
    add_evolution_routes(app, state)  # Evolution API's subset, on the same sessions

    @app.get("/api/sessions", dependencies=auth)
    async def list_sessions() -> list[dict[str, Any]]:
        return [s.to_waha_json() for s in state.sessions.all()]

    @app.get("/api/sessions/{name}", dependencies=auth)
    async def get_session(name: str) -> dict[str, Any]:
        return state.sessions.require(name).to_waha_json()

    # ---- simulator control -------------------------------------------------------------------

    @app.get("/_sim/sends", dependencies=auth)
    async def sends_summary(
        by_message: Annotated[bool, Query(alias="byMessage")] = True,
    ) -> dict[str, Any]:
        return state.ledger.summary(include_by_message=by_message)

    @app.get("/_sim/sends/{key:path}", dependencies=auth)
    async def sends_for(key: str) -> list[dict[str, Any]]:
        return [r.to_json() for r in state.ledger.sends_for(key)]

    @app.delete("/_sim/sends", dependencies=auth)
    async def reset_sends() -> dict[str, Any]:
        state.ledger.reset()
        return state.ledger.summary()

    @app.get("/_sim/config", dependencies=auth)
    async def get_config() -> dict[str, Any]:
        return state.config_json()

    @app.put("/_sim/config", dependencies=auth)
    async def put_config(request: Request) -> dict[str, Any]:
        receipt_fields, fault_fields = split_receipt_fields(await _json_body(request))
        receipts = updated_config(state.receipts.config, receipt_fields)
        apply_update(state.settings, fault_fields)  # validates everything before it changes
        state.receipts.config = receipts
        log.info("config changed: %s", state.config_json())
        return state.config_json()

    @app.delete("/_sim/config", dependencies=auth)
    async def reset_config() -> dict[str, Any]:
        state.settings = FaultSettings.from_config(config)
        state.receipts.config = state.receipts.startup
        return state.config_json()

    @app.get("/_sim/receipts", dependencies=auth)
    async def receipts_summary() -> dict[str, Any]:
        return state.receipts.to_json()

    @app.get("/_sim/sessions", dependencies=auth)
    async def sim_sessions() -> list[dict[str, Any]]:
        return [s.to_waha_json() for s in state.sessions.all()]

    @app.put("/_sim/sessions/{name}", dependencies=auth)
    async def put_session(name: str, request: Request) -> dict[str, Any]:
        session = state.sessions.upsert(name, await _json_body(request))
        log.info("session %s: %s (%s)", name, session.status.value, session.engine.value)
        return session.to_waha_json()

    @app.post("/_sim/reset", dependencies=auth)
    async def reset_all() -> dict[str, str]:
        state.ledger.reset()
        state.settings = FaultSettings.from_config(config)
        state.sessions.reset()
        state.receipts.reset()
        return {"status": "reset"}

    return app
