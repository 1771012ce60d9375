"""One function per ``herald NOUN VERB``: call the API, print the result, return the exit
status. API errors propagate to main, which says them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from herald_cli import rendering
from herald_cli.api import ApiError, HeraldApi, Json
from herald_cli.output import Output
from herald_cli.progress import Verdict, progress_of
from herald_cli.watch import WatchOptions, display_for, watch_campaign

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

Command = Callable[[HeraldApi, argparse.Namespace, Output], int]


class UsageError(Exception):
    """The command line names something that is not there (a file)."""


def create_request(args: argparse.Namespace) -> Json:
    """The body of ``POST /api/campaigns`` from ``herald campaigns create``'s flags."""
    body: Json = {"name": args.name, "messageBody": args.body}
    if args.delay_type:
        body["delayType"] = args.delay_type
    if args.min_delay is not None and args.max_delay is not None:
        body["customDelay"] = {"minSeconds": args.min_delay, "maxSeconds": args.max_delay}
    if args.expires_at is not None:
        body["expiresAt"] = args.expires_at.isoformat()
    if args.valid_for is not None:
        body["validForSeconds"] = args.valid_for
    return body


def schedule_request(args: argparse.Namespace) -> Json | None:
    """The body of ``POST /api/campaigns/{id}/send``: None sends now."""
    if args.at is not None:
        return {"sendAt": args.at.isoformat()}
    if args.cron:
        schedule: Json = {"cron": args.cron}
        if args.timezone:
            schedule["timezone"] = args.timezone
        return schedule
    return None


def paging(args: argparse.Namespace, **filters: str | None) -> dict[str, str | int]:
    query: dict[str, str | int] = {"limit": args.limit, "offset": args.offset}
    query.update({name: value for name, value in filters.items() if value})
    return query


def campaigns_create(api: HeraldApi, args: argparse.Namespace, output: Output) -> int:
    campaign = api.create_campaign(create_request(args))
    output.result(campaign, rendering.campaign_created(campaign))
    return EXIT_OK


def campaigns_list(api: HeraldApi, args: argparse.Namespace, output: Output) -> int:
    listing = api.list_campaigns(limit=args.limit, offset=args.offset)
    output.result(listing, rendering.campaigns_table(listing))
    return EXIT_OK


def campaigns_show(api: HeraldApi, args: argparse.Namespace, output: Output) -> int:
    campaign = api.campaign(args.campaign)
    stats = api.campaign_stats(args.campaign)
    progress = progress_of(campaign, stats)
    output.result({**campaign, "stats": stats}, rendering.campaign_details(campaign, progress))
    return EXIT_OK


def campaigns_send(api: HeraldApi, args: argparse.Namespace, output: Output) -> int:
    result = api.send_campaign(args.campaign, schedule_request(args))
    output.result(result, rendering.send_result(result))
    return EXIT_OK


def campaigns_watch(api: HeraldApi, args: argparse.Namespace, output: Output) -> int:
    options = WatchOptions(
        interval=args.interval, timeout=args.timeout, request_sweep=not args.no_sweep
    )
    result = watch_campaign(api, args.campaign, options, display_for(output))
    if result.timed_out:
        progress = result.progress
        output.error(
            f"gave up after {args.timeout:g} s: campaign {progress.campaign_id} is "
            f"{progress.status}, {progress.ended} of {progress.expected} messages ended"
        )
        return EXIT_TIMEOUT
    if result.verdict in (Verdict.COMPLETED, Verdict.RUN_OVER):
        return EXIT_OK
    return EXIT_REFUSED


def _lifecycle(
    change: Callable[[HeraldApi, argparse.Namespace], Json],
) -> Command:
    def run(api: HeraldApi, args: argparse.Namespace, output: Output) -> int:
        campaign = change(api, args)
        output.result(campaign, rendering.lifecycle_result(campaign))
        return EXIT_OK

    return run


campaigns_pause = _lifecycle(lambda api, args: api.pause_campaign(args.campaign, args.reason))
campaigns_resume = _lifecycle(lambda api, args: api.resume_campaign(args.campaign))
campaigns_cancel = _lifecycle(lambda api, args: api.cancel_campaign(args.campaign, args.reason))


def _open_csv(name: str, stack: ExitStack) -> tuple[IO[bytes], str]:
    if name == "-":
        return sys.stdin.buffer, "standard input"
    path = Path(name)
    if not path.is_file():
        raise UsageError(f"{name}: no such file")
    return stack.enter_context(path.open("rb")), path.name


def contacts_import(api: HeraldApi, args: argparse.Namespace, output: Output) -> int:
    with ExitStack() as stack:
        stream, source = _open_csv(args.file, stack)
        result = api.import_contacts_csv(args.campaign, stream)
    output.result(result, rendering.import_summary(args.campaign, source, result))
    return EXIT_OK


def dead_letters_list(api: HeraldApi, args: argparse.Namespace, output: Output) -> int:
    listing = api.dead_letters(
        paging(args, campaignId=args.campaign, reason=args.reason, status=args.status)
    )
    output.result(listing, rendering.dead_letters_table(listing))
    return EXIT_OK


def dead_letters_redrive(api: HeraldApi, args: argparse.Namespace, output: Output) -> int:
    if args.campaign:
        result = api.redrive_campaign_dead_letters(args.campaign)
        output.result(result, rendering.campaign_redrive_result(args.campaign, result))
        return EXIT_OK
    # Each id on its own: one that cannot be redriven does not stop the others.
    results: list[Mapping[str, Any]] = []
    failures = 0
    for dead_letter_id in args.ids:
        try:
            result = api.redrive_dead_letter(dead_letter_id)
        except ApiError as error:
            failures += 1
            results.append({"id": dead_letter_id, "error": error.message, "status": error.status})
            if not output.json:
                output.error(f"{dead_letter_id}: {error}")
            continue
        results.append(result)
        if not output.json:
            output.result(result, rendering.redrive_result(result))
    if output.json:
        output.json_line(results, indent=2)
    return EXIT_REFUSED if failures else EXIT_OK


def accounts_list(api: HeraldApi, args: argparse.Namespace, output: Output) -> int:
    listing = api.accounts(paging(args, status=args.status))
    output.result(listing, rendering.accounts_table(listing, datetime.now(UTC)))
    return EXIT_OK


def queue_stats(api: HeraldApi, args: argparse.Namespace, output: Output) -> int:
    stats = api.queue_stats()
    output.result(stats, rendering.queue_stats_text(stats))
    return EXIT_OK


COMMANDS: Mapping[tuple[str, str], Command] = {
    ("campaigns", "create"): campaigns_create,
    ("campaigns", "list"): campaigns_list,
    ("campaigns", "show"): campaigns_show,
    ("campaigns", "send"): campaigns_send,
    ("campaigns", "watch"): campaigns_watch,
    ("campaigns", "pause"): campaigns_pause,
    ("campaigns", "resume"): campaigns_resume,
    ("campaigns", "cancel"): campaigns_cancel,
    ("contacts", "import"): contacts_import,
    ("dead-letters", "list"): dead_letters_list,
    ("dead-letters", "redrive"): dead_letters_redrive,
    ("accounts", "list"): accounts_list,
    ("queue", "stats"): queue_stats,
}
