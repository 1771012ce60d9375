"""The adapters, the receipt handlers and the simulator against the gateways' own bodies
(``fixtures/``, each from its upstream source or from running the real gateway): what Herald
sends is what the gateway takes, what the gateway answers is read as it means, and the simulator
answers in the same shapes. Runs in process: no gateway needed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from herald_campaign.domain.receipts import (
    evolution_acknowledgement,
    gateway_id_candidates,
    waha_acknowledgement,
)
from herald_campaign.entrypoints.rest.gateway_webhook_bodies import (
    EvolutionMessageUpdate,
    WahaMessageAck,
    WahaWebhook,
)
from herald_gateways.evolution import EvolutionGateway
from herald_gateways.failures import classify_http_failure, switches_route
from herald_gateways.inbound import (
    EVOLUTION_UPSERT_EVENT,
    EVOLUTION_UPSERT_EVENTS,
    WAHA_MESSAGE_EVENT,
    InboundMessage,
    evolution_inbound,
    waha_inbound,
)
from herald_gateways.interface import GatewayError, GatewayInfo, MediaFile
from herald_gateways.registry import WEBHOOK_EVENTS
from herald_gateways.support import GatewaySetupCheck, check_gateway_setup
from herald_gateways.waha import WAHA_MEDIA_ROUTES, WahaGateway, gateway_message_id
from herald_simulator import SimulatorConfig, create_app
from herald_simulator.config import Engine, WahaTier, parse_sessions
from tests.real_gateways.contract_fixtures import (
    Webhook,
    exchange,
    exchanges,
    load,
    shape,
    webhooks,
)

BASE = "http://gateway.test"
PHONE = "+919876543210"
Gateway = WahaGateway | EvolutionGateway


class Recorder:
    """A gateway answering each request with the fixture body for its method and path."""

    def __init__(self, answers: dict[tuple[str, str], tuple[int, Any]]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, body = self.answers[(request.method, request.url.path)]
        if body is None:
            return httpx.Response(status)
        return httpx.Response(status, json=body)

    def sent(self, method: str, path: str) -> Any:
        [request] = [r for r in self.requests if (r.method, r.url.path) == (method, path)]
        return json.loads(request.content) if request.content else None


def media_of(request: dict[str, Any]) -> tuple[MediaFile, str]:
    """The MediaFile and caption a fixture's media request was made of (WAHA's ``file``, or
    Evolution's ``mediatype``/``media``/``fileName``)."""
    body = request["body"]
    if "file" in body:
        file = body["file"]
        media = MediaFile(file["mimetype"], file.get("filename"), file.get("url"), file.get("data"))
        return media, body["caption"]
    source = body.get("media", "")
    is_url = source.startswith(("http://", "https://"))
    media = MediaFile(
        body.get("mimetype", "application/octet-stream"),
        body.get("fileName"),
        url=source if is_url else None,
        data_base64=None if is_url else source,
    )
    return media, body.get("caption", "")


def is_media_send(request: dict[str, Any]) -> bool:
    path = request["path"]
    return path in WAHA_MEDIA_ROUTES.values() or path.startswith("/message/sendMedia/")


@asynccontextmanager
async def adapter(
    kind: type[Gateway], *fixture_exchanges: tuple[str, str]
) -> AsyncIterator[tuple[Gateway, Recorder]]:
    answers = {}
    for fixture, name in fixture_exchanges:
        found = exchange(fixture, name)
        answers[(found.request["method"], found.request["path"])] = (found.status, found.body)
    recorder = Recorder(answers)
    gateway = kind(BASE, "key", 10, transport=httpx.MockTransport(recorder.handle))
    try:
        yield gateway, recorder
    finally:
        await gateway.close()


# What Herald sends, and what it reads of the answer


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [
        ("waha-2024.10.8-noweb", WahaGateway),
        ("waha-2024.10.8-webjs", WahaGateway),
        ("waha-gows", WahaGateway),
        ("evolution-2.3.6", EvolutionGateway),
    ],
)
async def test_a_send_is_the_request_the_gateway_takes_and_its_answer_gives_the_bare_id(
    fixture: str, kind: type[Gateway]
) -> None:
    sent = exchange(fixture, "send_text")
    async with adapter(kind, (fixture, "send_text")) as (gateway, recorder):
        session = sent.request["body"].get("session") or sent.request["path"].rsplit("/", 1)[1]
        receipt = await gateway.send_text(session=session, phone=PHONE, text="Hi", message_id="m")
    assert recorder.sent("POST", sent.request["path"]) == sent.request["body"]
    assert receipt.gateway_message_id == sent.message_id


