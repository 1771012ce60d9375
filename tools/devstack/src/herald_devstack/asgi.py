"""Running an ASGI app's lifespan inside a test, so its broker and database hooks run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Start ``app`` (its lifespan: broker, database, subscribers) and stop it afterwards."""
    async with app.router.lifespan_context(app):
        yield app
