"""A gateway client under many concurrent requests (a sender's account lanes): connections
kept alive and reused, never more than ``GATEWAY_CONNECTIONS`` of them, and a wait for one that
ends as a pool timeout would. Against a real HTTP/1.1 server on a local socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from herald_gateways.failures import classify_http_failure
from herald_gateways.http_client import GATEWAY_CONNECTIONS, GatewayHttp
from herald_gateways.interface import GatewayError

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
HELD_ANSWER_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)


class KeepAliveServer:
    """Answers every request ``{}`` on a kept-alive connection. While ``opened`` is clear, it
    holds each request, its answer's body trickling (so that no read times out) until
    ``opened`` is set. Counts the connections it accepted and the requests it holds."""

    def __init__(self) -> None:
        self.connections = 0
        self.holding = 0
        self.most_held = 0
        self.opened = asyncio.Event()
        self.opened.set()
        self.holding_all = asyncio.Event()
        """Set once it holds ``GATEWAY_CONNECTIONS`` requests at once."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                if self.opened.is_set():
                    writer.write(ANSWER)
                else:
                    await self._hold(writer)
                await writer.drain()
        writer.close()

    async def _hold(self, writer: asyncio.StreamWriter) -> None:
        self.holding += 1
        self.most_held = max(self.most_held, self.holding)
        if self.holding >= GATEWAY_CONNECTIONS:
            self.holding_all.set()
        try:
            writer.write(HELD_ANSWER_HEAD)
            while not self.opened.is_set():
                writer.write(b"1\r\n \r\n")
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.opened.wait(), 0.2)
            writer.write(b"2\r\n{}\r\n0\r\n\r\n")
        finally:
            self.holding -= 1


@pytest.fixture
async def server() -> AsyncIterator[tuple[KeepAliveServer, str]]:
    gateway = KeepAliveServer()
    listening = await asyncio.start_server(gateway.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield gateway, f"http://127.0.0.1:{port}"
        listening.close()


def client(base_url: str, timeout_seconds: float = 30.0) -> GatewayHttp:
    return GatewayHttp(base_url, {}, timeout_seconds, classify_http_failure)


async def test_many_concurrent_requests_reuse_a_bounded_set_of_connections(
    server: tuple[KeepAliveServer, str],
) -> None:
    gateway, base_url = server
    http = client(base_url)
    try:
        # Three waves of 1,000 requests at once, as 1,000 account lanes each sending.
        for _ in range(3):
            answers = await asyncio.gather(
                *(http.request("POST", "/api/sendText", json={"n": n}) for n in range(1000))
            )
            assert all(answer.status_code == 200 for answer in answers)
    finally:
        await http.close()
    # Connections are kept and reused: 3,000 requests over about the pool's size (an idle one
    # may expire between two waves), not one connection for most of them.
    assert gateway.connections < 2 * GATEWAY_CONNECTIONS


async def test_a_request_waiting_for_a_connection_fails_as_a_timeout_after_the_timeout(
    server: tuple[KeepAliveServer, str],
) -> None:
    gateway, base_url = server
    gateway.opened.clear()  # the gateway holds every request it gets
    http = client(base_url, timeout_seconds=1.0)
    held = [
        asyncio.create_task(http.request("GET", f"/api/sessions/s{n}"))
        for n in range(GATEWAY_CONNECTIONS)
    ]
    try:
        async with asyncio.timeout(30):
            await gateway.holding_all.wait()
        with pytest.raises(GatewayError) as late:
            await http.request("GET", "/api/sessions/latecomer")
        assert (late.value.reason, late.value.retryable) == ("gateway-timeout", True)
        assert gateway.most_held == GATEWAY_CONNECTIONS  # the latecomer never reached it
        assert gateway.connections == GATEWAY_CONNECTIONS
    finally:
        gateway.opened.set()
        await asyncio.gather(*held, return_exceptions=True)
        await http.close()
