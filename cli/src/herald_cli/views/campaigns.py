"""Campaigns: created, listed, shown, sent, paused, resumed, cancelled."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.table import Table

from herald_cli.progress import Progress
from herald_cli.views.tables import cell, indented, listing_table, number, page_note
from herald_cli.views.times import short_time


def campaign_created(campaign: Mapping[str, Any]) -> str:
    return (
        f'Created campaign {campaign["id"]} "{campaign["name"]}" '
        f"({campaign['status']}, delay {delay_text(campaign)}).\n"
        f"Next: herald contacts import {campaign['id']} FILE.csv"
    )


def delay_text(campaign: Mapping[str, Any]) -> str:
    custom = campaign.get("customDelay")
    if isinstance(custom, Mapping):
        return f"{custom.get('minSeconds'):g}-{custom.get('maxSeconds'):g} s"
    return str(campaign.get("delayType", "balanced"))


def campaigns_table(listing: Mapping[str, Any]) -> Group:
    campaigns = listing.get("campaigns") or []
    table = listing_table("ID", "NAME", "STATUS", number("CONTACTS"), "CREATED")
    for c in campaigns:
        table.add_row(
            c["id"],
            c["name"],
            c["status"],
            cell(c.get("contactCount", 0)),
            short_time(c["createdAt"]),
        )
    return Group(table, page_note(len(campaigns), listing))


def campaign_details(campaign: Mapping[str, Any], progress: Progress) -> Group:
    details = Table.grid(padding=(0, 2))
    details.add_row("status", status_text(campaign))
    details.add_row("contacts", cell(campaign.get("contactCount", 0)))
    details.add_row("delay", delay_text(campaign))
    details.add_row("messages", counts_text(progress))
    details.add_row("created", short_time(campaign.get("createdAt")))
    if campaign.get("launchedAt"):
        details.add_row("launched", short_time(campaign["launchedAt"]))
    if campaign.get("expiresAt"):
        details.add_row("expires", short_time(campaign["expiresAt"]))
    return Group(f"{campaign['id']}  {campaign['name']}", indented(details))


def status_text(campaign: Mapping[str, Any]) -> str:
    """``running``, ``running (run 3)``, ``paused by user: wrong link``, ``cancelled: why``."""
    status = str(campaign.get("status"))
    run = campaign.get("run") or 0
    text = f"{status} (run {run})" if run and run > 1 else status
    if status == "paused":
        by = campaign.get("pausedBy") or "user"
        reason = campaign.get("pauseReason")
        text += f" by {by}" + (f": {reason}" if reason else "")
    if status == "cancelled" and campaign.get("cancelReason"):
        text += f": {campaign['cancelReason']}"
    return text


def counts_text(progress: Progress) -> str:
    """``9 sent, 7 delivered, 1 failed, 0 pending of 10; success 90.00%``."""
    parts = [
        f"{progress.sent} sent",
        f"{progress.delivered} delivered",
        f"{progress.failed} failed",
        f"{progress.pending} pending",
    ]
    if progress.cancelled:
        parts.append(f"{progress.cancelled} cancelled")
    return f"{', '.join(parts)} of {progress.expected}; success {progress.success_rate}%"


def send_result(result: Mapping[str, Any]) -> str:
    campaign_id = result.get("campaignId")
    if result.get("status") == "scheduled":
        return (
            f"Campaign {campaign_id} is scheduled (schedule {result.get('scheduleId')}); "
            f"next run at {short_time(result.get('nextRunAt'))}.\n"
            f"Watch it: herald campaigns watch {campaign_id}"
        )
    return (
        f"Campaign {campaign_id} is running: the dispatcher is making its messages.\n"
        f"Watch it: herald campaigns watch {campaign_id}"
    )


def lifecycle_result(campaign: Mapping[str, Any]) -> str:
    text = f"Campaign {campaign['id']} is {status_text(campaign)}."
    if campaign.get("status") == "cancelled" and campaign.get("cancelledMessages") is not None:
        text += f" {campaign['cancelledMessages']} unsent messages cancelled."
    return text
