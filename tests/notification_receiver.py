"""A real HTTP receiver of Herald's webhook notifications, served by uvicorn inside a test,
and the checks a receiver makes (the signature)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_devstack.waiting import eventually

TIMEOUT = 60.0


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Records each POST; answers the scripted status codes first, then 200."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(Received(headers, body, time.monotonic()))
        return Response(status_code=self.failures.pop(0) if self.failures else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real HTTP receiver on a free port of 127.0.0.1, served by uvicorn in this test."""
    receiver = Receiver()
    app = Starlette(routes=[Route("/hooks/herald", receiver.receive, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(
            lambda: _started(server, task), bool, timeout=10, what="the receiver listening"
        )
        port = server.servers[0].sockets[0].getsockname()[1]
        receiver.url = f"http://127.0.0.1:{port}/hooks/herald"
        yield receiver
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # it failed to start: say why
    return server.started


def signature_valid(received: Received, secret: str) -> bool:
    """The receiver's check: HMAC-SHA256 of the raw body with the endpoint's secret."""
    expected = "sha256=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers.get("x-herald-signature", ""))


async def requests_received(
    receiver: Receiver, count: int, *, campaign_id: str | None = None
) -> list[Received]:
    """The requests received once there are at least ``count``; only those about
    ``campaign_id`` when given (a stack shared by several tests completes their campaigns too)."""

    async def probe() -> list[Received]:
        return [r for r in receiver.received if campaign_id in (None, _campaign_of(r))]

    about = f" about {campaign_id}" if campaign_id else ""
    return await eventually(
        probe,
        lambda got: len(got) >= count,
        timeout=TIMEOUT,
        what=f"{count} notifications{about}",
    )


def _campaign_of(received: Received) -> str | None:
    try:
        body = json.loads(received.body)
    except ValueError:
        return None
    return body.get("campaignId") if isinstance(body, dict) else None
