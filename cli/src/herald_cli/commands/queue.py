"""``herald queue``: the message queue."""

from __future__ import annotations

import typer

from herald_cli.flags import ApiFlag, ConnectionFlags, JsonFlag, TokenFlag
from herald_cli.session import command_session
from herald_cli.views.queue import queue_stats_view

queue = typer.Typer(help="The message queue.", no_args_is_help=True)


@queue.command("stats")
def stats(
    ctx: typer.Context,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Messages by status, consumer lag, circuit breakers."""
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        queue_stats = session.api.queue_stats()
        session.output.result(queue_stats, queue_stats_view(queue_stats))
