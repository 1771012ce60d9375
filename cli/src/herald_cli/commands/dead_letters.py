"""``herald dead-letters``: messages and records that failed for good, and their redrive."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from herald_cli.api import ApiError, HeraldApi
from herald_cli.exit_status import ExitStatus
from herald_cli.flags import (
    ApiFlag,
    ConnectionFlags,
    FlagConflict,
    JsonFlag,
    Limit,
    Offset,
    TokenFlag,
)
from herald_cli.output import Output
from herald_cli.request_bodies import listing_query
from herald_cli.session import command_session
from herald_cli.views import dead_letters as views

dead_letters = typer.Typer(help="Messages and records that failed for good.", no_args_is_help=True)


@dead_letters.command("list")
def list_dead_letters(
    ctx: typer.Context,
    campaign: Annotated[str | None, typer.Option("--campaign", help="only this campaign's")] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="only this reason (e.g. permanent_invalid_number)"),
    ] = None,
    status: Annotated[Literal["open", "redriven"] | None, typer.Option("--status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Dead letters, newest first."""
    query = listing_query(
        limit=limit, offset=offset, campaignId=campaign, reason=reason, status=status
    )
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        listing = session.api.dead_letters(query)
        session.output.result(listing, views.dead_letters_table(listing))


@dead_letters.command("redrive")
def redrive(
    ctx: typer.Context,
    ids: Annotated[
        list[str] | None, typer.Argument(metavar="ID...", help="dead letters to redrive")
    ] = None,
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="every open dead letter of this campaign")
    ] = None,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Give dead letters another go."""
    if bool(ids) == bool(campaign):
        raise FlagConflict("give dead-letter IDs or --campaign (one of them)")
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        if campaign:
            result = session.api.redrive_campaign_dead_letters(campaign)
            session.output.result(result, views.campaign_redrive_result(campaign, result))
        elif not redrive_each(session.api, ids or [], session.output):
            raise typer.Exit(ExitStatus.REFUSED)


def redrive_each(api: HeraldApi, ids: list[str], output: Output) -> bool:
    """Redrive each id on its own: one that cannot be redriven does not stop the others.
    Returns whether every one was redriven."""
    results: list[dict[str, Any]] = []
    for dead_letter_id in ids:
        try:
            result = api.redrive_dead_letter(dead_letter_id)
        except ApiError as error:
            results.append({"id": dead_letter_id, "error": error.message, "status": error.status})
            if not output.json:
                output.error(f"{dead_letter_id}: {error}")
            continue
        results.append(result)
        if not output.json:
            output.result(result, views.redrive_result(result))
    if output.json:
        output.json_line(results, indent=2)
    return all("error" not in result for result in results)
