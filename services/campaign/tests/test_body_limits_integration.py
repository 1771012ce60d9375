"""Request body caps on the campaign service, against the real Kafka broker and MongoDB-wire
server: for every route class (a JSON route, the deployment's and an account's webhooks, a CSV
import as the body and as a multipart upload, the suppression import, a media upload) a body at
its cap is taken, a declared length over it is a 413 before any of the body is read, and a
chunked body is a 413 once it passes it. Then the service as a process: 200 MB of zeros posted
to the webhooks leave its memory where it was."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import select
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.types import Message

from herald_devstack.processes import ManagedProcess, free_port, wait_ready
from herald_devstack.stack import venv_program

from .conftest import TOKEN, RunningService, campaign_settings, create_campaign, running_service

pytestmark = pytest.mark.integration

MB = 1024 * 1024
JSON_CAP = 16 * MB
CSV_CAP = MB
"""The module's service takes CSV files of up to 1 MB (512 MB by default), to pass it fast."""
WEBHOOK_CAP = MB
IMAGE_CAP = 5 * MB
WAHA_KEY = "body-limits-hmac-key"
UNREACHABLE_GATEWAY = "http://127.0.0.1:9"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CSV = {"Content-Type": "text/csv"}


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "body_limits").model_copy(
        update={"csv_upload_max_bytes": CSV_CAP, "waha_webhook_hmac_key": SecretStr(WAHA_KEY)}
    )
    assert (settings.json_body_max_bytes, settings.webhook_body_max_bytes) == (JSON_CAP, MB)
    async with running_service(settings) as svc:
        yield svc


@pytest.fixture(scope="module")
async def account_token(service: RunningService) -> str:
    """The receipt token of a sender account (its gateways are never reached)."""
    sessions = {
        "primary": {"gateway": "waha", "baseUrl": UNREACHABLE_GATEWAY, "session": "a"},
        "fallback": {"gateway": "waha", "baseUrl": UNREACHABLE_GATEWAY, "session": "b"},
    }
    phone = f"+9198{uuid.uuid4().int % 10**8:08d}"
    created = await service.client.post("/api/accounts", json={"phone": phone, **sessions})
    assert created.status_code == 201, created.text
    token: str = created.json()["receiptUrls"]["token"]
    return token


@dataclass
class Unread:
    status: int
    body: dict[str, Any]
    receives: int
    """How often the app asked for the body: 0 when it was refused unread."""


async def declared_over(
    app: FastAPI, path: str, length: int, headers: Mapping[str, str] = AUTH
) -> Unread:
    """POST ``path`` to ``app`` with a ``Content-Length`` of ``length``, counting the app's
    reads of the body (which would be that many zero bytes, 1 MB at a time)."""
    receives = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal receives
        receives += 1
        return {"type": "http.request", "body": bytes(MB), "more_body": receives * MB < length}

    async def send(message: Message) -> None:
        sent.append(message)

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [*raw, (b"host", b"campaign"), (b"content-length", str(length).encode())],
        "server": ("campaign", 80),
        "client": ("127.0.0.1", 40000),
        "state": {},
    }
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Unread(sent[0]["status"], json.loads(body), receives)


