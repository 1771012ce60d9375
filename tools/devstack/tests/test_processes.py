"""Ports for a stack, and what counts as a process being ready."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from herald_devstack.processes import ManagedProcess, free_ports


def test_a_stack_s_ports_are_distinct() -> None:
    for _ in range(50):
        ports = free_ports(9)
        assert len(set(ports)) == len(ports), ports


@pytest.fixture
def readiness_of_the_dispatcher() -> Iterator[str]:
    """An HTTP server whose ``/readyz`` answers 200 as the dispatcher does."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ready", "service": "dispatcher"}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/readyz"
    finally:
        server.shutdown()
        server.server_close()


def test_a_port_answered_by_another_service_is_not_this_one_ready(
    readiness_of_the_dispatcher: str, tmp_path: Path
) -> None:
    def process(service: str) -> ManagedProcess:
        return ManagedProcess(
            service,
            ["true"],
            {},
            tmp_path,
            ready_url=readiness_of_the_dispatcher,
            ready_service=service,
        )

    assert not process("campaign").is_ready()
    assert process("dispatcher").is_ready()
