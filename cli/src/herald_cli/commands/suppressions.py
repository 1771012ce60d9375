"""``herald suppressions``: the numbers Herald sends nothing to, and the opt-out keywords that
put recipients on that list."""

from __future__ import annotations

import re
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Annotated, Any

import typer

from herald_cli.api import ApiError, HeraldApi, Json
from herald_cli.csv_files import STANDARD_STREAM, open_csv, save_csv
from herald_cli.flags import ApiFlag, ConnectionFlags, FlagConflict, JsonFlag, TokenFlag
from herald_cli.request_bodies import keyword_settings_request
from herald_cli.session import command_session, invocation_of
from herald_cli.views import suppressions as views
from herald_cli.views.errors import naming_given_values

suppressions = typer.Typer(
    help="The numbers Herald sends nothing to, and the opt-out keywords.", no_args_is_help=True
)
keywords = typer.Typer(
    help="The opt-out, opt-in and help keywords recipients send, and the replies.",
    invoke_without_command=True,
)
suppressions.add_typer(keywords, name="keywords")

MAX_NUMBERS_PER_REQUEST = 1000
DEFAULT_PAGE = 100
DEFAULT_PAGE_WITH_ALL = 1000
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
WRITTEN_SEPARATORS = re.compile(r"[\s().-]")


def e164_number(text: str) -> str:
    """A number as the list keeps it: ``+`` and the country code (spaces, dots, dashes and
    brackets as people write numbers are dropped)."""
    number = WRITTEN_SEPARATORS.sub("", text)
    if not E164.match(number):
        raise typer.BadParameter(
            f"{text!r} is not an E.164 number: + and the country code, like +919876543210"
        )
    return number


def phone_argument(help: str) -> Any:
    return typer.Argument(metavar="PHONE", parser=e164_number, help=help)


def words_option(name: str, metavar: str, help: str) -> Any:
    return typer.Option(name, metavar=metavar, help=f"{help} (repeat it; replaces the list)")


def reply_option(name: str, keyword: str) -> Any:
    return typer.Option(name, metavar="TEXT", help=f"the reply to {keyword} ('' for none)")


