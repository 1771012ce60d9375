"""The suppression list: its numbers, what changed it, and the opt-out keywords."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from herald_cli.views.rejections import rejected_rows
from herald_cli.views.tables import indented, listing_table
from herald_cli.views.times import short_time

LISTED_BY_THE_API = 100
"""Rejected rows the suppression import's answer lists."""
KEYWORD_CLASSES = ("opt-out", "opt-in", "help")


def numbers_text(count: int) -> str:
    return f"{count} number{'' if count == 1 else 's'}"


def source_text(entry: Mapping[str, Any]) -> str:
    """What put a number on the list: ``"STOP" (campaign cmp_1)`` for a keyword the recipient
    sent, ``by tenant``, ``by import``, ``by tenant, campaign cmp_1``."""
    source = entry.get("source") or {}
    campaign = source.get("campaignId")
    if entry.get("reason") == "keyword":
        text = f'"{source.get("text", "")}"'
        return f"{text} (campaign {campaign})" if campaign else text
    parts = [f"by {source['by']}"] if source.get("by") else []
    if campaign:
        parts.append(f"campaign {campaign}")
    return ", ".join(parts)


def suppressions_table(listing: Mapping[str, Any]) -> Group:
    entries = listing.get("items") or []
    table = listing_table("PHONE", "REASON", "SINCE", "SOURCE")
    for e in entries:
        table.add_row(e["phone"], e["reason"], short_time(e.get("suppressedAt")), source_text(e))
    parts: list[RenderableType] = [table, page_text(len(entries), listing)]
    if listing.get("scope") == "global":
        parts.append(
            "(scope global: every tenant's opt-outs apply to all tenants; these are yours)"
        )
    return Group(*parts)


def page_text(shown: int, listing: Mapping[str, Any]) -> str:
    """``100 of 1234 numbers; next page: herald suppressions list --after +14155550199``."""
    total = listing.get("count", shown)
    if shown == 0:
        return f"none of {numbers_text(total)}" if total else "the list is empty"
    text = f"{shown} of {numbers_text(total)}"
    next_after = listing.get("nextAfter")
    return (
        f"{text}; next page: herald suppressions list --after {next_after}" if next_after else text
    )


def suppression_details(entry: Mapping[str, Any]) -> Group:
    source = entry.get("source") or {}
    details = Table.grid(padding=(0, 2))
    details.add_row("reason", str(entry.get("reason", "")))
    details.add_row("since", short_time(entry.get("suppressedAt")))
    for key, label in (
        ("text", "message"),
        ("by", "by"),
        ("accountId", "account"),
        ("campaignId", "campaign"),
        ("messageId", "answering"),
    ):
        if source.get(key):
            details.add_row(label, str(source[key]))
    return Group(str(entry.get("phone", "")), indented(details))


def added_result(result: Mapping[str, Any]) -> str:
    """``Added 2 numbers to the suppression list; 1 was on it already.``"""
    already = result.get("already", 0)
    text = f"Added {numbers_text(result.get('added', 0))} to the suppression list"
    if already:
        text += f"; {already} {'was' if already == 1 else 'were'} on it already"
    return text + "."


def removed_result(phone: str) -> str:
    return f"Took {phone} off the suppression list: Herald may send to it again."


def import_result(source: str, result: Mapping[str, Any]) -> Group:
    rejected_count = result.get("rejectedCount", len(result.get("rejected") or []))
    return Group(
        f"Imported {source} into the suppression list: {result.get('added', 0)} added, "
        f"{result.get('already', 0)} already on it, {rejected_count} rejected.",
        *rejected_rows(result, json_lists=LISTED_BY_THE_API),
    )


def export_result(file: str, numbers: int) -> str:
    return f"Exported {numbers_text(numbers)} to {file}."


def not_on_whatsapp_result(campaign_id: str, result: Mapping[str, Any]) -> str:
    """``Added 3 numbers of campaign cmp_1 that are not on WhatsApp to the suppression list.``"""
    text = (
        f"Added {numbers_text(result.get('added', 0))} of campaign {campaign_id} that "
        "are not on WhatsApp to the suppression list"
    )
    already = result.get("already", 0)
    if already:
        text += f"; {already} {'was' if already == 1 else 'were'} on it already"
    return text + "."


def keyword_settings_view(settings: Mapping[str, Any]) -> Group:
    """The languages, the built-ins turned off, and per class the keywords in force, the
    tenant's own and the reply."""
    languages = ", ".join(settings.get("languages") or []) or "none"
    available = ", ".join(settings.get("availableLanguages") or [])
    in_force = settings.get("keywords") or {}
    extra = settings.get("extra") or {}
    replies = settings.get("replies") or {}
    table = listing_table("CLASS", "KEYWORDS IN FORCE", "OWN", "REPLY")
    for keyword_class in KEYWORD_CLASSES:
        table.add_row(
            keyword_class,
            ", ".join(in_force.get(keyword_class) or []) or "-",
            ", ".join(extra.get(keyword_class) or []) or "-",
            replies.get(keyword_class) or "-",
        )
    return Group(
        f"languages: {languages}" + (f" (available: {available})" if available else ""),
        f"built-ins turned off: {', '.join(settings.get('removed') or []) or 'none'}",
        table,
        "A keyword is a whole message; case, accents and punctuation or emoji around it do "
        "not matter.",
    )