async def zeros(total: int, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    """``total`` zero bytes in chunks, sent chunked (no length given)."""
    while total > 0:
        yield bytes(min(size, total))
        total -= size


async def in_chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``data`` in chunks, sent chunked (no length given)."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def padded(document: dict[str, Any], size: int, pad: list[str]) -> bytes:
    """``document`` as JSON of exactly ``size`` bytes: the string at ``pad`` is filled up."""
    target: Any = document
    for key in pad[:-1]:
        target = target[key]
    target[pad[-1]] = ""
    room = size - len(json.dumps(document).encode())
    target[pad[-1]] = "x" * room
    raw = json.dumps(document).encode()
    assert len(raw) == size
    return raw


def refused(response: httpx.Response, cap: str) -> None:
    assert response.status_code == 413, response.text
    assert response.json()["error"].startswith("the request body is larger than the ")
    assert cap in response.json()["error"]


def signed(raw: bytes) -> dict[str, str]:
    signature = hmac.new(WAHA_KEY.encode(), raw, hashlib.sha512).hexdigest()
    return {"Content-Type": "application/json", "X-Webhook-Hmac": signature}


def waha_ack(size: int) -> bytes:
    event = {"event": "message.ack", "session": "default", "payload": {"id": "x", "ack": 2}}
    return padded(event, size, ["payload", "id"])


def full_contact_list(size: int) -> bytes:
    """10,000 contacts, as many as one request may add, in a body of ``size`` bytes: each with
    two custom fields of some 800 characters."""
    empty = [{"phone": f"+9198765{i:05d}", "fields": {"a": "", "b": ""}} for i in range(10_000)]
    room = size - len(json.dumps({"contacts": empty}).encode())
    each, longer = divmod(room, 2 * len(empty))
    lengths = iter([each + 1] * longer + [each] * (2 * len(empty) - longer))
    contacts: list[dict[str, Any]] = [
        {"phone": c["phone"], "fields": {"a": "x" * next(lengths), "b": "x" * next(lengths)}}
        for c in empty
    ]
    raw = json.dumps({"contacts": contacts}).encode()
    assert len(raw) == size
    return raw


async def test_a_json_body_of_16_mb_holds_a_full_contact_list(service: RunningService) -> None:
    campaign_id = (await create_campaign(service.client))["id"]
    route = f"/api/campaigns/{campaign_id}/contacts"
    taken = await service.client.post(
        route,
        content=full_contact_list(JSON_CAP),
        headers={"Content-Type": "application/json"},
        timeout=120,
    )
    assert taken.status_code == 200, taken.text[:500]
    assert taken.json()["accepted"] == 10_000
    unread = await declared_over(service.app, route, JSON_CAP + 1)
    assert (unread.status, unread.receives) == (413, 0)
    assert unread.body == {"error": "the request body is larger than the 16 MB a JSON body may be"}
    streamed = await service.client.post(
        "/api/campaigns", content=zeros(JSON_CAP + 1), headers={"Content-Type": "application/json"}
    )
    refused(streamed, "16 MB a JSON body")


async def test_a_request_without_a_token_is_401_whatever_its_size(
    service: RunningService,
) -> None:
    unread = await declared_over(service.app, "/api/campaigns", 10 * JSON_CAP, headers={})
    assert (unread.status, unread.receives) == (401, 0)


async def test_the_deployment_webhook_takes_1_mb_and_refuses_more_unread(
    service: RunningService,
) -> None:
    async with service.client_for(None) as gateway:
        raw = waha_ack(WEBHOOK_CAP)
        taken = await gateway.post("/api/webhooks/waha", content=raw, headers=signed(raw))
        assert taken.status_code == 200, taken.text
        over = waha_ack(WEBHOOK_CAP + 1)
        streamed = await gateway.post(
            "/api/webhooks/waha", content=zeros(len(over), 4096), headers=signed(over)
        )
    refused(streamed, "1 MB a webhook")
    for source in ("waha", "evolution"):
        unread = await declared_over(service.app, f"/api/webhooks/{source}", 1_500_000_000, {})
        assert (unread.status, unread.receives) == (413, 0)
        assert "1 MB a webhook" in unread.body["error"]


async def test_an_account_webhook_takes_1_mb_and_refuses_more_unread(
    service: RunningService, account_token: str
) -> None:
    route = f"/api/webhooks/waha/{account_token}"
    async with service.client_for(None) as gateway:
        json_type = {"Content-Type": "application/json"}
        taken = await gateway.post(route, content=waha_ack(WEBHOOK_CAP), headers=json_type)
        assert taken.status_code == 200, taken.text
        streamed = await gateway.post(route, content=zeros(WEBHOOK_CAP + 1), headers=json_type)
    refused(streamed, "1 MB a webhook")
    unread = await declared_over(service.app, route, 1_500_000_000, {})
    assert (unread.status, unread.receives) == (413, 0)


def csv_of(size: int, *, distinct: bool = True) -> bytes:
    """A contact list of ``size`` bytes: a header and rows of 40 bytes (the last one longer),
    of distinct numbers, or of one number again and again."""
    head = b"phone,note\n"
    rows, rest = divmod(size - len(head), 40)
    notes = ["x" * 25] * (rows - 1) + ["x" * (25 + rest)]
    lines = (f"+9198765{i if distinct else 0:05d},{note}\n" for i, note in enumerate(notes))
    data = head + "".join(lines).encode()
    assert len(data) == size
    return data


async def test_a_csv_body_takes_its_cap_and_is_refused_past_it(service: RunningService) -> None:
    campaign_id = (await create_campaign(service.client))["id"]
    route = f"/api/campaigns/{campaign_id}/contacts"
    taken = await service.client.post(route, content=csv_of(CSV_CAP), headers=CSV, timeout=120)
    assert taken.status_code == 200, taken.text[:500]
    assert taken.json()["accepted"] > 0
    other = (await create_campaign(service.client))["id"]
    over = csv_of(CSV_CAP + 1)
    streamed = await service.client.post(
        f"/api/campaigns/{other}/contacts", content=in_chunks(over), headers=CSV
    )
    refused(streamed, "1 MB a CSV file")
    unread = await declared_over(service.app, route, 512 * MB + 1, {**AUTH, **CSV})
    assert (unread.status, unread.receives) == (413, 0)
    # One number over and over: suppressing 50,000 numbers would take a while.
    suppressions = await service.client.post(
        "/api/suppressions/import",
        content=in_chunks(csv_of(CSV_CAP + 1, distinct=False)),
        headers=CSV,
    )
    refused(suppressions, "1 MB a CSV file")


def multipart_of(size: int) -> tuple[bytes, dict[str, str]]:
    """A multipart upload of ``size`` bytes whose ``file`` part is a contact list."""
    head = (
        b'--B0undary\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n"
    )
    tail = b"\r\n--B0undary--\r\n"
    body = head + csv_of(size - len(head) - len(tail)) + tail
    return body, {"Content-Type": "multipart/form-data; boundary=B0undary"}


async def test_a_multipart_upload_takes_its_cap_and_is_refused_past_it(
    service: RunningService,
) -> None:
    campaign_id = (await create_campaign(service.client))["id"]
    route = f"/api/campaigns/{campaign_id}/contacts"
    body, headers = multipart_of(CSV_CAP)
    taken = await service.client.post(route, content=body, headers=headers, timeout=120)
    assert taken.status_code == 200, taken.text[:500]
    assert taken.json()["accepted"] > 0

    # The file part itself passes the cap: what follows it is never read.
    over, _ = multipart_of(CSV_CAP + 64 * 1024)
    streamed = await service.client.post(route, content=in_chunks(over), headers=headers)
    refused(streamed, "1 MB a CSV file")


async def test_a_media_upload_takes_its_kinds_size_and_is_refused_past_it(
    service: RunningService,
) -> None:
    image = {"Content-Type": "image/jpeg"}
    taken = await service.client.post("/api/media", content=bytes(IMAGE_CAP), headers=image)
    assert taken.status_code == 201, taken.text
    unread = await declared_over(service.app, "/api/media", IMAGE_CAP + 1, {**AUTH, **image})
    assert (unread.status, unread.receives) == (413, 0)
    assert unread.body == {"error": "the request body is larger than the 5 MB an image may be"}
    streamed = await service.client.post("/api/media", content=zeros(IMAGE_CAP + 1), headers=image)
    refused(streamed, "5 MB an image")


# The service as a process: what a real server reads of a body it refuses.

STREAMED = 200 * MB
MAX_GROWTH_MB = 50
"""Reading 200 MB into memory grows the process by 200 MB at least (twice that while the
chunks are joined); refused at 1 MB it grows by a few MB of buffers."""


@dataclass
class Posted:
    status: int
    body: bytes
    sent: int
    """Body bytes the client got to send before the answer came."""


def post_raw(
    port: int, path: str, total: int, headers: Mapping[str, str], *, declared: bool
) -> Posted:
    """POST ``total`` zero bytes to ``path`` over a socket, as ``curl -T`` would (chunked, or
    with a ``Content-Length``), and stop sending as soon as an answer comes. Blocking: run it
    in a thread."""
    framing = f"Content-Length: {total}" if declared else "Transfer-Encoding: chunked"
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", framing]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    chunk = bytes(MB)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            while sent < total and not select.select([connection], [], [], 0)[0]:
                piece = chunk[: min(MB, total - sent)]
                connection.sendall(piece if declared else b"%x\r\n%b\r\n" % (len(piece), piece))
                sent += len(piece)
            if sent == total and not declared:
                connection.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed the connection: the answer is still there
        status, body = read_answer(connection)
    return Posted(status, body, sent)


def read_answer(connection: socket.socket) -> tuple[int, bytes]:
    """The status and body of the HTTP answer on ``connection``."""

    def more() -> bytes:
        piece = connection.recv(64 * 1024)
        if not piece:
            raise AssertionError("the connection closed before the answer was complete")
        return piece

    received = b""
    while b"\r\n\r\n" not in received:
        received += more()
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    length = 0
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(body) < length:
        body += more()
    return int(status_line.split()[1]), body[:length]


def memory_mb(pid: int, field_name: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak) of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field_name} for pid {pid}")


