"""Evolution API's routes (the subset Herald uses), wired to the simulator's shared state.

``GET /`` → the version (``SimulatorConfig.evolution_version``, 2.3.6);
``POST /instance/create`` → 201, or 403 when the name is in use;
``POST /webhook/set/{instance}`` → the instance's webhook (``messages.update`` receipts and
``connection.update`` go there, unsigned, with its headers);
``POST /chat/whatsappNumbers/{instance}`` ``{"numbers"}`` → ``[{"jid", "exists", "number"}]``,
or, when the instance is not open, Baileys' raw Boom error (428 inside a 400), as 2.3.6 does;
a lid (``<digits>@lid``) is answered from the on-WhatsApp cache (``lids.LidDirectory``),
without Baileys, so a list of lids only is answered on a closed instance too;
``POST /message/sendText/{instance}`` ``{"number", "text"}`` → 201 with the sent message;
``POST /message/sendMedia/{instance}`` ``{"number", "mediatype", "mimetype", "media",
"caption", "fileName"}`` → 201 with the sent media message; its schema's and its controller's
400s; 500 ``["Error: Connection Closed"]`` when the instance is not open (the upload fails);
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
from herald_simulator.errors import SimError
from herald_simulator.faults import decide, draw_latency_seconds
from herald_simulator.ledger import MediaSent, Outcome, ledger_key
from herald_simulator.login_qr import qr_png_base64, qr_value
from herald_simulator.receipts import AckTarget
from herald_simulator.recipients import message_reached_phone
from herald_simulator.session_webhooks import evolution_destinations, evolution_webhook

if TYPE_CHECKING:
    from herald_simulator.app import SimulatorState

API_KEY_HEADER = "apikey"
HERALD_ID_HEADER = "X-Herald-Message-Id"
QR_COUNT = 1


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def add_evolution_routes(app: FastAPI, state: SimulatorState) -> None:
    def key_refused(request: Request) -> Response | None:
        expected = state.config.api_key
        given = request.headers.get(API_KEY_HEADER)
        if expected is not None and (
            given is None or not hmac.compare_digest(given.encode(), expected.encode())
        ):
            return _answer(401, evolution.unauthorized())
        return None

    def guard(instance: str, request: Request) -> Response | None:
        """Evolution's guards, in its order: the instance exists, then the ``apikey``."""
        if state.sessions.get(instance) is None:
            return _answer(404, evolution.instance_missing(instance))
        return key_refused(request)

    async def body_of(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return None

    @app.get("/")
    async def welcome() -> Response:
        return _answer(200, evolution.welcome(state.config.evolution_version))

    @app.post("/instance/create")
    async def create_instance(request: Request) -> Response:
        rejected = key_refused(request)
        if rejected is not None:
            return rejected
        body = await body_of(request)
        name = body.get("instanceName") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            return _answer(400, evolution.error_body(400, [['requires property "instanceName"']]))
        if state.sessions.get(name) is not None:
            return _answer(403, evolution.name_in_use(name))
        state.sessions.create(name, SessionStatus.STOPPED)
        return _answer(201, evolution.created_body(name))

    @app.post("/webhook/set/{instance}")
    async def set_webhook(instance: str, request: Request) -> Response:
        rejected = guard(instance, request)
        if rejected is not None:
            return rejected
        try:
            webhook = evolution_webhook(await body_of(request))
        except SimError as err:
            return _answer(400, evolution.error_body(400, err.extra["response"]["message"]))
        session = state.sessions.require(instance)
        session.evolution_webhook = webhook
        return _answer(201, evolution.webhook_body(instance, webhook))

    @app.get("/webhook/find/{instance}")
    async def find_webhook(instance: str, request: Request) -> Response:
        rejected = guard(instance, request)
        if rejected is not None:
            return rejected
        webhook = state.sessions.require(instance).evolution_webhook
        return _answer(200, evolution.webhook_body(instance, webhook) if webhook else {})

    @app.post("/chat/whatsappNumbers/{instance}")
    async def whatsapp_numbers(instance: str, request: Request) -> Response:
        rejected = guard(instance, request)
        if rejected is not None:
            return rejected
        body = await body_of(request)
        numbers = body.get("numbers") if isinstance(body, dict) else None
        if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
            return _answer(400, evolution.error_body(400, [['requires property "numbers"']]))
        closed = state.sessions.require(instance).status is not SessionStatus.WORKING
        if closed and not all(n.endswith("@lid") for n in numbers):
            # Baileys is asked about numbers (not lids), and fails on a closed connection
            return _answer(400, evolution.connection_closed_boom())
        if state.settings.mode_for(instance) is FaultMode.PERMANENT_INVALID_NUMBER:
            unknown = {remote.partition("@")[0] for remote in map(evolution.remote_jid, numbers)}
        else:
            unknown = state.not_on_whatsapp

        def answer(number: str) -> dict[str, Any]:
            if not number.endswith("@lid"):
                return evolution.number_on_whatsapp(number, unknown)
            digits = state.lids.evolution_cached_phone_of(number)
            known = state.recipients.behaviours.get(digits) if digits else None
            return evolution.lid_on_whatsapp(number, digits, known.name if known else None)

        return JSONResponse([answer(n) for n in numbers])

    async def evolution_send(instance: str, request: Request, media_route: bool) -> Response:
        """sendText and sendMedia (``media_route``): the same guards, faults, ledger, receipts."""
        herald_id = request.headers.get(HERALD_ID_HEADER) or None
        now = time.time()
        number, text = "", ""
        media: MediaSent | None = None

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
                media=media,
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
            said = body.get("caption" if media_route else "text")
            text = said if isinstance(said, str) else ""
        try:
            req: evolution.EvolutionSendText | evolution.EvolutionSendMedia
            if media_route:
                req = evolution.parse_send_media(body)
                media = MediaSent(req.mediatype, req.mimetype, req.file_name, req.source)
            else:
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
            # sendMedia fails uploading the file first: Baileys' error, as a list
            closed = [f"Error: {evolution.CONNECTION_CLOSED}"] if media_route else None
            return _answer(500, evolution.error_body(500, closed or evolution.CONNECTION_CLOSED))

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
        unknown = req.remote_jid.partition("@")[0] in state.not_on_whatsapp
        if mode is FaultMode.PERMANENT_INVALID_NUMBER or unknown:
            record(Outcome.PERMANENT_INVALID_NUMBER, 400)
            missing = evolution.not_on_whatsapp(req.remote_jid, req.number)
            return _answer(400, evolution.error_body(400, [missing]))
        if mode is FaultMode.BAD_REQUEST:
            record(Outcome.INVALID_REQUEST, 400)
            return _answer(400, evolution.error_body(400, [["simulated: the body was refused"]]))

        gateway_id = state.ids.next_id()
        record(Outcome.ACCEPTED, 201, gateway_id)
        hooks = evolution_destinations(session.evolution_webhook, "messages.update")
        target = AckTarget(
            instance,
            "EVOLUTION",
            session.me_id,
            req.remote_jid,
            gateway_id,
            instance_id=evolution.instance_id(instance),
        )
        state.receipts.schedule(target, hooks)
        message_reached_phone(state, target)
        if mode is FaultMode.ACCEPTED_WITHOUT_ID:
            return Response(status_code=201)
        if isinstance(req, evolution.EvolutionSendMedia):
            payload = evolution.sent_media_message(
                instance, request=req, message_id=gateway_id, timestamp=int(now)
            )
        else:
            payload = evolution.sent_message(
                instance,
                remote_jid=req.remote_jid,
                text=req.text,
                message_id=gateway_id,
                timestamp=int(now),
            )
        return _answer(201, payload)

    @app.post("/message/sendText/{instance}")
    async def send_text(instance: str, request: Request) -> Response:
        return await evolution_send(instance, request, media_route=False)

    @app.post("/message/sendMedia/{instance}")
    async def send_media(instance: str, request: Request) -> Response:
        return await evolution_send(instance, request, media_route=True)

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
