"""The one table style of the CLI's listings, and the lines around a table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import RenderableType
from rich.padding import Padding
from rich.table import Column, Table


def listing_table(*columns: str | Column) -> Table:
    """Bold headers over a rule, no frame, two spaces between columns: it reads like the
    listings of other command-line tools, and ``grep``, ``awk`` and ``cut`` still work."""
    return Table(
        *columns,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        header_style="bold",
    )


def number(header: str) -> Column:
    """A column of counts: aligned right."""
    return Column(header, justify="right")


def cell(value: object) -> str:
    return "" if value is None else str(value)


def indented(renderable: RenderableType) -> Padding:
    # expand=False: padding to the console's width would fill a pipe's lines with spaces.
    return Padding(renderable, (0, 0, 0, 2), expand=False)


def page_note(shown: int, listing: Mapping[str, Any]) -> str:
    """``1-50 of 120`` under a page of a listing."""
    total, offset = listing.get("total", shown), listing.get("offset", 0)
    if shown == 0:
        return f"none of {total}" if total else "none"
    return f"{offset + 1}-{offset + shown} of {total}"
