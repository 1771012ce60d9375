"""Sender accounts, with the health of their two sessions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rich.console import Group

from herald_cli.views.tables import cell, listing_table, number, page_note
from herald_cli.views.times import ago


def session_health(session: Mapping[str, Any], now: datetime) -> str:
    """``WORKING (12s ago)``, ``FAILED (2m ago): gateway unreachable``, ``UNKNOWN``."""
    health = session.get("health") or {}
    status = str(health.get("status", "UNKNOWN"))
    if status == "UNKNOWN":
        return status
    text = f"{status} ({ago(health.get('checkedAt'), now)})"
    detail = health.get("detail")
    return f"{text}: {detail}" if detail and status != "WORKING" else text


def accounts_table(listing: Mapping[str, Any], now: datetime) -> Group:
    accounts = listing.get("accounts") or []
    table = listing_table("ID", "PHONE", "NAME", "STATUS", "PRIMARY", "FALLBACK", number("TODAY"))
    for a in accounts:
        table.add_row(
            a["id"],
            a["phone"],
            a.get("name") or "",
            a["status"],
            session_health(a.get("primary") or {}, now),
            session_health(a.get("fallback") or {}, now),
            cell(a.get("dailyAllowance", "")),
        )
    return Group(table, page_note(len(accounts), listing))