@suppressions.command("list")
def list_suppressions(
    ctx: typer.Context,
    after: Annotated[
        str | None,
        typer.Option(
            "--after", metavar="PHONE", parser=e164_number, help="the numbers after this one"
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            help=f"at most this many a page (1-1000; {DEFAULT_PAGE}, "
            f"or {DEFAULT_PAGE_WITH_ALL} with --all)",
        ),
    ] = None,
    every_page: Annotated[
        bool, typer.Option("--all", help="every page, one after the other, to the end")
    ] = False,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """The numbers on the list, in number order, with what put each there."""
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        if every_page:
            listing = all_pages(session.api, after, limit or DEFAULT_PAGE_WITH_ALL)
        else:
            listing = session.api.suppressions(after=after, limit=limit or DEFAULT_PAGE)
        session.output.result(listing, views.suppressions_table(listing))


def all_pages(api: HeraldApi, after: str | None, page_size: int) -> Json:
    """The pages from ``after`` on, following ``nextAfter``, as one listing."""
    items: list[Json] = []
    while True:
        page = api.suppressions(after=after, limit=page_size)
        found = page.get("items") or []
        items += found
        after = page.get("nextAfter")
        if not after or not found:
            return {**page, "items": items, "nextAfter": None}


@suppressions.command("add")
def add(
    ctx: typer.Context,
    numbers: Annotated[
        list[str],
        typer.Argument(
            metavar="PHONE...",
            help="numbers to put on the list: E.164 (+9198…), or national numbers of the "
            "deployment's region",
        ),
    ],
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Put numbers on the list (reason manual): Herald sends them nothing from now on."""
    if len(numbers) > MAX_NUMBERS_PER_REQUEST:
        raise FlagConflict(
            f"at most {MAX_NUMBERS_PER_REQUEST} numbers at a time; "
            "for more, `herald suppressions import FILE.csv`"
        )
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        try:
            result = session.api.add_suppressions(numbers)
        except ApiError as error:
            raise naming_given_values(error, "numbers", numbers) from None
        session.output.result(result, views.added_result(result))


@suppressions.command("remove")
def remove(
    ctx: typer.Context,
    phone: Annotated[str, phone_argument("the number to take off the list")],
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Take a number off the list, whatever put it there: Herald may send to it again."""
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        session.api.remove_suppression(phone)
        session.output.result({"phone": phone, "removed": True}, views.removed_result(phone))


@suppressions.command("show")
def show(
    ctx: typer.Context,
    phone: Annotated[str, phone_argument("the number")],
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """A number's entry: why, since when, and what put it there."""
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        entry = session.api.suppression(phone)
        session.output.result(entry, views.suppression_details(entry))


@suppressions.command("import")
def import_suppressions(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="CSV with a header row and a phone column (others are ignored, so an export "
            "reads back); - reads standard input",
        ),
    ],
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Put the numbers of a CSV file on the list (reason import), streamed as it is read."""
    with (
        command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session,
        ExitStack() as stack,
    ):
        stream, source = open_csv(file, stack)
        result = session.api.import_suppressions_csv(stream)
        session.output.result(result, views.import_result(source, result))


@suppressions.command("export")
def export(
    ctx: typer.Context,
    output_file: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="write it to FILE, which appears once the whole list is in; --json then "
            "says the file and its count of numbers (- or none: standard output)",
        ),
    ] = STANDARD_STREAM,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """The list as CSV (phone, reason, suppressedAt, keyword, campaignId), streamed."""
    to_file = output_file != STANDARD_STREAM
    if to_file and Path(output_file).is_dir():
        raise FlagConflict(f"--output {output_file} is a folder")
    if to_file and not Path(output_file).parent.is_dir():
        raise FlagConflict(f"--output {output_file}: no such folder {Path(output_file).parent}")
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        with closing(session.api.export_suppressions_csv()) as chunks:
            records = save_csv(chunks, output_file)
        if to_file:
            numbers = max(records - 1, 0)  # less the header
            session.output.result(
                {"file": output_file, "numbers": numbers},
                views.export_result(output_file, numbers),
            )


@suppressions.command("not-on-whatsapp")
def not_on_whatsapp(
    ctx: typer.Context,
    campaign: Annotated[
        str,
        typer.Argument(
            metavar="CAMPAIGN",
            help="the campaign's id; its numbers may join WhatsApp later: remove them then",
        ),
    ],
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Put the numbers a campaign found not on WhatsApp on the list."""
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        result = session.api.add_not_on_whatsapp(campaign)
        session.output.result(result, views.not_on_whatsapp_result(campaign, result))


@keywords.callback()
def show_keywords(
    ctx: typer.Context,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """The keywords in force per class, the tenant's own, and the replies."""
    flags = ConnectionFlags(api_url, token, as_json)
    if ctx.invoked_subcommand is not None:
        # Given before `set`: they hold for it.
        invocation = invocation_of(ctx)
        invocation.flags = flags.over(invocation.flags)
        return
    with command_session(ctx, flags) as session:
        settings = session.api.keyword_settings()
        session.output.result(settings, views.keyword_settings_view(settings))


@keywords.command("set")
def set_keywords(
    ctx: typer.Context,
    languages: Annotated[
        list[str] | None,
        words_option("--language", "TAG", "a language whose built-in keywords apply, e.g. es"),
    ] = None,
    opt_out: Annotated[
        list[str] | None, words_option("--opt-out", "WORD", "an opt-out keyword of your own")
    ] = None,
    opt_in: Annotated[
        list[str] | None, words_option("--opt-in", "WORD", "an opt-in keyword of your own")
    ] = None,
    help_words: Annotated[
        list[str] | None, words_option("--help-word", "WORD", "a help keyword of your own")
    ] = None,
    removed: Annotated[
        list[str] | None, words_option("--remove", "WORD", "a built-in keyword to turn off")
    ] = None,
    reply_opt_out: Annotated[
        str | None, reply_option("--reply-opt-out", "an opt-out keyword")
    ] = None,
    reply_opt_in: Annotated[str | None, reply_option("--reply-opt-in", "an opt-in keyword")] = None,
    reply_help: Annotated[str | None, reply_option("--reply-help", "a help keyword")] = None,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Change the keyword settings: what is given replaces what was set, the rest stays."""
    extra = {"opt-out": opt_out, "opt-in": opt_in, "help": help_words}
    replies = {"opt-out": reply_opt_out, "opt-in": reply_opt_in, "help": reply_help}
    given = [languages, removed, *extra.values(), *replies.values()]
    if all(setting is None for setting in given):
        raise FlagConflict("give a setting to change (herald suppressions keywords set --help)")
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        current = session.api.keyword_settings()
        request = keyword_settings_request(
            current, languages=languages, extra=extra, removed=removed, replies=replies
        )
        settings = session.api.set_keyword_settings(request)
        session.output.result(settings, views.keyword_settings_view(settings))
