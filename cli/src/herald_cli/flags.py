"""The flags more than one command takes, and the values flags parse into. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import typer

from herald_cli.connection import ADMIN_TOKEN_ENV, API_ENV, TOKEN_ENV

CONNECTION_PANEL = "Connection and output"

ApiFlag = Annotated[
    str | None,
    typer.Option(
        "--api", metavar="URL", help=f"API address (${API_ENV})", rich_help_panel=CONNECTION_PANEL
    ),
]
TokenFlag = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        help=f"bearer token (${TOKEN_ENV})",
        rich_help_panel=CONNECTION_PANEL,
    ),
]
AdminTokenFlag = Annotated[
    str | None,
    typer.Option(
        "--admin-token",
        metavar="TOKEN",
        help=f"operator token (${ADMIN_TOKEN_ENV})",
        rich_help_panel=CONNECTION_PANEL,
    ),
]
JsonFlag = Annotated[
    bool,
    typer.Option(
        "--json",
        help="print the API's JSON (watch: one JSON line per change), for scripts",
        rich_help_panel=CONNECTION_PANEL,
    ),
]


@dataclass(frozen=True)
class ConnectionFlags:
    """``--api``, ``--token`` and ``--json``: accepted before the command and after it."""

    api: str | None = None
    token: str | None = None
    json: bool = False

    def over(self, before: ConnectionFlags) -> ConnectionFlags:
        """These flags (given after the command) over those given before it."""
        return ConnectionFlags(
            api=self.api or before.api,
            token=self.token or before.token,
            json=self.json or before.json,
        )


class FlagConflict(typer.BadParameter):
    """Flags that do not go together: a usage error (exit 2) said as it is written."""

    def format_message(self) -> str:
        return self.message


def send_time(text: str) -> datetime:
    """``--at``: ISO 8601; a time without an offset is in this machine's time zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time (like 2026-12-01T09:00:00+01:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise typer.BadParameter("must be more than 0 seconds")
    return value


def seconds_option(name: str, *, help: str | None = None) -> Any:
    """An option that takes a number of seconds above 0."""
    return typer.Option(name, parser=positive_seconds, metavar="SECONDS", help=help)


def time_option(name: str, *, help: str) -> Any:
    """An option that takes an ISO 8601 time."""
    return typer.Option(name, parser=send_time, metavar="TIME", help=help)


Limit = Annotated[int, typer.Option("--limit", help="at most this many (1-500)")]
Offset = Annotated[int, typer.Option("--offset", help="skip this many")]
