"""WAHA's login QR route: ``GET /api/{session}/auth/qr``.

As WAHA documents it: ``?format=image`` (the default) answers the PNG, or with
``Accept: application/json`` ``{"mimetype": "image/png", "data": "<base64>"}``;
``?format=raw`` answers ``{"value": "<QR value>"}``. Only a session in SCAN_QR_CODE has a QR;
any other status is a 422 like sendText's (WAHA first waits up to 5 s for the status; the
simulator answers at once). Unknown session: 404; wrong ``X-Api-Key``: 401.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from herald_simulator.config import SessionStatus
from herald_simulator.errors import SimError
from herald_simulator.login_qr import qr_png, qr_png_base64, qr_value

if TYPE_CHECKING:
    from herald_simulator.app import SimulatorState

API_KEY_HEADER = "X-Api-Key"
QR_COUNT = 1  # the simulator shows one code per pairing; WhatsApp refreshes it every ~20 s


def check_waha_api_key(expected: str | None, request: Request) -> None:
    """Raise SimError(401) unless the request carries the expected ``X-Api-Key``."""
    if expected is None:
        return
    given = request.headers.get(API_KEY_HEADER)
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise SimError(401, f"Unauthorized: missing or wrong {API_KEY_HEADER} header")


def add_waha_auth_routes(app: FastAPI, state: SimulatorState) -> None:
    @app.get("/api/{session}/auth/qr", response_model=None)
    async def login_qr(session: str, request: Request, format: str = "image") -> Any:
        check_waha_api_key(state.config.api_key, request)
        found = state.sessions.require(session)
        if found.status is not SessionStatus.SCAN_QR_CODE:
            raise SimError(
                422,
                "Session status is not as expected. Try again later or restart the session",
                session=found.name,
                status=found.status.value,
                expected=[SessionStatus.SCAN_QR_CODE.value],
            )
        value = qr_value(found.name, QR_COUNT)
        if format == "raw":
            return {"value": value}
        if request.headers.get("accept") == "application/json":
            return {"mimetype": "image/png", "data": qr_png_base64(value)}
        return Response(qr_png(value), media_type="image/png")
