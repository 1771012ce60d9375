"""The ``offset`` of the list routes: how many items to skip, within what MongoDB's skip takes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_OFFSET = 1_000_000_000
"""The largest ``offset`` a list route takes: far past any tenant's list, and well inside the
64-bit integer MongoDB's skip is (a larger one cannot even be sent to it)."""

PageOffset = Annotated[
    int,
    Query(ge=0, le=MAX_OFFSET, description=f"Items to skip, at most {MAX_OFFSET:,}."),
]