NEVER_SENT = {"evolution-2.3.6:send_media_unnamed_document", "evolution-2.3.6:send_media_schema"}
"""Refusals of bodies the adapter does not make (it names every document; no stickers)."""
MEDIA_SENDS = [
    (kind, found)
    for gateway, kind in (("waha", WahaGateway), ("evolution", EvolutionGateway))
    for with_key in ("reason", "message_id")
    for found in exchanges(gateway, with_key=with_key)
    if is_media_send(found.request) and found.id not in NEVER_SENT
]


@pytest.mark.parametrize(
    ("kind", "found"),
    MEDIA_SENDS,
    ids=lambda value: value.id if hasattr(value, "id") else value.__name__,
)
async def test_a_media_send_is_the_request_the_gateway_takes(
    kind: type[Gateway], found: Any
) -> None:
    """The media route and body the adapter sends for the fixture's file, and its answer read:
    the bare id of a send, the reason of a refusal."""
    media, caption = media_of(found.request)
    session = found.request["body"].get("session") or found.request["path"].rsplit("/", 1)[1]
    answers = {(found.request["method"], found.request["path"]): (found.status, found.body)}
    answers[("GET", "/api/server/version")] = (
        200,
        exchange("waha-2024.10.8-noweb", "server_version").body,
    )
    recorder = Recorder(answers)
    gateway = kind(BASE, "key", 10, transport=httpx.MockTransport(recorder.handle))
    try:
        if found.reason is None:
            receipt = await gateway.send_media(
                session=session, phone=PHONE, media=media, caption=caption, message_id="m"
            )
            assert receipt.gateway_message_id == found.message_id
        else:
            with pytest.raises(GatewayError) as raised:
                await gateway.send_media(
                    session=session, phone=PHONE, media=media, caption=caption, message_id="m"
                )
            assert raised.value.reason == found.reason
    finally:
        await gateway.close()
    assert recorder.sent("POST", found.request["path"]) == found.request["body"]


async def test_evolution_gets_a_name_for_every_document_it_would_refuse_unnamed() -> None:
    refused = exchange("evolution-2.3.6", "send_media_unnamed_document")
    media, caption = media_of(refused.request)
    answers = {
        ("POST", refused.request["path"]): (201, exchange("evolution-2.3.6", "send_media").body)
    }
    recorder = Recorder(answers)
    gateway = EvolutionGateway(BASE, "key", 10, transport=httpx.MockTransport(recorder.handle))
    try:
        await gateway.send_media(
            session="acc1", phone=PHONE, media=media, caption=caption, message_id="m"
        )
    finally:
        await gateway.close()
    assert media.filename is None
    assert recorder.sent("POST", refused.request["path"]) == {
        **refused.request["body"],
        "fileName": "document.pdf",  # its extension keeps the mimetype Evolution reads from it
    }


def test_waha_core_media_refusal_is_permanent_here_but_another_route_may_do_it() -> None:
    for name in ("send_image_core", "send_file_core", "send_video_core"):
        found = exchange("waha-2024.10.8-noweb", name)
        error = classify_http_failure(found.status, json.dumps(found.body))
        assert (error.reason, error.retryable, switches_route(error)) == (
            "not-supported-by-gateway",
            False,
            True,
        )


async def test_an_empty_201_is_a_send_without_id() -> None:
    async with adapter(WahaGateway, ("waha-2024.10.8-webjs", "send_text_empty")) as (gateway, _):
        receipt = await gateway.send_text(session="default", phone=PHONE, text="Hi", message_id="m")
    assert receipt.gateway_message_id is None


