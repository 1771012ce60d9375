"""Media routes, in process: WAHA's sendImage, sendVideo, sendFile (Plus sends, Core refuses as
the real Core) and Evolution's sendMedia (its validation, its answers), recorded in the ledger
with what was sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from herald_simulator.config import Engine, WahaTier
from herald_simulator.evolution import BadRequest, is_base64, is_url, parse_send_media

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"


def waha_body(file: dict[str, Any], session: str = "default") -> dict[str, Any]:
    return {"session": session, "chatId": "919876543210@c.us", "file": file, "caption": "Hi"}


async def records(client: httpx.AsyncClient, herald_id: str) -> list[dict[str, Any]]:
    answer = await client.get(f"/_sim/sends/{herald_id}")
    found: list[dict[str, Any]] = answer.json()
    return found


@pytest.mark.parametrize("engine", list(Engine))
@pytest.mark.parametrize(
    ("route", "kind"),
    [("/api/sendImage", "image"), ("/api/sendVideo", "video"), ("/api/sendFile", "document")],
)
async def test_waha_plus_sends_media_in_the_engines_shape(
    sim_client: Any, engine: Engine, route: str, kind: str
) -> None:
    file = {"mimetype": "application/pdf", "filename": "a.pdf", "data": "JVBERi0xLjQK"}
    async with sim_client(engine=engine, tier=WahaTier.PLUS) as client:
        answer = await client.post(
            route, json=waha_body(file), headers={"X-Herald-Message-Id": "m1"}
        )
        [record] = await records(client, "m1")
    assert answer.status_code == 201
    body = answer.json()
    content = f"{kind}Message"
    if engine is Engine.NOWEB:
        assert body["key"]["id"] == record["gatewayMessageId"] and content in body["message"]
    elif engine is Engine.GOWS:
        assert (
            body["id"].endswith(record["gatewayMessageId"]) and content in body["_data"]["Message"]
        )
    else:
        assert (body["hasMedia"], body["type"], body["body"]) == (True, kind, "Hi")
    assert record["text"] == "Hi"
    assert record["media"] == {
        "kind": kind,
        "mimetype": "application/pdf",
        "filename": "a.pdf",
        "from": "data",
    }


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("/api/sendImage", "The feature is available only in Plus version."),
        ("/api/sendFile", "The feature is available only in Plus version."),
        ("/api/sendVideo", "The method is not implemented by the engine."),
    ],
)
async def test_waha_core_refuses_media_once_the_session_is_working(
    sim_client: Any, route: str, message: str
) -> None:
    file = {"mimetype": "image/png", "url": "https://cdn.example.com/a.png"}
    async with sim_client(tier=WahaTier.CORE) as client:
        answer = await client.post(
            route, json=waha_body(file), headers={"X-Herald-Message-Id": "m1"}
        )
        other = await client.post(route, json=waha_body(file, "primary"))
        await client.put("/_sim/sessions/default", json={"status": "STOPPED"})
        stopped = await client.post(route, json=waha_body(file))
        [record, *_] = await records(client, "m1")
        summary = (await client.get("/_sim/sends")).json()
    assert answer.status_code == 422 and answer.json()["message"].startswith(message)
    assert other.status_code == 422 and "only 'default'" in other.json()["message"]
    assert stopped.status_code == 404  # the session first, as for sendText
    assert (record["outcome"], record["media"]["from"]) == ("not_supported", "url")
    assert summary["accepted"] == 0


async def test_waha_media_without_a_file_fails_in_the_engine(client: httpx.AsyncClient) -> None:
    # WAHA checks no body; the engine cannot send a file that is not there
    answer = await client.post("/api/sendImage", json=waha_body({"mimetype": "image/png"}))
    assert answer.status_code == 500


@pytest.mark.parametrize(
    ("text", "expected"),
    [("JVBERi0xLjQK", True), ("JVBERi0xLjQ", False), ("", False), ("aGk=", True), ("a=b=", False)],
)
def test_base64_as_class_validator_sees_it(text: str, expected: bool) -> None:
    assert is_base64(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://cdn.example.com/a.pdf", True),
        ("http://127.0.0.1:9/a.pdf", True),
        ("example.com/a.pdf", True),
        ("http://localhost:9000/a.pdf", False),
        ("http://minio:9000/a.pdf", False),
        ("data:application/pdf;base64,JVBERi0xLjQK", False),
        ("file:///etc/passwd", False),
    ],
)
def test_url_as_evolution_sees_it(text: str, expected: bool) -> None:
    assert is_url(text) is expected


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({"number": "1"}, [['instance requires property "mediatype"']]),
        (
            {"number": "1", "mediatype": "ptv", "media": PNG},
            [["mediatype is not one of enum values: image,document,video,audio"]],
        ),
        (
            {"number": 1, "mediatype": "image", "caption": 2},
            [["Invalid format", "caption is not of a type(s) string"]],
        ),
        (
            {"number": "1", "mediatype": "document", "media": "JVBERi0xLjQK"},
            ["For base64 the file name must be informed."],
        ),
        ({"number": "1", "mediatype": "image"}, ["Owned media must be a url or base64"]),
    ],
)
def test_send_media_bodies_evolution_refuses(body: dict[str, Any], messages: list[Any]) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_send_media(body)
    assert refused.value.messages == messages


async def test_evolution_send_media(client: httpx.AsyncClient) -> None:
    body = {
        "number": "919876543210",
        "mediatype": "image",
        "mimetype": "image/png",
        "media": PNG,
        "caption": "Hi",
        "fileName": "a.png",
    }
    sent = await client.post(
        "/message/sendMedia/default", json=body, headers={"X-Herald-Message-Id": "m1"}
    )
    await client.put("/_sim/sessions/default", json={"status": "STOPPED"})
    closed = await client.post("/message/sendMedia/default", json=body)
    [record] = await records(client, "m1")
    assert sent.status_code == 201
    assert sent.json()["messageType"] == "imageMessage"
    assert sent.json()["key"]["id"] == record["gatewayMessageId"]
    assert record["media"] == {
        "kind": "image",
        "mimetype": "image/png",
        "filename": "a.png",
        "from": "data",
    }
    assert closed.status_code == 500
    assert closed.json()["response"]["message"] == ["Error: Connection Closed"]
