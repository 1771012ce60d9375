"""Entry point of the ``herald`` command: runs the command line, returns its exit status."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import httpx
import typer

from herald_cli.app import app
from herald_cli.exit_status import ExitStatus
from herald_cli.output import Output
from herald_cli.session import Invocation


def main(argv: Sequence[str] | None = None, *, transport: httpx.BaseTransport | None = None) -> int:
    """Run one command; returns the exit status (``herald --help`` lists them). ``transport``
    answers the API's requests instead of the network (tests)."""
    try:
        status = app(
            args=list(argv) if argv is not None else None,
            prog_name="herald",
            standalone_mode=False,
            obj=Invocation(transport=transport),
        )
    except typer.TyperException as error:
        # A usage error, said the way every other error of herald is said.
        say_usage_error(error)
        return int(error.exit_code)
    return int(status) if isinstance(status, int) else ExitStatus.OK


def say_usage_error(error: typer.TyperException) -> None:
    message = error.format_message()
    if not message.strip():  # no command at all: Typer has printed the help
        return
    output = Output.on(sys.stdout, sys.stderr)
    output.error(message)
    ctx = getattr(error, "ctx", None)
    if ctx is not None:
        output.note(f"Try '{ctx.command_path} --help' for help.")


if __name__ == "__main__":
    sys.exit(main())