@pytest.mark.parametrize(
    ("kind", "found"),
    [(WahaGateway, e) for e in exchanges("waha", with_key="reason")]
    + [(EvolutionGateway, e) for e in exchanges("evolution", with_key="reason")],
    ids=lambda value: value.id if hasattr(value, "id") else value.__name__,
)
async def test_each_error_the_gateway_really_answers_is_classified(
    kind: type[Gateway], found: Any
) -> None:
    async def call(gateway: Gateway) -> object:
        path = found.request["path"]
        if path.startswith("/chat/whatsappNumbers/"):
            return await gateway.check_numbers(path.rsplit("/", 1)[1], [PHONE])
        if found.request["method"] == "GET" and "/sessions/" in path:
            return await gateway.session_health(path.rsplit("/", 1)[1])
        if "connectionState" in path:
            return await gateway.session_health(path.rsplit("/", 1)[1])
        session = (found.request.get("body") or {}).get("session") or path.rsplit("/", 1)[1]
        if is_media_send(found.request):
            media, caption = media_of(found.request)
            return await gateway.send_media(
                session=session, phone=PHONE, media=media, caption=caption, message_id="m"
            )
        return await gateway.send_text(session=session, phone=PHONE, text="Hi", message_id="m")

    answers = {(found.request["method"], found.request["path"]): (found.status, found.body)}
    path = found.request["path"]
    if found.request["method"] == "DELETE":  # Herald never logs out: what a send would get
        answers = {("POST", f"/message/sendText/{path.rsplit('/', 1)[1]}"): answers.popitem()[1]}
    # Core's version answer, asked when a session is refused or unknown
    version = exchange("waha-2024.10.8-noweb", "server_version")
    answers[("GET", "/api/server/version")] = (200, version.body)
    recorder = Recorder(answers)
    gateway = kind(BASE, "key", 10, transport=httpx.MockTransport(recorder.handle))
    try:
        with pytest.raises(GatewayError) as raised:
            await call(gateway)
    finally:
        await gateway.close()
    assert raised.value.reason == found.reason


@pytest.mark.parametrize(
    ("kind", "fixture", "expected"),
    [
        (WahaGateway, "waha-2024.10.8-noweb", GatewayInfo("waha", "2024.10.8", "CORE", "NOWEB")),
        (EvolutionGateway, "evolution-2.3.6", GatewayInfo("evolution", "2.3.6", None, None)),
        (EvolutionGateway, "evolution-1.8.2", GatewayInfo("evolution", "1.8.2", None, None)),
    ],
)
async def test_server_info(kind: type[Gateway], fixture: str, expected: GatewayInfo) -> None:
    async with adapter(kind, (fixture, "server_version")) as (gateway, _):
        assert await gateway.server_info() == expected


def test_what_an_account_is_told_of_each_gateway() -> None:
    core = GatewayInfo("waha", "2024.10.8", "CORE", "NOWEB")
    assert core.single_session_only
    on_default = check_gateway_setup(core, session="default", route="primary")
    on_other = check_gateway_setup(core, session="primary", route="primary")
    assert on_default.refusal is None and not any("only" in w for w in on_default.warnings)
    assert any("serves only the session 'default'" in w for w in on_other.warnings)
    assert any("does not check its API key" in w for w in on_default.warnings)
    webjs_for_primary = check_gateway_setup(
        GatewayInfo("waha", "2024.10.8", "PLUS", "WEBJS"), session="a", route="primary"
    )
    assert webjs_for_primary.warnings == (
        "the gateway's default engine is WEBJS; the primary route needs NOWEB or GOWS "
        "(set the session's engine accordingly)",
    )
    gows = GatewayInfo("waha", "2025.1.1", "PLUS", "GOWS")
    assert check_gateway_setup(gows, session="a", route="primary").warnings == ()
    v1 = check_gateway_setup(GatewayInfo("evolution", "1.8.2", None, None), session="a", route="x")
    assert v1.refusal is not None and "v1" in v1.refusal
    v2 = GatewayInfo("evolution", "2.3.6", None, None)
    assert check_gateway_setup(v2, session="a", route="primary") == GatewaySetupCheck()
    assert not v2.single_session_only


async def test_waha_number_check() -> None:
    fixture = "waha-2024.10.8-noweb"
    known, unknown = exchange(fixture, "check_exists"), exchange(fixture, "check_not_exists")

    def answer(request: httpx.Request) -> httpx.Response:
        found = known if request.url.params["phone"] == known.request["query"]["phone"] else unknown
        assert dict(request.url.params) == found.request["query"]
        return httpx.Response(found.status, json=found.body)

    gateway = WahaGateway(BASE, None, 10, transport=httpx.MockTransport(answer))
    try:
        result = await gateway.check_numbers("default", ["+919876543210", "+919800000000"])
    finally:
        await gateway.close()
    assert result == {"+919876543210": True, "+919800000000": False}


