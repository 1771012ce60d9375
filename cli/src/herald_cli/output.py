"""Where the CLI writes: results on stdout (Rich for people, JSON for scripts), errors on
stderr."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console, RenderableType
from rich.text import Text

PIPE_WIDTH = 1000
"""The width Rich lays out for when the output is not a terminal: a pipe or a file has no
width, and a table row that wrapped or was cut would break the scripts that read it."""


def console_for(stream: TextIO) -> Console:
    """A Rich console on ``stream``: a terminal's width and colours, or, in a pipe, plain text
    as wide as it needs. Never markup, emoji codes or highlighting: names and messages come
    from users and are printed as they are."""
    console = Console(file=stream, markup=False, emoji=False, highlight=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console


def print_line(console: Console, text: str | Text) -> None:
    """A message as one line, which the terminal wraps: an id copied from it is whole."""
    console.print(text, soft_wrap=True)


@dataclass
class Output:
    out: Console
    err: Console
    json: bool = False

    @classmethod
    def on(cls, out: TextIO, err: TextIO, *, json: bool = False) -> Output:
        return cls(console_for(out), console_for(err), json)

    def result(self, data: Any, view: RenderableType) -> None:
        """``data`` as JSON with ``--json``, else ``view``."""
        if self.json:
            self.json_line(data, indent=2)
        elif isinstance(view, str):
            print_line(self.out, view)
        else:
            self.out.print(view)

    def json_line(self, data: Any, *, indent: int | None = None) -> None:
        # Written as is, not through Rich: scripts parse these bytes.
        self.out.file.write(json.dumps(data, indent=indent, ensure_ascii=False) + "\n")
        self.out.file.flush()

    def error(self, text: str) -> None:
        print_line(self.err, Text.assemble(("herald:", "bold red"), " ", text))

    def note(self, text: str) -> None:
        """A remark for people: on stderr, so that ``--json`` output stays parseable."""
        print_line(self.err, text)
