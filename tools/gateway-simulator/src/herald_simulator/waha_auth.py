"""WAHA's login QR route: ``GET /api/{session}/auth/qr``.

As WAHA documents it: ``?format=image`` (the default) answers the PNG, or with
``Accept: application/json`` ``{"mimetype": "image/png", "data": "<base64>"}``;
``?format=raw`` answers ``{"value": "<QR value>"}``. Only a session in SCAN_QR_CODE has a QR;
any other status is a 422 like sendText's, after WAHA's wait (``waha_sessions``). Unknown or
stopped session: 404; wrong ``X-Api-Key``: 401 (Plus only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from herald_simulator.config import SessionStatus
from herald_simulator.login_qr import qr_png, qr_png_base64, qr_value
from herald_simulator.waha_sessions import check_waha_key, waha_session_gate

if TYPE_CHECKING:
    from herald_simulator.app import SimulatorState

QR_COUNT = 1  # the simulator shows one code per pairing; WhatsApp refreshes it every ~20 s


def add_waha_auth_routes(app: FastAPI, state: SimulatorState) -> None:
    @app.get("/api/{session}/auth/qr", response_model=None)
    async def login_qr(session: str, request: Request, format: str = "image") -> Any:
        check_waha_key(state.config, request)
        refused = await waha_session_gate(state, session, SessionStatus.SCAN_QR_CODE)
        if refused is not None:
            return refused
        value = qr_value(session, QR_COUNT)
        if format == "raw":
            return {"value": value}
        if request.headers.get("accept") == "application/json":
            return {"mimetype": "image/png", "data": qr_png_base64(value)}
        return Response(qr_png(value), media_type="image/png")