async def test_evolution_number_check_asks_for_the_list_at_once() -> None:
    fixture = "evolution-2.3.6"
    found = exchange(fixture, "whatsapp_numbers")
    async with adapter(EvolutionGateway, (fixture, "whatsapp_numbers")) as (gateway, recorder):
        result = await gateway.check_numbers("acc1", ["+919876543210", "+919800000000"])
    assert recorder.sent("POST", found.request["path"]) == found.request["body"]
    assert result == {"+919876543210": True, "+919800000000": False}


async def test_waha_webhook_keeps_the_sessions_other_settings() -> None:
    fixture = "waha-2024.10.8-noweb"
    wanted = exchange(fixture, "configure_webhook")
    hook = wanted.request["body"]["config"]["webhooks"][0]
    async with adapter(WahaGateway, (fixture, "session"), (fixture, "configure_webhook")) as (
        gateway,
        recorder,
    ):
        await gateway.configure_webhook(
            "default",
            url=hook["url"],
            events=WEBHOOK_EVENTS["waha"],
            headers={"X-Account": "a1"},
            hmac_key="k1",
        )
    assert recorder.sent("PUT", "/api/sessions/default") == wanted.request["body"]


async def test_waha_core_refuses_a_webhook_for_another_session() -> None:
    fixture = "waha-2024.10.8-noweb"
    async with adapter(WahaGateway, (fixture, "server_version")) as (gateway, recorder):
        with pytest.raises(GatewayError) as raised:
            await gateway.configure_webhook(
                "primary", url="http://h/x", events=["message.ack"], headers={}, hmac_key=None
            )
    assert raised.value.reason == "webhook-setup-refused" and not raised.value.retryable
    assert "serves only the session named 'default'" in raised.value.detail
    assert [r.url.path for r in recorder.requests] == ["/api/server/version"]


async def test_evolution_webhook_is_set_with_its_token_header_and_by_events_off() -> None:
    fixture = "evolution-2.3.6"
    wanted = exchange(fixture, "configure_webhook")
    webhook = wanted.request["body"]["webhook"]
    async with adapter(
        EvolutionGateway, (fixture, "server_version"), (fixture, "configure_webhook")
    ) as (gateway, recorder):
        await gateway.configure_webhook(
            "acc1",
            url=webhook["url"],
            events=WEBHOOK_EVENTS["evolution"],
            headers=webhook["headers"],
            hmac_key=None,
        )
    assert recorder.sent("POST", "/webhook/set/acc1") == wanted.request["body"]


async def test_evolution_v1_webhook_is_refused_with_what_to_do() -> None:
    async with adapter(EvolutionGateway, ("evolution-1.8.2", "server_version")) as (gateway, _):
        with pytest.raises(GatewayError) as raised:
            await gateway.configure_webhook(
                "acc1", url="http://h/x", events=["MESSAGES_UPDATE"], headers={}, hmac_key=None
            )
    assert raised.value.reason == "webhook-setup-refused"
    assert "upgrade to Evolution API v2" in raised.value.detail


@pytest.mark.parametrize(("name", "created"), [("create", True), ("create_in_use", False)])
async def test_evolution_instance_is_created_or_adopted(name: str, created: bool) -> None:
    fixture = "evolution-2.3.6"
    async with adapter(EvolutionGateway, (fixture, name)) as (gateway, recorder):
        assert await gateway.ensure_session("acc1") is created
    assert recorder.sent("POST", "/instance/create") == exchange(fixture, name).request["body"]


# What the receipt handlers read of the gateways' webhooks


@pytest.mark.parametrize("found", webhooks("message.ack"), ids=lambda w: w.id)
def test_each_waha_receipt_finds_the_bare_id_its_send_stored(found: Any) -> None:
    event = WahaWebhook.model_validate(found.body)
    ack = WahaMessageAck.model_validate(event.payload)
    acknowledgement = waha_acknowledgement(ack.ack, ack.ack_name)
    assert found.message_id in gateway_id_candidates(ack.id)
    assert acknowledgement.status is not None and acknowledgement.status.value == found.status


@pytest.mark.parametrize(
    "found",
    [w for w in webhooks("messages.update") if w.fixture != "evolution-1.8.2"],
    ids=lambda w: w.id,
)
def test_each_evolution_receipt_names_the_id_its_send_stored(found: Any) -> None:
    update = EvolutionMessageUpdate.model_validate(found.body["data"])
    acknowledgement = evolution_acknowledgement(update.status)
    assert found.message_id in gateway_id_candidates(update.key_id)
    assert acknowledgement.status is not None and acknowledgement.status.value == found.status


