"""The simulator's HTTP surface, in process (httpx + ASGITransport)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import pytest

from herald_simulator.config import Engine, parse_sessions

ID_RE = re.compile(r"3EB0[0-9A-F]{20}")
CHAT = "919876543210@c.us"


def body(text: str = "Hello", chat_id: str = CHAT, session: str = "default") -> dict[str, Any]:
    return {"session": session, "chatId": chat_id, "text": text}


async def send(
    client: httpx.AsyncClient, herald_id: str | None = None, **kw: Any
) -> httpx.Response:
    headers = {"X-Herald-Message-Id": herald_id} if herald_id else {}
    return await client.post("/api/sendText", json=body(**kw), headers=headers)


async def put_config(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    resp = await client.put("/_sim/config", json=changes)
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


# ---- WAHA subset -----------------------------------------------------------------------------


async def test_healthz(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


async def test_send_text_noweb_shape(client: httpx.AsyncClient) -> None:
    before = int(time.time())
    resp = await send(client, text="Hi Priya")
    assert resp.status_code == 201
    msg = resp.json()
    assert msg["key"]["remoteJid"] == CHAT
    assert msg["key"]["fromMe"] is True
    assert ID_RE.fullmatch(msg["key"]["id"])
    assert msg["message"] == {"extendedTextMessage": {"text": "Hi Priya"}}
    assert msg["status"] == "PENDING"
    assert before <= int(msg["messageTimestamp"]) <= int(time.time())
    second = (await send(client)).json()
    assert second["key"]["id"] != msg["key"]["id"]


async def test_send_text_webjs_shape(sim_client: Any) -> None:
    async with sim_client(engine=Engine.WEBJS) as client:
        resp = await send(client, text="Hi Priya")
        assert resp.status_code == 201
        msg = resp.json()
        msg_id = msg["id"]["id"]
        assert ID_RE.fullmatch(msg_id)
        assert msg["id"]["fromMe"] is True
        assert msg["id"]["remote"] == CHAT
        assert msg["id"]["_serialized"] == f"true_{CHAT}_{msg_id}"
        assert msg["body"] == "Hi Priya"
        assert msg["ack"] == 0
        assert isinstance(msg["timestamp"], int)
        assert msg["to"] == CHAT and msg["fromMe"] is True
        session = (await client.get("/api/sessions/default")).json()
        assert session["engine"] == {"engine": "WEBJS"}


async def test_engine_per_session(sim_client: Any) -> None:
    async with sim_client(sessions=parse_sessions("primary:NOWEB,fallback:WEBJS")) as client:
        primary = (await send(client, session="primary")).json()
        fallback = (await send(client, session="fallback")).json()
        assert "key" in primary and "_serialized" in fallback["id"]


async def test_get_session(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/sessions/default")
    assert resp.status_code == 200
    session = resp.json()
    assert session["name"] == "default"
    assert session["status"] == "WORKING"
    assert session["engine"] == {"engine": "NOWEB"}
    assert session["me"]["id"].endswith("@c.us")
    listed = (await client.get("/api/sessions")).json()
    assert [s["name"] for s in listed] == ["default"]


async def test_unknown_session(client: httpx.AsyncClient) -> None:
    resp = await send(client, session="nope")
    assert resp.status_code == 404
    assert "'nope'" in resp.json()["message"] and "Please start it first" in resp.json()["message"]
    resp = await client.get("/api/sessions/nope")
    assert resp.status_code == 404
    assert resp.json() == {"statusCode": 404, "message": "Session not found", "error": "Not Found"}


# ---- auth ------------------------------------------------------------------------------------


async def test_api_key(sim_client: Any) -> None:
    async with sim_client(api_key="s3cret") as client:
        missing = await send(client)
        assert missing.status_code == 401
        assert "X-Api-Key" in missing.json()["error"]
        wrong = await client.post("/api/sendText", json=body(), headers={"X-Api-Key": "nope"})
        assert wrong.status_code == 401
        assert (await client.get("/api/sessions/default")).status_code == 401
        assert (await client.get("/_sim/sends")).status_code == 401
        assert (await client.get("/healthz")).status_code == 200
        ok = await client.post("/api/sendText", json=body(), headers={"X-Api-Key": "s3cret"})
        assert ok.status_code == 201
        summary = (await client.get("/_sim/sends", headers={"X-Api-Key": "s3cret"})).json()
        assert summary["total"] == 3
        assert summary["accepted"] == 1
        assert summary["byOutcome"] == {"accepted": 1, "unauthorized": 2}


# ---- no validation: WAHA checks nothing of sendText's body -----------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"session": "default", "text": "x"},
        {"session": "default", "chatId": "919876543210", "text": "x"},
        {"session": "default", "chatId": "123@g.us", "text": "x"},
        {"session": "default", "chatId": CHAT},
        {"session": "default", "chatId": CHAT, "text": 42},
        [1, 2],
    ],
)
async def test_a_body_waha_cannot_send_fails_in_the_engine(
    client: httpx.AsyncClient, payload: Any
) -> None:
    resp = await client.post("/api/sendText", json=payload)
    assert resp.status_code == 500
    assert "field" not in resp.json() and resp.json()["statusCode"] == 500


async def test_blank_text_goes_out(client: httpx.AsyncClient) -> None:
    assert (await send(client, text="  ")).status_code == 201


async def test_invalid_json(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/api/sendText", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    error = resp.json()
    assert (error["statusCode"], error["error"]) == (400, "Bad Request") and "field" not in error


# ---- sessions --------------------------------------------------------------------------------


async def test_a_stopped_session_is_404_and_one_not_working_422(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.put("/_sim/sessions/default", json={"status": "STOPPED"})
    assert resp.status_code == 200
    assert resp.json()["status"] == "STOPPED"
    session = (await client.get("/api/sessions/default")).json()
    assert session["status"] == "STOPPED"
    assert session["me"] is None

    stopped = await send(client, "m1")
    assert stopped.status_code == 404 and "Please start it first" in stopped.json()["message"]
    await client.put("/_sim/sessions/default", json={"status": "STARTING"})
    resp = await send(client, "m1")
    assert resp.status_code == 422
    assert resp.json() == {
        "error": "Session status is not as expected. Try again later or restart the session",
        "session": "default",
        "status": "STARTING",
        "expected": ["WORKING"],
    }

    await client.put("/_sim/sessions/default", json={"status": "WORKING"})
    assert (await send(client, "m1")).status_code == 201
    sends = (await client.get("/_sim/sends/m1")).json()
    assert [s["outcome"] for s in sends] == [
        "session_not_working",
        "session_not_working",
        "accepted",
    ]


async def test_put_session_creates_and_validates(client: httpx.AsyncClient) -> None:
    resp = await client.put("/_sim/sessions/extra", json={"engine": "WEBJS"})
    assert resp.status_code == 200
    assert resp.json()["status"] == "WORKING"
    assert "_serialized" in (await send(client, session="extra")).json()["id"]
    bad = await client.put("/_sim/sessions/extra", json={"status": "ASLEEP"})
    assert bad.status_code == 400 and bad.json()["field"] == "status"


# ---- faults ----------------------------------------------------------------------------------


async def test_mode_fail_5xx(client: httpx.AsyncClient) -> None:
    await put_config(client, mode="fail_5xx")
    resp = await send(client, "m1")
    assert resp.status_code == 500
    assert resp.json()["statusCode"] == 500 and "exception" in resp.json()


async def test_mode_rate_limit(client: httpx.AsyncClient) -> None:
    await put_config(client, mode="rate_limit", retryAfterSeconds=7)
    resp = await send(client, "m1")
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "7"
    assert "error" in resp.json()


async def test_a_number_not_on_whatsapp_is_still_accepted_by_waha(
    client: httpx.AsyncClient,
) -> None:
    await put_config(client, mode="permanent_invalid_number")
    assert (await send(client, "m1")).status_code == 201
    await put_config(client, mode="ok", notOnWhatsapp=["919876543211"])
    assert (await send(client, "m2", chat_id="919876543211@c.us")).status_code == 201
    assert (await send(client, "m3")).status_code == 201
    outcomes = [
        (await client.get(f"/_sim/sends/{m}")).json()[0]["outcome"] for m in ["m1", "m2", "m3"]
    ]
    assert outcomes == ["not_on_whatsapp", "not_on_whatsapp", "accepted"]


async def test_mode_bad_request_is_wahas_nest_400(client: httpx.AsyncClient) -> None:
    await put_config(client, mode="bad_request")
    resp = await send(client, "m1")
    assert resp.status_code == 400
    assert resp.json()["error"] == "Bad Request" and "field" not in resp.json()


async def test_mode_timeout_hangs_then_504(client: httpx.AsyncClient) -> None:
    await put_config(client, mode="timeout", timeoutSeconds=60)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(send(client, "m1"), timeout=0.2)
    await put_config(client, timeoutSeconds=0.05)
    resp = await send(client, "m2")
    assert resp.status_code == 504
    summary = (await client.get("/_sim/sends")).json()
    assert summary["accepted"] == 0
    assert summary["byOutcome"] == {"timeout": 2}


async def test_shutdown_releases_hanging_requests(sim_client: Any) -> None:
    async with sim_client(timeout_seconds=60) as client:
        await put_config(client, mode="timeout")
        transport = client._transport
        assert isinstance(transport, httpx.ASGITransport)
        state = transport.app.state.sim  # type: ignore[attr-defined]
        pending = asyncio.ensure_future(send(client, "m1"))
        await asyncio.sleep(0.05)
        assert not pending.done()
        state.begin_shutdown()
        resp = await asyncio.wait_for(pending, timeout=5)
        assert resp.status_code == 503


async def test_mode_timeout_that_delivers(client: httpx.AsyncClient) -> None:
    """The gateway sent the message but the answer never came: the uncertain case."""
    await put_config(client, mode="timeout", timeoutSeconds=0, timeoutDelivers=True)
    assert (await send(client, "m1")).status_code == 504
    await put_config(client, mode="ok")
    assert (await send(client, "m1")).status_code == 201
    summary = (await client.get("/_sim/sends")).json()
    assert summary["byMessage"] == {"m1": 2}
    assert summary["duplicates"] == ["m1"]


async def test_mode_scoped_to_session(sim_client: Any) -> None:
    async with sim_client(sessions=parse_sessions("a,b")) as client:
        config = await put_config(client, mode="fail_5xx", session="a")
        assert config["mode"] == "ok"
        assert config["sessionModes"] == {"a": "fail_5xx"}
        assert (await send(client, session="a")).status_code == 500
        assert (await send(client, session="b")).status_code == 201
        config = await put_config(client, mode=None, session="a")
        assert config["sessionModes"] == {}
        assert (await send(client, session="a")).status_code == 201
        # a session override wins over the global mode, also when it is "ok"
        await put_config(client, mode="rate_limit")
        await put_config(client, mode="ok", session="b")
        assert (await send(client, session="a")).status_code == 429
        assert (await send(client, session="b")).status_code == 201


async def test_failure_rate(sim_client: Any) -> None:
    async with sim_client(failure_rate=1.0) as client:
        assert (await send(client)).status_code == 500
        await put_config(client, failureRate=0.0)
        assert (await send(client)).status_code == 201


async def test_seed_reproduces_outcomes_and_ids(sim_client: Any) -> None:
    async def run() -> list[tuple[int, str | None]]:
        async with sim_client(seed=42, failure_rate=0.3) as client:
            result = []
            for _ in range(40):
                resp = await send(client)
                ok = resp.status_code == 201
                result.append((resp.status_code, resp.json()["key"]["id"] if ok else None))
            return result

    first, second = await run(), await run()
    assert first == second
    codes = {code for code, _ in first}
    assert codes == {201, 500}


async def test_latency(sim_client: Any) -> None:
    async with sim_client(latency_ms=80, latency_jitter_ms=20) as client:
        started = time.monotonic()
        assert (await send(client)).status_code == 201
        assert time.monotonic() - started >= 0.055
        config = await put_config(client, latencyMs=0, latencyJitterMs=0)
        assert config["latencyMs"] == 0 and config["latencyJitterMs"] == 0


async def test_config_roundtrip_validation_and_reset(sim_client: Any) -> None:
    async with sim_client(latency_ms=5, failure_rate=0.1, seed=3) as client:
        config = (await client.get("/_sim/config")).json()
        assert config["latencyMs"] == 5
        assert config["failureRate"] == 0.1
        assert config["mode"] == "ok"
        assert config["engine"] == "NOWEB"
        assert config["seed"] == 3
        for payload, field in [
            ({"latencyMs": -1}, "latencyMs"),
            ({"failureRate": 2}, "failureRate"),
            ({"mode": "explode"}, "mode"),
            ({"latncyMs": 1}, "latncyMs"),
            ({"session": "default"}, "session"),
            ({"sessionModes": {"a": "nope"}}, "sessionModes.a"),
        ]:
            resp = await client.put("/_sim/config", json=payload)
            assert resp.status_code == 400, payload
            assert resp.json()["field"] == field
        # a rejected update changes nothing
        bad = await client.put("/_sim/config", json={"latencyMs": 50, "failureRate": 3})
        assert bad.status_code == 400
        assert (await client.get("/_sim/config")).json()["latencyMs"] == 5
        await put_config(client, latencyMs=50, mode="fail_5xx")
        restored = (await client.delete("/_sim/config")).json()
        assert restored["latencyMs"] == 5 and restored["mode"] == "ok"


# ---- counting --------------------------------------------------------------------------------


async def test_counting_and_duplicates(client: httpx.AsyncClient) -> None:
    assert (await send(client, "m1", text="one")).status_code == 201
    assert (await send(client, "m2", text="two")).status_code == 201
    assert (await send(client, "m1", text="one")).status_code == 201
    await put_config(client, mode="fail_5xx")
    assert (await send(client, "m3", text="three")).status_code == 500
    await put_config(client, mode="ok")
    resp = await send(client, "m3", text="three")
    assert resp.status_code == 201
    gateway_id = resp.json()["key"]["id"]

    summary = (await client.get("/_sim/sends")).json()
    assert summary["total"] == 5
    assert summary["accepted"] == 4
    assert summary["distinct"] == 3
    assert summary["byMessage"] == {"m1": 2, "m2": 1, "m3": 1}
    assert summary["duplicates"] == ["m1"]
    assert summary["byOutcome"] == {"accepted": 4, "fail_5xx": 1}
    short = (await client.get("/_sim/sends", params={"byMessage": "false"})).json()
    assert "byMessage" not in short and short["duplicates"] == ["m1"]

    m3 = (await client.get("/_sim/sends/m3")).json()
    assert [(s["outcome"], s["statusCode"]) for s in m3] == [("fail_5xx", 500), ("accepted", 201)]
    assert m3[1]["gatewayMessageId"] == gateway_id
    assert m3[0]["gatewayMessageId"] is None
    assert m3[1]["session"] == "default"
    assert m3[1]["chatId"] == CHAT
    assert m3[1]["text"] == "three"
    assert isinstance(m3[1]["time"], float)
    assert (await client.get("/_sim/sends/never-sent")).json() == []


async def test_counting_without_header(client: httpx.AsyncClient) -> None:
    await send(client, text="same")
    await send(client, text="same")
    await send(client, text="other")
    summary = (await client.get("/_sim/sends")).json()
    key = f"default|{CHAT}|same"
    assert summary["byMessage"] == {key: 2, f"default|{CHAT}|other": 1}
    assert summary["duplicates"] == [key]
    sends = (await client.get(f"/_sim/sends/{key}")).json()
    assert len(sends) == 2


async def test_invalid_requests_count_in_total_only(client: httpx.AsyncClient) -> None:
    await client.post("/api/sendText", json={"session": "default"})
    await client.post(
        "/api/sendText", json={"session": "default"}, headers={"X-Herald-Message-Id": "m9"}
    )
    summary = (await client.get("/_sim/sends")).json()
    assert summary["total"] == 2 and summary["accepted"] == 0
    assert summary["byMessage"] == {}
    assert [s["outcome"] for s in (await client.get("/_sim/sends/m9")).json()] == [
        "invalid_request"
    ]


async def test_reset(client: httpx.AsyncClient) -> None:
    await send(client, "m1")
    await send(client, "m1")
    resp = await client.delete("/_sim/sends")
    assert resp.status_code == 200
    assert resp.json()["total"] == 0
    summary = (await client.get("/_sim/sends")).json()
    assert summary == {
        "total": 0,
        "accepted": 0,
        "distinct": 0,
        "byOutcome": {},
        "duplicates": [],
        "byMessage": {},
    }
    assert (await client.get("/_sim/sends/m1")).json() == []


async def test_reset_everything(client: httpx.AsyncClient) -> None:
    await send(client, "m1")
    await put_config(client, mode="fail_5xx")
    await client.put("/_sim/sessions/default", json={"status": "FAILED"})
    await client.put("/_sim/sessions/other", json={})
    assert (await client.post("/_sim/reset")).status_code == 200
    assert (await client.get("/_sim/config")).json()["mode"] == "ok"
    assert [s["status"] for s in (await client.get("/_sim/sessions")).json()] == ["WORKING"]
    assert (await client.get("/_sim/sends")).json()["total"] == 0
    assert (await send(client, "m1")).status_code == 201


async def test_concurrent_sends_are_all_counted(sim_client: Any) -> None:
    async with sim_client(latency_ms=5, latency_jitter_ms=5, seed=7) as client:
        results = await asyncio.gather(*(send(client, f"m{i}") for i in range(200)))
        assert {r.status_code for r in results} == {201}
        summary = (await client.get("/_sim/sends")).json()
        assert summary["accepted"] == 200 and summary["duplicates"] == []
        ids = {r.json()["key"]["id"] for r in results}
        assert len(ids) == 200
