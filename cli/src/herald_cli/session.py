"""One command's run: its connection and output from the flags, and an exit status for each
way it can end. Every command body runs inside :func:`command_session`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import typer

from herald_cli.api import ApiError, ApiUnreachable, HeraldApi
from herald_cli.connection import (
    Connection,
    NoToken,
    resolve_admin_connection,
    resolve_connection,
)
from herald_cli.exit_status import ExitStatus
from herald_cli.flags import ConnectionFlags
from herald_cli.output import Output
from herald_cli.views.errors import api_error_text


class NoSuchFile(Exception):
    """The command line names a file that is not there."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: no such file")


@dataclass
class Invocation:
    """What every command reads from the context: the flags given before the command, and the
    transport to the API (tests answer in memory)."""

    flags: ConnectionFlags = field(default_factory=ConnectionFlags)
    transport: httpx.BaseTransport | None = None


@dataclass(frozen=True)
class Session:
    api: HeraldApi
    output: Output


def invocation_of(ctx: typer.Context) -> Invocation:
    invocation = ctx.find_object(Invocation)
    return invocation if invocation is not None else Invocation()


@contextmanager
def command_session(
    ctx: typer.Context,
    flags: ConnectionFlags,
    *,
    operator: bool = False,
    admin_token: str | None = None,
) -> Iterator[Session]:
    """The API and the output for a command's body; what the body raises becomes an error
    message and an exit status (``typer.Exit``). An ``operator`` command sends the operator
    token: ``admin_token`` (``--admin-token``), else ``HERALD_ADMIN_TOKEN``, else
    ``.local/admin-token``."""
    invocation = invocation_of(ctx)
    flags = flags.over(invocation.flags)
    output = Output.on(sys.stdout, sys.stderr, json=flags.json)
    connection = _connection(flags, output, operator, admin_token)
    with HeraldApi(connection, transport=invocation.transport) as api:
        try:
            yield Session(api, output)
        except ApiError as error:
            output.error(api_error_text(error, token_source=connection.token_source))
            raise typer.Exit(ExitStatus.REFUSED) from None
        except ApiUnreachable as error:
            output.error(str(error))
            raise typer.Exit(ExitStatus.UNREACHABLE) from None
        except NoSuchFile as error:
            output.error(str(error))
            raise typer.Exit(ExitStatus.USAGE) from None
        except KeyboardInterrupt:
            output.error("interrupted")
            raise typer.Exit(ExitStatus.INTERRUPTED) from None


def _connection(
    flags: ConnectionFlags, output: Output, operator: bool, admin_token: str | None
) -> Connection:
    try:
        if operator:
            return resolve_admin_connection(
                api_flag=flags.api, token_flag=admin_token, environ=os.environ, cwd=Path.cwd()
            )
        return resolve_connection(
            api_flag=flags.api, token_flag=flags.token, environ=os.environ, cwd=Path.cwd()
        )
    except NoToken as error:
        output.error(str(error))
        raise typer.Exit(ExitStatus.USAGE) from None


def operator_api_if_any(
    ctx: typer.Context, flags: ConnectionFlags, admin_token: str | None
) -> HeraldApi | None:
    """The API with the operator token, when one is given (``admin_token``) or found
    (``HERALD_ADMIN_TOKEN``, ``.local/admin-token``); None without one. The caller closes it."""
    invocation = invocation_of(ctx)
    flags = flags.over(invocation.flags)
    try:
        connection = resolve_admin_connection(
            api_flag=flags.api, token_flag=admin_token, environ=os.environ, cwd=Path.cwd()
        )
    except NoToken:
        return None
    return HeraldApi(connection, transport=invocation.transport)
