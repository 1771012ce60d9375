"""The rows a CSV import rejected, by line: under a contact import and a suppression import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import RenderableType

from herald_cli.views.tables import cell, indented, listing_table, number

MAX_LISTED_REJECTIONS = 20


def rejected_rows(result: Mapping[str, Any], *, json_lists: int) -> list[RenderableType]:
    """``Rejected:`` and a table of the first rejected rows, with how many more there are and
    that ``--json`` lists the first ``json_lists`` (as many as the API answers with); nothing
    when no row was rejected."""
    rejected = result.get("rejected") or []
    if not rejected:
        return []
    rejected_count = result.get("rejectedCount", len(rejected))
    listed = rejected[:MAX_LISTED_REJECTIONS]
    table = listing_table(number("LINE"), "PHONE", "REASON")
    for r in listed:
        table.add_row(cell(r.get("line", r.get("index"))), r.get("phone", ""), r.get("reason", ""))
    parts: list[RenderableType] = ["Rejected:", indented(table)]
    if rejected_count > len(listed):
        parts.append(
            f"  … and {rejected_count - len(listed)} more (--json lists the first {json_lists})"
        )
    return parts
