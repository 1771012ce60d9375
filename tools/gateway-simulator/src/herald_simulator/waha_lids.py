"""WAHA's lids API: ``GET /api/{session}/lids/{lid}`` → ``{"lid", "pn"}``.

As WAHA's 2025 releases serve it (``src/api/lids.controller.ts``): a WORKING session (otherwise
the answers of ``waha_sessions``), a lid with ``@lid`` added when it has none (422 ``Invalid LID
- it must end with @lid`` for another server), ``pn`` the number's ``<digits>@c.us`` when the
session knows it and null when not. The simulator knows the lids it has shown (``lids``).

2024.10.8 has no such route: sessions on NOWEB and WEBJS, which the simulator models at that
version, get NestJS's 404 for an unknown route (``Cannot GET /api/…``); sessions on GOWS (2025)
get the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from herald_simulator.config import Engine
from herald_simulator.waha_sessions import check_waha_key, nest_error, waha_session_gate

if TYPE_CHECKING:
    from herald_simulator.app import SimulatorState

INVALID_LID = "Invalid LID - it must end with @lid"


def no_such_route(request: Request) -> Response:
    """NestJS's answer for a route the server does not have."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    url = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    return JSONResponse(nest_error(404, f"Cannot {request.method} {url}"), 404)


def add_waha_lids_routes(app: FastAPI, state: SimulatorState) -> None:
    @app.get("/api/{session}/lids/{lid}", response_model=None)
    async def phone_of_lid(session: str, lid: str, request: Request) -> Response:
        found = state.sessions.get(session)
        engine = found.engine if found is not None else state.config.engine
        if engine is not Engine.GOWS:
            return no_such_route(request)
        check_waha_key(state.config, request)
        refused = await waha_session_gate(state, session)
        if refused is not None:
            return refused
        if "@" not in lid:
            lid = f"{lid}@lid"
        if not lid.endswith("@lid"):
            return JSONResponse(nest_error(422, INVALID_LID), 422)
        digits = state.lids.phone_of(lid)
        return JSONResponse({"lid": lid, "pn": f"{digits}@c.us" if digits else None})
