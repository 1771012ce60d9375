"""A real HTTP server that receives webhook notifications in a test: it records every request
and answers each path by a script (default 200)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes
    at: float
    """``time.monotonic()`` when the request arrived."""


@dataclass
class Answer:
    status: int = 200
    hold: asyncio.Event | None = None
    """Answer only once this is set (a slow receiver, or a request kept in flight)."""


@dataclass
class WebhookReceiver:
    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    scripts: dict[str, list[Answer]] = field(default_factory=lambda: defaultdict(list))
    holds: list[asyncio.Event] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def script(self, path: str, *answers: Answer | int) -> None:
        """The next answers to requests on ``path``, in order; 200 once they are used up."""
        for answer in answers:
            scripted = answer if isinstance(answer, Answer) else Answer(answer)
            self.scripts[path].append(scripted)
            if scripted.hold is not None:
                self.holds.append(scripted.hold)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append(
            Received(
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                at=time.monotonic(),
            )
        )
        script = self.scripts.get(request.url.path)
        answer = script.pop(0) if script else Answer()
        if answer.hold is not None:
            await answer.hold.wait()
        return Response(status_code=answer.status)


@contextlib.asynccontextmanager
async def serving_receiver() -> AsyncIterator[WebhookReceiver]:
    """A receiver on a free port of 127.0.0.1, served by uvicorn in this event loop."""
    receiver = WebhookReceiver()

    async def receive(request: Request) -> Response:
        return await receiver._receive(request)

    app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        sockets: list[Any] = [s for srv in server.servers for s in srv.sockets]
        receiver.base_url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        yield receiver
    finally:
        for hold in receiver.holds:
            hold.set()  # no request stays in flight
        server.should_exit = True
        await task