@dataclass
class CampaignProcess:
    process: ManagedProcess
    port: int

    @property
    def pid(self) -> int:
        pid = self.process.pid()
        assert pid is not None, self.process.log_tail()
        return pid


@pytest.fixture(scope="module")
def campaign_process(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CampaignProcess]:
    port = free_port()
    env = {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HERALD_MONGODB_URL": mongodb_url,
        "HERALD_MONGODB_DATABASE": f"it_campaign_body_process_{uuid.uuid4().hex[:8]}",
        "HERALD_HTTP_HOST": "127.0.0.1",
        "HERALD_HTTP_PORT": str(port),
        "HERALD_METRICS_PORT": str(free_port()),
        # The account's gateway is a closed port on this machine: allowed, never reached.
        "HERALD_OUTBOUND_ALLOW": "127.0.0.0/8",
        "HERALD_API_TOKEN": TOKEN,
        "HERALD_WAHA_WEBHOOK_HMAC_KEY": WAHA_KEY,
        "HERALD_LOG_LEVEL": os.environ.get("HERALD_LOG_LEVEL", "WARNING"),
    }
    process = ManagedProcess(
        "campaign-body-limits",
        [venv_program("herald-campaign")],
        env,
        tmp_path_factory.mktemp("campaign-process"),
        ready_url=f"http://127.0.0.1:{port}/readyz",
        ready_service="campaign",
    )
    process.start()
    try:
        wait_ready([process], timeout=120)
        yield CampaignProcess(process, port)
    finally:
        process.stop(timeout=20)