def test_evolution_v1_is_refused_before_its_receipts_could_be_misread() -> None:
    [receipt] = [w for w in webhooks("messages.update") if w.fixture == "evolution-1.8.2"]
    assert "keyId" not in receipt.body["data"]  # v1 names the id data.id
    version = load("evolution-1.8.2")["exchanges"]["server_version"]["response"]["body"]
    info = GatewayInfo("evolution", version["version"], None, None)
    assert check_gateway_setup(info, session="acc1", route="primary").refusal is not None


# The simulator answers in the same shapes


@asynccontextmanager
async def simulator(**config: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SimulatorConfig(**config))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as client:
        yield client


def keys_of(shaped: Any) -> set[str]:
    return set(shaped) if isinstance(shaped, dict) else set()


def covers(fixture_body: Any, simulated: Any) -> None:
    """The simulator's answer has every key the gateway's has, with the same types."""
    want, got = shape(fixture_body), shape(simulated)

    def walk(a: Any, b: Any, where: str) -> None:
        if isinstance(a, dict):
            assert isinstance(b, dict), where
            for key, value in a.items():
                if value == "NoneType":
                    continue  # null in the fixture: any value will do
                assert key in b, f"{where}.{key} missing"
                walk(value, b[key], f"{where}.{key}")
        elif a != "NoneType" and b != "NoneType":
            assert a == b, f"{where}: {a} != {b}"

    walk(want, got, "body")


@pytest.mark.parametrize(
    ("engine", "fixture"),
    [
        (Engine.NOWEB, "waha-2024.10.8-noweb"),
        (Engine.WEBJS, "waha-2024.10.8-webjs"),
        (Engine.GOWS, "waha-gows"),
    ],
)
async def test_the_simulators_waha_send_answers_like_the_engine(
    engine: Engine, fixture: str
) -> None:
    sent = exchange(fixture, "send_text")
    async with simulator(engine=engine, sessions=parse_sessions("default,primary")) as client:
        answer = await client.post(sent.request["path"], json=sent.request["body"])
    assert answer.status_code == sent.status
    wanted = {k: v for k, v in sent.body.items() if k != "_data"}  # engine internals
    covers(wanted, answer.json())


@pytest.mark.parametrize(
    ("name", "prepare"),
    [
        ("session_not_working", {"status": "STARTING"}),
        ("session_stopped", {"status": "STOPPED"}),
        ("core_only_default", None),
        ("bad_json", None),
        ("unknown_session", None),
        ("session_created_already", None),
    ],
)
async def test_the_simulators_waha_errors_are_wahas(
    name: str, prepare: dict[str, str] | None
) -> None:
    found = exchange("waha-2024.10.8-noweb", name)
    async with simulator(tier=WahaTier.CORE) as client:
        if prepare:
            await client.put("/_sim/sessions/default", json=prepare)
        method, path = found.request["method"], found.request["path"]
        if "raw" in found.request:
            answer = await client.request(
                method,
                path,
                content=found.request["raw"],
                headers={"Content-Type": "application/json"},
            )
        else:
            answer = await client.request(method, path, json=found.request.get("body"))
    assert answer.status_code == found.status
    assert keys_of(answer.json()) == keys_of(found.body)


@pytest.mark.parametrize(
    "name",
    [
        "send_not_connected",
        "send_not_on_whatsapp",
        "unknown_instance",
        "whatsapp_numbers_closed",
        "create_in_use",
    ],
)
async def test_the_simulators_evolution_errors_are_evolutions(name: str) -> None:
    found = exchange("evolution-2.3.6", name)
    async with simulator(
        sessions=parse_sessions("acc1"), not_on_whatsapp=frozenset({"919800000000"})
    ) as client:
        if name in ("send_not_connected", "whatsapp_numbers_closed"):
            await client.put("/_sim/sessions/acc1", json={"status": "STOPPED"})
        answer = await client.request(
            found.request["method"], found.request["path"], json=found.request.get("body")
        )
    assert answer.status_code == found.status
    covers(found.body, answer.json())


