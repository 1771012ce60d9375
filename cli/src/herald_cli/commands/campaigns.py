"""``herald campaigns``: create, list, show, send, watch, pause, resume, cancel."""

from __future__ import annotations

import mimetypes
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from herald_cli.api import HeraldApi, Json
from herald_cli.exit_status import ExitStatus
from herald_cli.flags import (
    AdminTokenFlag,
    ApiFlag,
    ConnectionFlags,
    FlagConflict,
    JsonFlag,
    Limit,
    Offset,
    TokenFlag,
    seconds_option,
    time_option,
)
from herald_cli.progress import Verdict, progress_of
from herald_cli.request_bodies import create_request, media_request, schedule_request
from herald_cli.session import command_session, operator_api_if_any
from herald_cli.views import campaigns as views
from herald_cli.views.watching import watch_gave_up
from herald_cli.watch import WatchOptions, watch_campaign
from herald_cli.watch_displays import display_for

campaigns = typer.Typer(
    help="Create, list, show, send, watch, pause, resume, cancel.", no_args_is_help=True
)

CampaignId = Annotated[str, typer.Argument(metavar="CAMPAIGN", help="the campaign's id")]
Reason = Annotated[str | None, typer.Option("--reason", help="why, kept with the campaign")]
DelayType = Literal["fast", "balanced", "safe"]
TEMPLATE_HELP = (
    "the message template: {{name}}, {{phone}}, any custom field, with a default: {{name|there}}"
)


@campaigns.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="what the campaign is called")],
    body: Annotated[str, typer.Option("--body", help=TEMPLATE_HELP)],
    delay_type: Annotated[
        DelayType | None, typer.Option("--delay-type", help="anti-ban pace (balanced)")
    ] = None,
    min_delay: Annotated[float | None, seconds_option("--min-delay")] = None,
    max_delay: Annotated[float | None, seconds_option("--max-delay")] = None,
    expires_at: Annotated[
        datetime | None, time_option("--expires-at", help="not sent by then: expired")
    ] = None,
    valid_for: Annotated[
        int | None,
        typer.Option("--valid-for", metavar="SECONDS", help="the same, counted from each launch"),
    ] = None,
    media: Annotated[
        str | None,
        typer.Option(
            "--media",
            metavar="FILE|URL",
            help="an image, video or document with every message (the body is its caption, "
            "1,024 characters at most): a file is uploaded, a URL is fetched by the gateway",
        ),
    ] = None,
    media_type: Annotated[
        str | None,
        typer.Option(
            "--media-type", metavar="MIME", help="the media's type (guessed from its name)"
        ),
    ] = None,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a draft campaign."""
    if (min_delay is None) != (max_delay is None):
        raise FlagConflict("--min-delay and --max-delay go together")
    if expires_at is not None and valid_for is not None:
        raise FlagConflict("--valid-for is not allowed with --expires-at")
    request = create_request(
        name=name,
        body=body,
        delay_type=delay_type,
        min_delay=min_delay,
        max_delay=max_delay,
        expires_at=expires_at,
        valid_for=valid_for,
    )
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        if media is not None:
            request["media"] = campaign_media(session.api, media, media_type)
        campaign = session.api.create_campaign(request)
        session.output.result(campaign, views.campaign_created(campaign))


def campaign_media(api: HeraldApi, source: str, media_type: str | None) -> Json:
    """``--media``: a URL as it is, or a local file uploaded first (``POST /api/media``)."""
    mimetype = media_type or mimetypes.guess_type(source)[0]
    if source.startswith(("http://", "https://")):
        if mimetype is None:
            raise FlagConflict("--media-type is needed: the URL's name does not tell its type")
        return media_request(source, mimetype, None)
    path = Path(source)
    if not path.is_file():
        raise FlagConflict(f"--media {source}: no such file")
    if mimetype is None:
        raise FlagConflict(f"--media-type is needed: {path.name} does not tell its type")
    with path.open("rb") as file:
        upload = api.upload_media(file, mimetype=mimetype, filename=path.name)
    return media_request(source, mimetype, str(upload["id"]))


@campaigns.command("list")
def list_campaigns(
    ctx: typer.Context,
    limit: Limit = 50,
    offset: Offset = 0,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """The campaigns, newest first."""
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        listing = session.api.list_campaigns(limit=limit, offset=offset)
        session.output.result(listing, views.campaigns_table(listing))


@campaigns.command("show")
def show(
    ctx: typer.Context,
    campaign: CampaignId,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """A campaign with its message counts."""
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        found = session.api.campaign(campaign)
        stats = session.api.campaign_stats(campaign)
        details = views.campaign_details(found, progress_of(found, stats))
        session.output.result({**found, "stats": stats}, details)


@campaigns.command("send")
def send(
    ctx: typer.Context,
    campaign: CampaignId,
    at: Annotated[
        datetime | None,
        time_option(
            "--at", help="ISO 8601, e.g. 2026-12-01T09:00:00+01:00 (no offset: this machine's zone)"
        ),
    ] = None,
    cron: Annotated[
        str | None,
        typer.Option("--cron", help='e.g. "0 9 * * MON"; each firing is a run of its own'),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="the cron's time zone, e.g. Europe/Berlin (UTC)"),
    ] = None,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Send now, at a time, or on a cron schedule."""
    if at is not None and cron is not None:
        raise FlagConflict("--cron is not allowed with --at")
    if timezone and not cron:
        raise FlagConflict("--timezone goes with --cron")
    schedule = schedule_request(at=at, cron=cron, timezone=timezone)
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        result = session.api.send_campaign(campaign, schedule)
        session.output.result(result, views.send_result(result))


