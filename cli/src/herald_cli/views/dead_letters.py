"""Dead letters: listed and redriven."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group

from herald_cli.views.tables import cell, listing_table, number, page_note
from herald_cli.views.times import short_time


def dead_letters_table(listing: Mapping[str, Any]) -> Group:
    letters = listing.get("deadLetters") or []
    table = listing_table(
        "ID", "CAMPAIGN", "MESSAGE", "REASON", number("ATTEMPTS"), "STATUS", "LAST FAILURE"
    )
    for d in letters:
        table.add_row(
            d["id"],
            d.get("campaignId") or "-",
            d.get("messageId") or "(poison record)",
            d.get("reason", ""),
            cell(d.get("attempts", 0)),
            d.get("status", ""),
            short_time(d.get("lastFailureAt") or d.get("recordedAt")),
        )
    return Group(table, page_note(len(letters), listing))


def redrive_result(result: Mapping[str, Any]) -> str:
    letter = result.get("deadLetter") or {}
    message = result.get("message")
    if isinstance(message, Mapping):
        return (
            f"{letter.get('id')}: message {message.get('id')} is {message.get('status')} again, "
            f"attempt {message.get('attempt')} on {result.get('topic')}"
        )
    return f"{letter.get('id')}: the record is back on {result.get('topic')}"


def campaign_redrive_result(campaign_id: str, result: Mapping[str, Any]) -> str:
    skipped = result.get("skipped", 0)
    text = f"{campaign_id}: {result.get('redriven', 0)} dead letters redriven"
    if skipped:
        text += f", {skipped} left open (their message is no longer failed)"
    return text