@pytest.mark.parametrize(
    "name", ["send_text", "create", "configure_webhook", "whatsapp_numbers", "server_version"]
)
async def test_the_simulators_evolution_answers_are_evolutions(name: str) -> None:
    found = exchange("evolution-2.3.6", name)
    sessions = "acc0" if name == "create" else "acc1"
    async with simulator(
        sessions=parse_sessions(sessions), not_on_whatsapp=frozenset({"919800000000"})
    ) as client:
        answer = await client.request(
            found.request["method"], found.request["path"], json=found.request.get("body")
        )
    assert answer.status_code == found.status
    if isinstance(found.body, list):
        assert [shape(item) for item in answer.json()] == [shape(i) for i in found.body]
        assert [i["exists"] for i in answer.json()] == [i["exists"] for i in found.body]
    else:
        covers(
            {
                k: v
                for k, v in found.body.items()
                if k not in ("whatsappWebVersion", "websocket", "rabbitmq", "nats", "sqs")
            },
            answer.json(),
        )


@pytest.mark.parametrize(
    ("fixture", "engine", "name", "prepare"),
    [
        ("waha-2024.10.8-noweb", Engine.NOWEB, "send_image_core", None),
        ("waha-2024.10.8-noweb", Engine.NOWEB, "send_file_core", None),
        ("waha-2024.10.8-noweb", Engine.NOWEB, "send_video_core", None),
        ("waha-2024.10.8-noweb", Engine.NOWEB, "send_image_not_working", {"status": "STARTING"}),
        ("waha-2024.10.8-noweb", Engine.NOWEB, "send_file_core_only_default", None),
        ("waha-2024.10.8-webjs", Engine.WEBJS, "send_image_core", None),
        ("waha-2024.10.8-webjs", Engine.WEBJS, "send_file_core", None),
        ("waha-2024.10.8-webjs", Engine.WEBJS, "send_video_core", None),
    ],
)
async def test_the_simulators_waha_core_answers_media_as_core_does(
    fixture: str, engine: Engine, name: str, prepare: dict[str, str] | None
) -> None:
    found = exchange(fixture, name)
    async with simulator(tier=WahaTier.CORE, engine=engine) as client:
        if prepare:
            await client.put("/_sim/sessions/default", json=prepare)
        answer = await client.post(found.request["path"], json=found.request["body"])
    assert answer.status_code == found.status
    assert answer.json() == found.body


@pytest.mark.parametrize(
    ("engine", "fixture"),
    [
        (Engine.NOWEB, "waha-2024.10.8-noweb"),
        (Engine.WEBJS, "waha-2024.10.8-webjs"),
        (Engine.GOWS, "waha-gows"),
    ],
)
@pytest.mark.parametrize("route", sorted(WAHA_MEDIA_ROUTES.values()))
async def test_the_simulators_waha_plus_media_answer_carries_the_id_as_the_engines_send(
    engine: Engine, fixture: str, route: str
) -> None:
    """WAHA Plus's media code is not public: its engines answer a media send with their
    message as they answer sendText, so the id sits where the engine's sendText has it."""
    sent = exchange(fixture, "send_text")
    body = {
        "session": sent.request["body"]["session"],
        "chatId": "919876543210@c.us",
        "file": {"mimetype": "image/jpeg", "filename": "a.jpg", "url": "https://example.com/a"},
        "caption": "Hi",
    }
    async with simulator(
        tier=WahaTier.PLUS, engine=engine, sessions=parse_sessions("default,primary")
    ) as client:
        answer = await client.post(route, json=body, headers={"X-Herald-Message-Id": "m1"})
        [record] = (await client.get("/_sim/sends/m1")).json()
    assert answer.status_code == 201
    wanted = {
        k: v
        for k, v in sent.body.items()
        if k not in ("_data", "message", "body", "type", "hasMedia")
    }
    covers(wanted, answer.json())
    assert gateway_message_id(answer.json()) == record["gatewayMessageId"]
    kind = {v: k for k, v in WAHA_MEDIA_ROUTES.items()}[route]
    assert record["media"] == {
        "kind": kind,
        "mimetype": "image/jpeg",
        "filename": "a.jpg",
        "from": "url",
    }


@pytest.mark.parametrize(
    ("name", "stopped"),
    [
        ("send_media_not_connected", True),
        ("send_media_not_a_url", False),
        ("send_media_unnamed_document", False),
        ("send_media_schema", False),
    ],
)
async def test_the_simulators_evolution_media_errors_are_evolutions(
    name: str, stopped: bool
) -> None:
    found = exchange("evolution-2.3.6", name)
    async with simulator(sessions=parse_sessions("acc1")) as client:
        if stopped:
            await client.put("/_sim/sessions/acc1", json={"status": "STOPPED"})
        answer = await client.post(found.request["path"], json=found.request["body"])
    assert answer.status_code == found.status
    assert answer.json() == found.body


