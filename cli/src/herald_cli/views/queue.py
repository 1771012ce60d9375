"""The message queue: messages by status, consumer lag, circuit breakers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType

from herald_cli.views.tables import cell, indented, listing_table, number
from herald_cli.views.times import short_time


def queue_stats_view(stats: Mapping[str, Any]) -> Group:
    return Group(
        "Messages by status",
        _by_status(stats.get("byStatus") or {}),
        "Consumer lag",
        _consumer_lag(stats.get("consumers") or []),
        "Circuit breakers",
        _circuit_breakers(stats.get("circuits") or []),
    )


def _by_status(by_status: Mapping[str, int]) -> RenderableType:
    if not by_status:
        return "  none"
    table = listing_table(*(number(status) for status in by_status))
    table.add_row(*(cell(count) for count in by_status.values()))
    return indented(table)


def _consumer_lag(consumers: list[Mapping[str, Any]]) -> RenderableType:
    table = listing_table("GROUP", "TOPIC", number("LAG"), number("COMMITTED"), number("END"))
    for c in consumers:
        table.add_row(
            c["group"], c["topic"], cell(c["lag"]), cell(c["committed"]), cell(c["endOffset"])
        )
    return indented(table)


def _circuit_breakers(circuits: list[Mapping[str, Any]]) -> RenderableType:
    if not circuits:
        return "  none (every circuit closed)"
    table = listing_table("ACCOUNT", "ENGINE", "STATE", number("FAILURES"), "OPEN UNTIL", "REASON")
    for c in circuits:
        table.add_row(
            c["accountId"],
            c["engine"],
            c["state"],
            cell(c.get("consecutiveFailures", 0)),
            short_time(c.get("openUntil")) if c.get("openUntil") else "-",
            c.get("reason") or "",
        )
    return indented(table)