@campaigns.command("watch")
def watch(
    ctx: typer.Context,
    campaign: CampaignId,
    interval: Annotated[float, seconds_option("--interval", help="poll every")] = 1.0,
    timeout: Annotated[
        float | None, seconds_option("--timeout", help="give up after (exit 4)")
    ] = None,
    no_sweep: Annotated[
        bool,
        typer.Option(
            "--no-sweep",
            help="when every message ended, wait for the scheduler's next sweep to mark the "
            "campaign completed instead of asking for one now (which takes the operator "
            "token: --admin-token, $HERALD_ADMIN_TOKEN or .local/admin-token)",
        ),
    ] = False,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    admin_token: AdminTokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """A live progress bar until the campaign completes."""
    options = WatchOptions(interval=interval, timeout=timeout, request_sweep=not no_sweep)
    flags = ConnectionFlags(api_url, token, as_json)
    operator_api = operator_api_if_any(ctx, flags, admin_token) if not no_sweep else None
    with (
        command_session(ctx, flags) as session,
        operator_api if operator_api is not None else nullcontext(),
    ):
        result = watch_campaign(
            session.api,
            campaign,
            options,
            display_for(session.output),
            operator_api=operator_api,
        )
        if result.timed_out:
            session.output.error(watch_gave_up(result.progress, options.timeout or 0))
            raise typer.Exit(ExitStatus.TIMEOUT)
        if result.verdict not in (Verdict.COMPLETED, Verdict.RUN_OVER):
            raise typer.Exit(ExitStatus.REFUSED)


@campaigns.command("pause")
def pause(
    ctx: typer.Context,
    campaign: CampaignId,
    reason: Reason = None,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Stop sending a running campaign (nothing is lost)."""
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        paused = session.api.pause_campaign(campaign, reason)
        session.output.result(paused, views.lifecycle_result(paused))


@campaigns.command("resume")
def resume(
    ctx: typer.Context,
    campaign: CampaignId,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Send a paused campaign's waiting messages."""
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        resumed = session.api.resume_campaign(campaign)
        session.output.result(resumed, views.lifecycle_result(resumed))


@campaigns.command("cancel")
def cancel(
    ctx: typer.Context,
    campaign: CampaignId,
    reason: Reason = None,
    api_url: ApiFlag = None,
    token: TokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Stop for good: unsent messages become cancelled."""
    with command_session(ctx, ConnectionFlags(api_url, token, as_json)) as session:
        cancelled = session.api.cancel_campaign(campaign, reason)
        session.output.result(cancelled, views.lifecycle_result(cancelled))
