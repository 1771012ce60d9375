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
from dataclasses import dataclass, replace
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from herald_simulator.config import (
    WAHA_VERSION,
    FaultMode,
    SessionStatus,
    SimulatorConfig,
    WahaTier,
)
from herald_simulator.errors import SimError, bad_request
from herald_simulator.evolution_routes import add_evolution_routes
from herald_simulator.faults import FaultSettings, apply_update, decide, draw_latency_seconds
from herald_simulator.ids import MessageIdGenerator
from herald_simulator.ledger import MediaSent, Outcome, SendLedger, ledger_key
from herald_simulator.lids import LidDirectory
from herald_simulator.receipts import (
    AckTarget,
    ReceiptSender,
    split_receipt_fields,
    updated_config,
)
from herald_simulator.recipient_routes import add_recipient_routes
from herald_simulator.recipients import RecipientPlayer, message_reached_phone
from herald_simulator.session_webhooks import waha_config_problems
from herald_simulator.sessions import SessionRegistry
from herald_simulator.shapes import sent_media_message, sent_message
from herald_simulator.validation import CHAT_ID_PATTERN
from herald_simulator.waha_auth import add_waha_auth_routes
from herald_simulator.waha_lids import add_waha_lids_routes
from herald_simulator.waha_sessions import (
    AVAILABLE_IN_PLUS,
    CORE_ONLY_DEFAULT,
    NOT_IMPLEMENTED_BY_ENGINE,
    announce_status,
    check_waha_key,
    nest_error,
    schedule_waha_receipt,
    waha_media_sent,
    waha_serves,
    waha_session_gate,
)

log = logging.getLogger("herald_simulator")

