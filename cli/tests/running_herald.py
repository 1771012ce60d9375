"""``herald`` run as a user runs it, in the test's process, against an API answered in memory
(an ``httpx.MockTransport``): what it asked, printed, and exited with."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from herald_cli.main import main

Answer = Callable[[httpx.Request], httpx.Response]


def answer_ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": "cmp_1", "name": "n", "status": "draft"})


@dataclass
class Herald:
    """Runs ``herald`` with ``--api``/``--token`` unless told otherwise; keeps the requests."""

    capsys: pytest.CaptureFixture[str]
    answer: Answer = answer_ok
    requests: list[httpx.Request] = field(default_factory=list)
    out: str = ""
    err: str = ""

    def __call__(self, command_line: str, *, connected: bool = True) -> int:
        argv = shlex.split(command_line)
        if connected:
            argv += ["--api", "http://herald.test", "--token", "secret"]
        code = main(argv, transport=httpx.MockTransport(self._handle))
        captured = self.capsys.readouterr()
        self.out, self.err = captured.out, captured.err
        return code

    def _handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.answer(request)

    @property
    def body(self) -> Any:
        return json.loads(self.requests[-1].content) if self.requests[-1].content else None
