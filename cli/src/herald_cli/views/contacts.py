"""A contact import: what was added, and the lines that were not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType

from herald_cli.views.tables import cell, indented, listing_table, number

MAX_LISTED_REJECTIONS = 20


def import_summary(campaign_id: str, source: str, result: Mapping[str, Any]) -> Group:
    rejected = result.get("rejected") or []
    rejected_count = result.get("rejectedCount", len(rejected))
    duplicates = result.get("duplicates", 0)
    parts: list[RenderableType] = [
        f"Imported {source} into {campaign_id}: {result.get('accepted', 0)} added, "
        f"{duplicates} duplicate{'' if duplicates == 1 else 's'}, {rejected_count} rejected; "
        f"the campaign has {result.get('total', 0)} contacts."
    ]
    if rejected:
        listed = rejected[:MAX_LISTED_REJECTIONS]
        table = listing_table(number("LINE"), "PHONE", "REASON")
        for r in listed:
            table.add_row(
                cell(r.get("line", r.get("index"))), r.get("phone", ""), r.get("reason", "")
            )
        parts += ["Rejected:", indented(table)]
        if rejected_count > len(listed):
            parts.append(
                f"  … and {rejected_count - len(listed)} more (--json lists the first 1000)"
            )
    return Group(*parts)