API_KEY_HEADER = "X-Api-Key"
HERALD_ID_HEADER = "X-Herald-Message-Id"


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
    not_on_whatsapp: set[str]
    """Numbers (digits) WhatsApp does not know (``PUT /_sim/config`` ``notOnWhatsapp``)."""
    recipients: RecipientPlayer
    """The numbers that write back (``/_sim/recipients``)."""
    lids: LidDirectory
    """The lids the simulator has shown, and the numbers behind them."""

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
            receipts=ReceiptSender(
                config.receipts, transport=webhook_transport, tier=config.tier.value
            ),
            not_on_whatsapp=set(config.not_on_whatsapp),
            recipients=RecipientPlayer(config.recipients, seed=config.seed),
            lids=LidDirectory(),
        )

    def begin_shutdown(self) -> None:
        """Release requests hanging in the 'timeout' mode (call on the event loop's thread)."""
        self.stopping.set()
        self.receipts.cancel_pending()
        self.recipients.cancel_pending()

    def config_json(self) -> dict[str, Any]:
        return {
            **self.settings.to_json(),
            "engine": self.config.engine.value,
            "tier": self.config.tier.value,
            "profile": self.config.profile.value,
            "notWorkingWaitSeconds": self.config.not_working_wait,
            "notOnWhatsapp": sorted(self.not_on_whatsapp),
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
    except (ValueError, UnicodeDecodeError) as error:
        # NestJS's body parser: 400 {statusCode, message, error}, no field named
        raise SimError(400, "Bad Request", message=str(error)) from None


def _partial_str(body: Any, key: str) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


def _not_on_whatsapp(fields: Any) -> set[str] | None:
    """Take ``notOnWhatsapp`` (a list of numbers, digits) out of a ``PUT /_sim/config`` body."""
    if not isinstance(fields, dict) or "notOnWhatsapp" not in fields:
        return None
    numbers = fields.pop("notOnWhatsapp")
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        raise bad_request("notOnWhatsapp", "must be a list of numbers (strings of digits)")
    return {n.lstrip("+") for n in numbers}


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

    def check_waha(request: Request) -> None:
        check_waha_key(config, request)

    waha_auth = [Depends(check_waha)]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # ---- WAHA subset -------------------------------------------------------------------------

    @app.get("/api/server/version", dependencies=waha_auth)
    async def server_version() -> dict[str, Any]:
        return {
            "version": WAHA_VERSION,
            "engine": config.engine.value,
            "tier": config.tier.value,
            "browser": None,
        }

    async def waha_send(request: Request, kind: str | None) -> Response:
        """sendText (``kind`` None) and the media routes (``image``, ``video``,
        ``document``): the same checks, faults, ledger and receipts."""
        ledger = state.ledger
        herald_id = request.headers.get(HERALD_ID_HEADER) or None
        now = time.time()
        body: Any = None
        chat_id, text = "", ""
        media: MediaSent | None = None

        def record(
            outcome: Outcome,
            status: int,
            session: str,
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
                media=media,
            )

        try:
            check_waha(request)
            body = await _json_body(request)
        except SimError as err:
            outcome = Outcome.UNAUTHORIZED if err.status == 401 else Outcome.INVALID_REQUEST
            record(outcome, err.status, "", keyed=herald_id is not None)
            return _error(err)
        # WAHA does not validate these bodies: whatever is missing fails further on.
        name = _partial_str(body, "session") or "default"
        chat_id = _partial_str(body, "chatId")
        text = _partial_str(body, "text" if kind is None else "caption")
        if kind is not None:
            media = waha_media_sent(kind, body)

        refused = await waha_session_gate(state, name)
        if refused is not None:
            known = state.sessions.get(name) is not None and waha_serves(config, name)
            outcome = Outcome.SESSION_NOT_WORKING if known else Outcome.UNKNOWN_SESSION
            record(outcome, refused.status_code, name)
            return refused
        session = state.sessions.require(name)
        if kind is not None and config.tier is WahaTier.CORE:
            # Core's engines: sendImage and sendFile are a Plus feature, sendVideo not there
            record(Outcome.NOT_SUPPORTED, 422, name)
            message = NOT_IMPLEMENTED_BY_ENGINE if kind == "video" else AVAILABLE_IN_PLUS
            return JSONResponse(nest_error(422, message), 422)
        unusable = not text if kind is None else media is None or media.source is None
        if not CHAT_ID_PATTERN.fullmatch(chat_id) or unusable:
            # The engine throws on a chat id it cannot parse, no text, no file: NestJS's 500.
            record(Outcome.INVALID_REQUEST, 500, name, keyed=herald_id is not None)
            return JSONResponse(
                {"statusCode": 500, "exception": {"message": "Cannot send: bad chatId or body"}},
                status_code=500,
            )

        settings = state.settings
        mode = decide(settings, session.name, state.rng)
        target = AckTarget(
            session.name,
            session.engine.value,
            session.me_id,
            chat_id,
            "",
            reachable=chat_id.partition("@")[0] not in state.not_on_whatsapp
            and mode is not FaultMode.PERMANENT_INVALID_NUMBER,
        )
        if mode is FaultMode.TIMEOUT:
            gateway_id = None
            if settings.timeout_delivers:
                gateway_id = state.ids.next_id()
                record(Outcome.TIMEOUT_DELIVERED, 504, name, gateway_id)
                # it went out: WhatsApp acknowledges it all the same
                schedule_waha_receipt(
                    state, session, replace(target, gateway_message_id=gateway_id)
                )
                if target.reachable:
                    message_reached_phone(state, target)
            else:
                record(Outcome.TIMEOUT, 504, name)
            try:
                await asyncio.wait_for(state.stopping.wait(), settings.timeout_seconds)
            except TimeoutError:
                return _error(SimError(504, "Gateway timeout (simulated)"))
            return _error(SimError(503, "Simulator shutting down"))

        await asyncio.sleep(draw_latency_seconds(settings, state.rng))

        if mode is FaultMode.FAIL_5XX:
            record(Outcome.FAIL_5XX, 500, name)
            return JSONResponse(
                {"statusCode": 500, "exception": {"message": "simulated gateway failure"}},
                status_code=500,
            )
        if mode is FaultMode.RATE_LIMIT:
            record(Outcome.RATE_LIMITED, 429, name)
            return _error(
                SimError(429, "Too Many Requests (simulated rate limit)"),
                headers={"Retry-After": str(settings.retry_after_seconds)},
            )
        if mode is FaultMode.BAD_REQUEST:
            record(Outcome.INVALID_REQUEST, 400, name)
            return JSONResponse(nest_error(400, "simulated: the body was refused"), 400)

        gateway_id = state.ids.next_id()
        outcome = Outcome.ACCEPTED if target.reachable else Outcome.NOT_ON_WHATSAPP
        record(outcome, 201, name, gateway_id)
        schedule_waha_receipt(state, session, replace(target, gateway_message_id=gateway_id))
        if target.reachable:
            message_reached_phone(state, target)
        if mode is FaultMode.ACCEPTED_WITHOUT_ID:  # as WAHA's WEBJS did (devlikeapro/waha#1087)
            return Response(status_code=201)
        if media is not None:
            payload = sent_media_message(
                session.engine,
                kind=media.kind,
                chat_id=chat_id,
                mimetype=media.mimetype or "",
                filename=media.filename,
                caption=text,
                message_id=gateway_id,
                timestamp=int(now),
                me_id=session.me_id,
            )
        else:
            payload = sent_message(
                session.engine,
                chat_id=chat_id,
                text=text,
                message_id=gateway_id,
                timestamp=int(now),
                me_id=session.me_id,
            )
        return JSONResponse(payload, status_code=201)

    @app.post("/api/sendText", status_code=201)
    async def send_text(request: Request) -> Response:
        return await waha_send(request, None)

    @app.post("/api/sendImage", status_code=201)
    async def send_image(request: Request) -> Response:
        return await waha_send(request, "image")

    @app.post("/api/sendVideo", status_code=201)
    async def send_video(request: Request) -> Response:
        return await waha_send(request, "video")

    @app.post("/api/sendFile", status_code=201)
    async def send_file(request: Request) -> Response:
        return await waha_send(request, "document")

    @app.get("/api/contacts/check-exists", dependencies=waha_auth)
    async def check_exists(
        phone: Annotated[str, Query()], session: Annotated[str, Query()] = "default"
    ) -> Response:
        refused = await waha_session_gate(state, session)
        if refused is not None:
            return refused
        digits = phone.partition("@")[0].lstrip("+")
        unknown = state.settings.mode_for(session) is FaultMode.PERMANENT_INVALID_NUMBER
        if (
            unknown
            or digits in state.not_on_whatsapp
            or not CHAT_ID_PATTERN.fullmatch(f"{digits}@c.us")
        ):
            return JSONResponse({"numberExists": False})
        return JSONResponse({"numberExists": True, "chatId": f"{digits}@c.us"})

    add_waha_auth_routes(app, state)  # GET /api/{session}/auth/qr
    add_waha_lids_routes(app, state)  # GET /api/{session}/lids/{lid}
    add_evolution_routes(app, state)  # Evolution API's subset, on the same sessions

    @app.get("/api/sessions", dependencies=waha_auth)
    async def list_sessions() -> list[dict[str, Any]]:
        return [s.to_waha_json() for s in state.sessions.all() if waha_serves(config, s.name)]

    @app.get("/api/sessions/{name}", dependencies=waha_auth)
    async def get_session(name: str) -> Response:
        session = state.sessions.get(name)
        if session is None or not waha_serves(config, name):
            return JSONResponse(nest_error(404, "Session not found"), 404)
        return JSONResponse(session.to_waha_json())

    @app.post("/api/sessions", dependencies=waha_auth)
    async def create_session(request: Request) -> Response:
        body = await _json_body(request)
        name = _partial_str(body, "name") or "default"
        if not waha_serves(config, name):
            return JSONResponse(nest_error(422, CORE_ONLY_DEFAULT), 422)
        if state.sessions.get(name) is not None:
            message = f"Session '{name}' already exists. Use PUT to update it."
            return JSONResponse(nest_error(422, message), 422)
        problems = waha_config_problems(body.get("config") if isinstance(body, dict) else None)
        if problems:
            return JSONResponse(nest_error(400, problems), 400)
        session = state.sessions.create(name, SessionStatus.STOPPED)
        session.config = body.get("config") if isinstance(body, dict) else None
        return JSONResponse(session.to_waha_json(), 201)

    @app.put("/api/sessions/{name}", dependencies=waha_auth)
    async def update_session(name: str, request: Request) -> Response:
        body = await _json_body(request)
        if not waha_serves(config, name):
            return JSONResponse(nest_error(422, CORE_ONLY_DEFAULT), 422)
        session = state.sessions.get(name)
        if session is None:
            return JSONResponse(nest_error(404, "Session not found"), 404)
        new_config = body.get("config") if isinstance(body, dict) else None
        problems = waha_config_problems(new_config)
        if problems:
            return JSONResponse(nest_error(400, problems), 400)
        if session.status is not SessionStatus.STOPPED:
            session.restarts += 1  # WAHA stops a running session, stores the config, starts it
        session.config = new_config
        return JSONResponse(session.to_waha_json())

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
        numbers = _not_on_whatsapp(fault_fields)
        receipts = updated_config(state.receipts.config, receipt_fields)
        apply_update(state.settings, fault_fields)  # validates everything before it changes
        state.receipts.config = receipts
        if numbers is not None:
            state.not_on_whatsapp = numbers
        log.info("config changed: %s", state.config_json())
        return state.config_json()

    @app.delete("/_sim/config", dependencies=auth)
    async def reset_config() -> dict[str, Any]:
        state.settings = FaultSettings.from_config(config)
        state.receipts.config = state.receipts.startup
        state.not_on_whatsapp = set(config.not_on_whatsapp)
        return state.config_json()

    @app.get("/_sim/receipts", dependencies=auth)
    async def receipts_summary() -> dict[str, Any]:
        return state.receipts.to_json()

    @app.get("/_sim/sessions", dependencies=auth)
    async def sim_sessions() -> list[dict[str, Any]]:
        return [s.to_sim_json() for s in state.sessions.all()]

    @app.put("/_sim/sessions/{name}", dependencies=auth)
    async def put_session(name: str, request: Request) -> dict[str, Any]:
        before = state.sessions.get(name)
        was = before.status if before is not None else None
        session = state.sessions.upsert(name, await _json_body(request))
        log.info("session %s: %s (%s)", name, session.status.value, session.engine.value)
        if session.status is not was:
            announce_status(state, session)
        return session.to_waha_json()

    add_recipient_routes(app, state, auth)  # /_sim/recipients, /_sim/phones/{phone}

    @app.post("/_sim/reset", dependencies=auth)
    async def reset_all() -> dict[str, str]:
        state.ledger.reset()
        state.recipients.reset()
        state.lids.reset()
        state.settings = FaultSettings.from_config(config)
        state.sessions.reset()
        state.receipts.reset()
        state.not_on_whatsapp = set(config.not_on_whatsapp)
        return {"status": "reset"}

    return app
