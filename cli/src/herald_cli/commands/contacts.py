"""``herald contacts``: a campaign's contacts."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Annotated

import typer

from herald_cli.flags import ApiFlag, ConnectionFlags, JsonFlag, TokenFlag
from herald_cli.session import NoSuchFile, command_session
from herald_cli.views.contacts import import_summary

contacts = typer.Typer(help="A campaign's contacts.", no_args_is_help=True)

STANDARD_INPUT = "-"


def open_csv(name: str, stack: ExitStack) -> tuple[IO[bytes], str]:
    """The CSV to send and what to call it: a file, or standard input for ``-``."""
    if name == STANDARD_INPUT:
        return sys.stdin.buffer, "standard input"
    path = Path(name)
    if not path.is_file():
        raise NoSuchFile(name)
    return stack.enter_context(path.open("rb")), path.name


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
