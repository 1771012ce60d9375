"""Evolution API's subset, WAHA's login QR route and the answer without an id, in process."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import httpx
import pytest

from herald_simulator.config import parse_sessions

ID_RE = re.compile(r"3EB0[0-9A-F]{20}")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JID = "919876543210@s.whatsapp.net"


DEFAULT_BODY = {"number": "+91 98765 43210", "text": "Hello"}


async def evo_send(
    client: httpx.AsyncClient,
    herald_id: str | None = None,
    instance: str = "default",
    body: dict[str, Any] = DEFAULT_BODY,
) -> httpx.Response:
    headers = {"X-Herald-Message-Id": herald_id} if herald_id else {}
    return await client.post(f"/message/sendText/{instance}", json=body, headers=headers)


async def put(client: httpx.AsyncClient, path: str, **changes: Any) -> None:
    resp = await client.put(path, json=changes)
    assert resp.status_code == 200, resp.text


def evolution_error(status: int, message: Any) -> dict[str, Any]:
    return {
        "status": status,
        "error": httpx.codes.get_reason_phrase(status),
        "response": {"message": message},
    }


# ---- Evolution: sendText ---------------------------------------------------------------------


async def test_evolution_send_text_shape_and_ledger(client: httpx.AsyncClient) -> None:
    before = int(time.time())
    resp = await evo_send(client, "m1")
    assert resp.status_code == 201
    msg = resp.json()
    assert msg["key"]["remoteJid"] == JID and msg["key"]["fromMe"] is True
    assert ID_RE.fullmatch(msg["key"]["id"])
    assert msg["message"] == {"conversation": "Hello"}
    assert (msg["messageType"], msg["status"]) == ("conversation", "PENDING")
    assert before <= msg["messageTimestamp"] <= int(time.time())
    assert re.fullmatch(r"[0-9a-f-]{36}", msg["instanceId"])
    [record] = (await client.get("/_sim/sends/m1")).json()
    assert (record["outcome"], record["chatId"]) == ("accepted", JID)
    assert record["gatewayMessageId"] == msg["key"]["id"]


async def test_evolution_guards_run_instance_first_then_apikey(sim_client: Any) -> None:
    async with sim_client(api_key="s3cret") as client:
        unknown = await evo_send(client, instance="nope")
        assert unknown.status_code == 404
        assert unknown.json() == evolution_error(404, ['The "nope" instance does not exist'])
        missing = await evo_send(client)
        assert missing.status_code == 401
        assert missing.json() == evolution_error(401, "Unauthorized")
        wrong = await client.get("/instance/connectionState/default", headers={"apikey": "x"})
        assert wrong.status_code == 401
        ok = await client.post(
            "/message/sendText/default",
            json={"number": "919876543210", "text": "hi"},
            headers={"apikey": "s3cret"},
        )
        assert ok.status_code == 201


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({"number": "919876543210"}, ['instance requires property "text"']),
        ({}, ['instance requires property "number"', 'instance requires property "text"']),
        ({"number": 919876543210, "text": "hi"}, ["Invalid format"]),
        ({"number": "919876543210", "text": 5}, ["text is not of a type(s) string"]),
        ({"number": "919876543210", "text": "  "}, ["Text is required"]),
        (
            {"number": "12", "text": "hi"},
            [{"jid": "12@s.whatsapp.net", "exists": False, "number": "12"}],
        ),
    ],
)
async def test_evolution_rejects_bodies_as_evolution_does(
    client: httpx.AsyncClient, body: dict[str, Any], messages: list[Any]
) -> None:
    resp = await evo_send(client, body=body)
    assert resp.status_code == 400
    assert resp.json() == evolution_error(400, messages)


@pytest.mark.parametrize("status", ["STOPPED", "STARTING", "SCAN_QR_CODE", "FAILED"])
async def test_evolution_instance_not_open_answers_connection_closed(
    client: httpx.AsyncClient, status: str
) -> None:
    await put(client, "/_sim/sessions/default", status=status)
    resp = await evo_send(client, "m1")
    assert resp.status_code == 500
    assert resp.json() == evolution_error(500, "Connection Closed")
    assert [r["outcome"] for r in (await client.get("/_sim/sends/m1")).json()] == [
        "session_not_working"
    ]


async def test_evolution_fault_modes(client: httpx.AsyncClient) -> None:
    await put(client, "/_sim/config", mode="rate_limit")
    limited = await evo_send(client)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    await put(client, "/_sim/config", mode="fail_5xx")
    assert (await evo_send(client)).status_code == 500
    await put(client, "/_sim/config", mode="permanent_invalid_number")
    invalid = await evo_send(client)
    assert invalid.status_code == 400
    assert invalid.json()["response"]["message"][0]["exists"] is False
    await put(client, "/_sim/config", mode="timeout", timeoutSeconds=0.05)
    assert (await evo_send(client)).status_code == 504
    summary = (await client.get("/_sim/sends")).json()
    assert summary["byOutcome"] == {
        "fail_5xx": 1,
        "permanent_invalid_number": 1,
        "rate_limit": 1,
        "timeout": 1,
    }


@pytest.mark.parametrize("path", ["/api/sendText", "/message/sendText/default"])
async def test_accepted_without_id_answers_201_empty(client: httpx.AsyncClient, path: str) -> None:
    await put(client, "/_sim/config", mode="accepted_without_id")
    if path == "/api/sendText":
        body = {"session": "default", "chatId": "919876543210@c.us", "text": "hi"}
    else:
        body = {"number": "919876543210", "text": "hi"}
    resp = await client.post(path, json=body, headers={"X-Herald-Message-Id": "m1"})
    assert (resp.status_code, resp.content) == (201, b"")
    [record] = (await client.get("/_sim/sends/m1")).json()
    assert record["outcome"] == "accepted" and ID_RE.fullmatch(record["gatewayMessageId"])


# ---- Evolution: connection state and connect --------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("WORKING", "open"),
        ("STARTING", "connecting"),
        ("SCAN_QR_CODE", "connecting"),
        ("STOPPED", "close"),
        ("FAILED", "close"),
    ],
)
async def test_connection_state(client: httpx.AsyncClient, status: str, state: str) -> None:
    await put(client, "/_sim/sessions/default", status=status)
    resp = await client.get("/instance/connectionState/default")
    assert resp.status_code == 200
    assert resp.json() == {"instance": {"instanceName": "default", "state": state}}


async def test_connect_answers_by_state(client: httpx.AsyncClient) -> None:
    opened = (await client.get("/instance/connect/default")).json()
    assert opened == {"instance": {"instanceName": "default", "state": "open"}}
    await put(client, "/_sim/sessions/default", status="STARTING")
    assert (await client.get("/instance/connect/default")).json() == {"count": 0}
    await put(client, "/_sim/sessions/default", status="SCAN_QR_CODE")
    qr = (await client.get("/instance/connect/default")).json()
    assert qr["pairingCode"] is None and qr["count"] == 1 and qr["code"].startswith("2@")
    prefix, _, data = qr["base64"].partition(",")
    assert prefix == "data:image/png;base64"
    assert base64.b64decode(data).startswith(PNG_SIGNATURE)


async def test_connect_on_closed_instance_starts_pairing(client: httpx.AsyncClient) -> None:
    await put(client, "/_sim/sessions/default", status="STOPPED")
    qr = (await client.get("/instance/connect/default")).json()
    assert "code" in qr
    session = (await client.get("/api/sessions/default")).json()
    assert session["status"] == "SCAN_QR_CODE"


# ---- WAHA: login QR --------------------------------------------------------------------------


async def test_waha_qr_formats(sim_client: Any) -> None:
    async with sim_client(sessions=parse_sessions("default,other")) as client:
        await put(client, "/_sim/sessions/default", status="SCAN_QR_CODE")
        raw = await client.get("/api/default/auth/qr", params={"format": "raw"})
        assert raw.status_code == 200 and raw.json()["value"].startswith("2@")
        as_json = await client.get("/api/default/auth/qr", headers={"Accept": "application/json"})
        assert as_json.json()["mimetype"] == "image/png"
        image = base64.b64decode(as_json.json()["data"])
        binary = await client.get("/api/default/auth/qr")
        assert binary.headers["content-type"] == "image/png"
        assert binary.content == image and image.startswith(PNG_SIGNATURE)
        other = await client.get("/api/other/auth/qr")  # WORKING: nothing to scan
        assert other.status_code == 422
        assert other.json()["status"] == "WORKING"
        assert other.json()["expected"] == ["SCAN_QR_CODE"]
        assert (await client.get("/api/nope/auth/qr")).status_code == 404


async def test_waha_qr_needs_the_api_key(sim_client: Any) -> None:
    async with sim_client(api_key="s3cret") as client:
        assert (await client.get("/api/default/auth/qr")).status_code == 401
