"""Where the CLI writes: results on stdout (text for people, JSON for scripts), errors on
stderr."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class Output:
    json: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def result(self, data: Any, text: str) -> None:
        """``data`` as JSON with ``--json``, else ``text``."""
        if self.json:
            self.json_line(data, indent=2)
        else:
            print(text, file=self.out, flush=True)

    def json_line(self, data: Any, *, indent: int | None = None) -> None:
        print(json.dumps(data, indent=indent, ensure_ascii=False), file=self.out, flush=True)

    def error(self, text: str) -> None:
        print(f"herald: {text}", file=self.err, flush=True)

    def note(self, text: str) -> None:
        """A remark for people: on stderr, so that ``--json`` output stays parseable."""
        print(text, file=self.err, flush=True)
