"""``herald contacts``: a campaign's contacts."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Annotated

import typer

from herald_cli.csv_files import open_csv
from herald_cli.flags import ApiFlag, ConnectionFlags, JsonFlag, TokenFlag
from herald_cli.session import command_session
from herald_cli.views.contacts import import_summary

contacts = typer.Typer(help="A campaign's contacts.", no_args_is_help=True)


@contacts.command("import")
def import_contacts(
    ctx: typer.Context,
    campaign: Annotated[str, typer.Argument(metavar="CAMPAIGN", help="the campaign's id")],
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="CSV with a header row: phone (required), name, and any custom field the "
            "template uses; - reads standard input",
        ),
    ],
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Import a campaign's contacts from a CSV file."""
    with (
        command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session,
        ExitStack() as stack,
    ):
        stream, source = open_csv(file, stack)
        result = session.api.import_contacts_csv(campaign, stream)
        session.output.result(result, import_summary(campaign, source, result))
