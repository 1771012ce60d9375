"""The command line: ``herald NOUN VERB [options]``. Pure: parsing only, no I/O."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from importlib.metadata import version

from herald_cli.connection import API_ENV, DEFAULT_API, TOKEN_ENV, TOKEN_FILE

DELAY_TYPES = ("fast", "balanced", "safe")

DESCRIPTION = "Drive Herald's bulk WhatsApp campaigns through its REST API."
EPILOG = f"""\
connection: --api, else ${API_ENV}, else {DEFAULT_API}; --token, else ${TOKEN_ENV}, else
{TOKEN_FILE} in this folder or a parent (written by `make up`).

exit status: 0 done; 1 the API refused (the error names the field) or a watched campaign was
cancelled; 2 bad usage; 3 the API cannot be reached; 4 --timeout passed; 130 interrupted.

a walk-through:
  herald campaigns create --name "Summer Sale" --body "Hi {{{{name|there}}}}, 50% OFF!" --json
  herald contacts import CAMPAIGN contacts.csv
  herald campaigns send CAMPAIGN            (or --at 2026-12-01T09:00:00+01:00, or --cron)
  herald campaigns watch CAMPAIGN
"""


def send_time(text: str) -> datetime:
    """``--at``: ISO 8601; a time without an offset is in this machine's time zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (like 2026-12-01T09:00:00+01:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _common_options(*, top: bool) -> argparse.ArgumentParser:
    """--api, --token, --json: accepted before the command and after it. After it they are
    SUPPRESSed when absent, so they never override what was given before."""
    default = None if top else argparse.SUPPRESS
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("connection and output")
    group.add_argument("--api", metavar="URL", default=default, help=f"API address (${API_ENV})")
    group.add_argument("--token", default=default, help=f"bearer token (${TOKEN_ENV})")
    group.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="print the API's JSON (watch: one JSON line per change), for scripts",
    )
    return options


class _Noun:
    """``herald NOUN``: a group of verbs, each taking the common options too."""

    def __init__(
        self, nouns: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
    ) -> None:
        noun = nouns.add_parser(name, help=help_text, description=help_text)
        self._verbs = noun.add_subparsers(dest="verb", metavar="ACTION", required=True)
        self._common = _common_options(top=False)

    def verb(self, name: str, help_text: str) -> argparse.ArgumentParser:
        return self._verbs.add_parser(
            name, help=help_text, description=help_text, parents=[self._common]
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="herald",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common_options(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"herald {version('herald-cli')}")
    nouns = parser.add_subparsers(dest="noun", metavar="COMMAND", required=True)
    _campaign_commands(
        _Noun(nouns, "campaigns", "create, list, show, send, watch, pause, resume, cancel")
    )
    _contact_commands(_Noun(nouns, "contacts", "a campaign's contacts"))
    _dead_letter_commands(_Noun(nouns, "dead-letters", "messages and records that failed for good"))
    accounts = _Noun(nouns, "accounts", "sender accounts (WhatsApp numbers)")
    listing = accounts.verb("list", "the sender accounts with the health of their sessions")
    listing.add_argument("--status", choices=("enabled", "disabled"))
    _paging(listing)
    _Noun(nouns, "queue", "the message queue").verb(
        "stats", "messages by status, consumer lag, circuit breakers"
    )
    return parser


def _paging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=50, help="at most this many (1-500)")
    parser.add_argument("--offset", type=int, default=0, help="skip this many")


def _campaign_commands(campaigns: _Noun) -> None:
    create = campaigns.verb("create", "create a draft campaign")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--body",
        required=True,
        help="the message template: {{name}}, {{phone}}, any custom field, with a default: "
        "{{name|there}}",
    )
    create.add_argument("--delay-type", choices=DELAY_TYPES, help="anti-ban pace (balanced)")
    create.add_argument("--min-delay", type=positive_seconds, metavar="SECONDS")
    create.add_argument("--max-delay", type=positive_seconds, metavar="SECONDS")
    validity = create.add_mutually_exclusive_group()
    validity.add_argument(
        "--expires-at", type=send_time, metavar="TIME", help="not sent by then: expired"
    )
    validity.add_argument(
        "--valid-for", type=int, metavar="SECONDS", help="the same, counted from each launch"
    )

    _paging(campaigns.verb("list", "the campaigns, newest first"))
    campaigns.verb("show", "a campaign with its message counts").add_argument("campaign")

    send = campaigns.verb("send", "send now, at a time, or on a cron schedule")
    send.add_argument("campaign")
    when = send.add_mutually_exclusive_group()
    when.add_argument(
        "--at",
        type=send_time,
        metavar="TIME",
        help="ISO 8601, e.g. 2026-12-01T09:00:00+01:00 (no offset: this machine's zone)",
    )
    when.add_argument("--cron", help='e.g. "0 9 * * MON"; each firing is a run of its own')
    send.add_argument("--timezone", help="the cron's time zone, e.g. Europe/Berlin (UTC)")

    watch = campaigns.verb("watch", "a live progress bar until the campaign completes")
    watch.add_argument("campaign")
    watch.add_argument(
        "--interval", type=positive_seconds, default=1.0, metavar="SECONDS", help="poll every"
    )
    watch.add_argument(
        "--timeout", type=positive_seconds, metavar="SECONDS", help="give up after (exit 4)"
    )
    watch.add_argument(
        "--no-sweep",
        action="store_true",
        help="when every message ended, wait for the scheduler's next sweep to mark the "
        "campaign completed instead of asking for one now",
    )

    for name, help_text in (
        ("pause", "stop sending a running campaign (nothing is lost)"),
        ("resume", "send a paused campaign's waiting messages"),
        ("cancel", "stop for good: unsent messages become cancelled"),
    ):
        action = campaigns.verb(name, help_text)
        action.add_argument("campaign")
        if name != "resume":
            action.add_argument("--reason")


def _contact_commands(contacts: _Noun) -> None:
    imports = contacts.verb("import", "import a campaign's contacts from a CSV file")
    imports.add_argument("campaign", help="the campaign's id")
    imports.add_argument(
        "file",
        help="CSV with a header row: phone (required), name, and any custom field the "
        "template uses; - reads standard input",
    )


def _dead_letter_commands(dead_letters: _Noun) -> None:
    listing = dead_letters.verb("list", "dead letters, newest first")
    listing.add_argument("--campaign", help="only this campaign's")
    listing.add_argument("--reason", help="only this reason (e.g. permanent_invalid_number)")
    listing.add_argument("--status", choices=("open", "redriven"))
    _paging(listing)
    redrive = dead_letters.verb("redrive", "give dead letters another go")
    redrive.add_argument("ids", nargs="*", metavar="ID", help="dead letters to redrive")
    redrive.add_argument("--campaign", help="every open dead letter of this campaign")


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.noun == "campaigns" and args.verb == "send" and args.timezone and not args.cron:
        parser.error("--timezone goes with --cron")
    command = (args.noun, args.verb)
    if command == ("campaigns", "create") and (args.min_delay is None) != (args.max_delay is None):
        parser.error("--min-delay and --max-delay go together")
    if command == ("dead-letters", "redrive") and bool(args.ids) == bool(args.campaign):
        parser.error("give dead-letter IDs or --campaign (one of them)")
    return args
