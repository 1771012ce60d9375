"""The ``herald`` command line: ``herald [--api URL] [--token TOKEN] [--json] NOUN VERB``."""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from herald_cli.commands.accounts import accounts
from herald_cli.commands.admin import admin
from herald_cli.commands.campaigns import campaigns
from herald_cli.commands.contacts import contacts
from herald_cli.commands.dead_letters import dead_letters
from herald_cli.commands.queue import queue
from herald_cli.commands.suppressions import suppressions
from herald_cli.connection import (
    ADMIN_TOKEN_ENV,
    ADMIN_TOKEN_FILE,
    API_ENV,
    DEFAULT_API,
    TOKEN_ENV,
    TOKEN_FILE,
)
from herald_cli.flags import ApiFlag, ConnectionFlags, JsonFlag, TokenFlag
from herald_cli.session import invocation_of

EPILOG = f"""\
[bold]connection[/]: --api, else ${API_ENV}, else {DEFAULT_API}; --token, else ${TOKEN_ENV}, \
else {TOKEN_FILE} in this folder or a parent (written by `make up`). `herald admin` sends the \
operator token instead: --admin-token, else ${ADMIN_TOKEN_ENV}, else {ADMIN_TOKEN_FILE}.

[bold]exit status[/]: 0 done; 1 the API refused (the error names the field) or a watched \
campaign was cancelled; 2 bad usage; 3 the API cannot be reached; 4 --timeout passed; \
130 interrupted.

[bold]a walk-through[/]:
  herald campaigns create --name "Summer Sale" --body "Hi {{{{name|there}}}}!"
  herald contacts import CAMPAIGN contacts.csv
  herald campaigns send CAMPAIGN    (now; or --at TIME, or --cron "0 9 * * MON")
  herald campaigns watch CAMPAIGN   (--json on any command, for scripts)
"""

app = typer.Typer(
    name="herald",
    help="Drive Herald's bulk WhatsApp campaigns through its REST API.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    # The locals of a failed call hold the API token: a traceback must not print them.
    pretty_exceptions_show_locals=False,
)
app.add_typer(campaigns, name="campaigns")
app.add_typer(contacts, name="contacts")
app.add_typer(dead_letters, name="dead-letters")
app.add_typer(accounts, name="accounts")
app.add_typer(queue, name="queue")
app.add_typer(suppressions, name="suppressions")
app.add_typer(admin, name="admin")


def print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"herald {version('herald-cli')}")
        raise typer.Exit()


@app.callback()
def before_the_command(
    ctx: typer.Context,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=print_version, is_eager=True, help="print herald's version"
        ),
    ] = False,
) -> None:
    """Drive Herald's bulk WhatsApp campaigns through its REST API."""
    invocation_of(ctx).flags = ConnectionFlags(api_url, token, as_json)