@pytest.mark.e2e
@pytest.mark.timeout(600)
async def test_200_mb_posted_to_the_webhooks_leave_the_process_memory_alone(
    campaign_process: CampaignProcess,
) -> None:
    port, pid = campaign_process.port, campaign_process.pid
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=AUTH) as api:
        sessions = {
            "primary": {"gateway": "waha", "baseUrl": UNREACHABLE_GATEWAY, "session": "a"},
            "fallback": {"gateway": "waha", "baseUrl": UNREACHABLE_GATEWAY, "session": "b"},
        }
        phone = f"+9198{uuid.uuid4().int % 10**8:08d}"
        created = await api.post("/api/accounts", json={"phone": phone, **sessions}, timeout=30)
    assert created.status_code == 201, created.text
    token = created.json()["receiptUrls"]["token"]
    json_type = {"Content-Type": "application/json"}

    rss_before, peak_before = memory_mb(pid, "VmRSS"), memory_mb(pid, "VmHWM")
    answers = {}
    for path in ("/api/webhooks/waha", f"/api/webhooks/waha/{token}"):
        for declared in (False, True):
            answers[path, declared] = await asyncio.to_thread(
                post_raw, port, path, STREAMED, json_type, declared=declared
            )
    rss_after, peak_after = memory_mb(pid, "VmRSS"), memory_mb(pid, "VmHWM")

    print(
        f"\n{STREAMED // MB} MB of zeros to the two WAHA webhooks, chunked and declared: "
        f"campaign process RSS {rss_before:.1f} -> {rss_after:.1f} MB, peak (VmHWM) "
        f"{peak_before:.1f} -> {peak_after:.1f} MB; sent before the answer: "
        + ", ".join(f"{p.sent / MB:.0f} MB" for p in answers.values())
    )
    for (path, declared), posted in answers.items():
        assert posted.status == 413, (path, declared, posted.body)
        assert json.loads(posted.body) == {
            "error": "the request body is larger than the 1 MB a webhook may be"
        }
        # Refused near the cap (the rest of the 200 MB was never sent), or before any of it
        # was read when its length was declared.
        assert posted.sent < 20 * MB, (path, declared, posted.sent)
    assert peak_after - peak_before < MAX_GROWTH_MB
    assert rss_after - rss_before < MAX_GROWTH_MB
    # The process still serves.
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200


@pytest.mark.e2e
async def test_a_declared_length_over_the_cap_is_answered_before_any_body_is_sent(
    campaign_process: CampaignProcess,
) -> None:
    with socket.create_connection(("127.0.0.1", campaign_process.port), timeout=10) as connection:
        connection.sendall(
            b"POST /api/webhooks/waha HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1500000000\r\n\r\n"
        )
        status, body = await asyncio.to_thread(read_answer, connection)
    assert status == 413 and b"1 MB a webhook" in body
