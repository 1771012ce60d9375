"""``herald accounts``: sender accounts (WhatsApp numbers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import typer

from herald_cli.flags import ApiFlag, ConnectionFlags, JsonFlag, Limit, Offset, TokenFlag
from herald_cli.request_bodies import listing_query
from herald_cli.session import command_session
from herald_cli.views.accounts import accounts_table

accounts = typer.Typer(help="Sender accounts (WhatsApp numbers).", no_args_is_help=True)


@accounts.command("list")
def list_accounts(
    ctx: typer.Context,
    status: Annotated[Literal["enabled", "disabled"] | None, typer.Option("--status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """The sender accounts with the health of their sessions."""
    query = listing_query(limit=limit, offset=offset, status=status)
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        listing = session.api.accounts(query)
        session.output.result(listing, accounts_table(listing, datetime.now(UTC)))
