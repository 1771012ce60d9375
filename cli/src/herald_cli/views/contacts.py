"""A contact import: what was added, and the lines that were not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group

from herald_cli.views.rejections import rejected_rows

LISTED_BY_THE_API = 1000
"""Rejected rows the contact import's answer lists."""


def import_summary(campaign_id: str, source: str, result: Mapping[str, Any]) -> Group:
    rejected_count = result.get("rejectedCount", len(result.get("rejected") or []))
    duplicates = result.get("duplicates", 0)
    return Group(
        f"Imported {source} into {campaign_id}: {result.get('accepted', 0)} added, "
        f"{duplicates} duplicate{'' if duplicates == 1 else 's'}, {rejected_count} rejected; "
        f"the campaign has {result.get('total', 0)} contacts.",
        *rejected_rows(result, json_lists=LISTED_BY_THE_API),
    )