async def test_the_simulators_evolution_media_answer_is_evolutions() -> None:
    found = exchange("evolution-2.3.6", "send_media")
    async with simulator(sessions=parse_sessions("acc1")) as client:
        answer = await client.post(
            found.request["path"],
            json=found.request["body"],
            headers={"X-Herald-Message-Id": "m1"},
        )
        [record] = (await client.get("/_sim/sends/m1")).json()
    assert answer.status_code == found.status
    covers(found.body, answer.json())
    assert answer.json()["messageType"] == found.body["messageType"]
    assert record["media"] == {
        "kind": "document",
        "mimetype": "application/pdf",
        "filename": "offer.pdf",
        "from": "url",
    }


# The simulator's recipients write back in the gateways' shapes, which Herald reads


class Collector:
    """A webhook receiver for the simulator's posts."""

    def __init__(self) -> None:
        self.bodies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.bodies.put_nowait(json.loads(await request.aread()))
        return httpx.Response(200)

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.bodies.get(), 5)


def inbound_read(message: InboundMessage) -> dict[str, Any]:
    """What Herald reads of a message, but its id and time (which differ run to run)."""
    return {
        "phone": message.phone,
        "lid": message.lid is not None,
        "text": message.text,
        "from_recipient": message.from_recipient,
        "push_name": message.push_name,
    }


def inbound_of(found: Webhook) -> dict[str, Any]:
    """The fixture's ``inbound``: what Herald reads of the message."""
    assert found.inbound is not None, f"{found.id} says nothing of what Herald reads"
    return found.inbound


def fixture_read(found: Webhook) -> dict[str, Any]:
    wanted = inbound_of(found)
    return {
        "phone": wanted["phone"],
        "lid": wanted["lid"] is not None,
        "text": wanted["text"],
        "from_recipient": wanted["from_recipient"],
        "push_name": wanted["push_name"],
    }


@pytest.mark.parametrize(
    ("engine", "name", "addressing"),
    [
        (Engine.NOWEB, "waha-2024.10.8-noweb:message", None),
        (Engine.NOWEB, "waha-2024.10.8-noweb:message_lid", "lid"),
        (Engine.WEBJS, "waha-2024.10.8-webjs:message", None),
        (Engine.GOWS, "waha-gows:message", None),
    ],
)
async def test_the_simulators_waha_recipient_writes_as_the_engine_posts(
    engine: Engine, name: str, addressing: str | None
) -> None:
    [found] = [w for w in webhooks("message") if w.id == name]
    payload = found.body["payload"]
    collector = Collector()
    app = create_app(
        SimulatorConfig(engine=engine), webhook_transport=httpx.MockTransport(collector.handle)
    )
    behaviour = {"phone": PHONE, "optOutAfterFirst": True, "optOutText": payload["body"]}
    behaviour |= {"pushName": inbound_of(found)["push_name"]}
    if addressing:
        behaviour["addressing"] = addressing
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as client:
        hook = {"url": "http://herald.test/hook", "events": ["message"]}
        await client.put("/api/sessions/default", json={"config": {"webhooks": [hook]}})
        await client.put("/_sim/recipients", json=[behaviour])
        await client.post(
            "/api/sendText",
            json={"session": "default", "chatId": "919876543210@c.us", "text": "Hi"},
        )
        posted = await collector.next()
    assert posted["event"] == found.body["event"] == WAHA_MESSAGE_EVENT
    covers(found.body, posted)
    assert inbound_read(waha_inbound(posted["payload"])) == fixture_read(found)


@pytest.mark.parametrize(
    ("name", "addressing"),
    [("evolution-2.3.6:messages_upsert", "pn"), ("evolution-2.3.6:messages_upsert_lid", "lid")],
)
async def test_the_simulators_evolution_recipient_writes_as_evolution_posts(
    name: str, addressing: str
) -> None:
    [found] = [w for w in webhooks(EVOLUTION_UPSERT_EVENT) if w.id == name]
    collector = Collector()
    app = create_app(
        SimulatorConfig(sessions=parse_sessions("acc1")),
        webhook_transport=httpx.MockTransport(collector.handle),
    )
    text = found.body["data"]["message"]["conversation"]
    behaviour = {"phone": PHONE, "optOutAfterFirst": True, "optOutText": text}
    behaviour |= {"pushName": inbound_of(found)["push_name"], "addressing": addressing}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as client:
        webhook = {"enabled": True, "url": "http://herald.test/hook", "events": ["MESSAGES_UPSERT"]}
        await client.post("/webhook/set/acc1", json={"webhook": webhook})
        await client.put("/_sim/recipients", json=[behaviour])
        await client.post("/message/sendText/acc1", json={"number": "919876543210", "text": "Hi"})
        posted = await collector.next()
    assert posted["event"] in EVOLUTION_UPSERT_EVENTS
    covers(found.body, posted)
    assert posted["data"]["key"].keys() == found.body["data"]["key"].keys()
    assert inbound_read(evolution_inbound(posted["data"])) == fixture_read(found)


async def test_the_simulators_lids_api_is_wahas() -> None:
    """GOWS sessions (2025) have the lids API; NOWEB and WEBJS (2024.10.8) answer its 404."""
    known, unknown = exchange("waha-gows", "lids_pn"), exchange("waha-gows", "lids_unknown")
    missing = exchange("waha-2024.10.8-noweb", "lids_no_route")
    collector = Collector()
    app = create_app(
        SimulatorConfig(sessions=parse_sessions("default,primary:GOWS")),
        webhook_transport=httpx.MockTransport(collector.handle),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulator") as client:
        hook = {"url": "http://herald.test/hook", "events": ["message"]}
        await client.put("/api/sessions/primary", json={"config": {"webhooks": [hook]}})
        await client.put("/_sim/recipients", json=[{"phone": PHONE, "optOutAfterFirst": True}])
        await client.post(
            "/api/sendText",
            json={"session": "primary", "chatId": "919876543210@c.us", "text": "Hi"},
        )
        lid = (await collector.next())["payload"]["from"]
        answers = [
            await client.get(f"/api/primary/lids/{lid.replace('@', '%40')}"),
            await client.get("/api/primary/lids/111111111111111%40lid"),
            await client.get(f"/api/default/lids/{lid.replace('@', '%40')}"),
        ]
    gows = WahaGateway("http://simulator", None, 10, transport=transport)
    try:
        assert await gows.phone_of_lid("primary", lid) == PHONE  # the adapter, end to end
        assert await gows.phone_of_lid("default", lid) is None
    finally:
        await gows.close()
    for answer, found in zip(answers, (known, unknown, missing), strict=True):
        assert answer.status_code == found.status
        assert keys_of(answer.json()) == keys_of(found.body)
    assert answers[0].json()["pn"] == known.body["pn"]
    assert answers[1].json()["pn"] is None


@pytest.mark.parametrize(
    ("addressing", "name"),
    [("pn", "whatsapp_numbers_lid_cached"), ("lid", "whatsapp_numbers_lid")],
)
async def test_the_simulators_evolution_cache_knows_a_lid_as_evolutions_does(
    addressing: str, name: str
) -> None:
    found = exchange("evolution-2.3.6", name)
    collector = Collector()
    app = create_app(
        SimulatorConfig(sessions=parse_sessions("acc1")),
        webhook_transport=httpx.MockTransport(collector.handle),
    )
    transport = httpx.ASGITransport(app=app)
    behaviour = {"phone": PHONE, "optOutAfterFirst": True, "addressing": addressing}
    async with httpx.AsyncClient(transport=transport, base_url="http://simulator") as client:
        webhook = {"enabled": True, "url": "http://herald.test/hook", "events": ["MESSAGES_UPSERT"]}
        await client.post("/webhook/set/acc1", json={"webhook": webhook})
        await client.put("/_sim/recipients", json=[{**behaviour, "pushName": "Asha"}])
        await client.post("/message/sendText/acc1", json={"number": "919876543210", "text": "Hi"})
        key = (await collector.next())["data"]["key"]
        lid = key["remoteJid"] if addressing == "lid" else key["remoteJidAlt"]
        answer = await client.post("/chat/whatsappNumbers/acc1", json={"numbers": [lid]})
    gateway = EvolutionGateway("http://simulator", None, 10, transport=transport)
    try:
        phone = await gateway.phone_of_lid("acc1", lid)
    finally:
        await gateway.close()
    assert answer.status_code == found.status
    assert [shape(item) for item in answer.json()] == [shape(item) for item in found.body]
    assert phone == load("evolution-2.3.6")["exchanges"][name]["phone"]
