"""The control routes of the simulated recipients and of what each number got and sent.

- ``PUT /_sim/recipients`` ``[behaviour, ...]`` (or ``{"recipients": [...]}``): the behaviours
  in force from now on (``recipient_behaviours``); every number answers anew, pending answers
  are dropped. 400 naming the field (``recipients[0].replies[1].afterMs``).
- ``GET /_sim/recipients`` → ``{"behaviours", "inbound", "pending"}``: the behaviours, every
  message a recipient sent (phone, session, gateway, engine, text, id, gatewayId, from, at,
  webhooks), and the answers still waiting for their delay.
- ``DELETE /_sim/recipients``: no behaviours, an empty log.
- ``GET /_sim/phones/{phone}`` → ``{"phone", "sends", "received", "sent"}``: every send to the
  number (the send ledger's records, any outcome), those that reached it, and what it sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.params import Depends

from herald_simulator.errors import SimError, bad_request
from herald_simulator.recipient_behaviours import parse_behaviours, phone_digits

if TYPE_CHECKING:
    from herald_simulator.app import SimulatorState


def add_recipient_routes(
    app: FastAPI, state: SimulatorState, dependencies: Sequence[Depends]
) -> None:
    async def body_of(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as error:
            raise SimError(400, "Bad Request", message=str(error)) from None

    @app.get("/_sim/recipients", dependencies=dependencies)
    async def recipients() -> dict[str, Any]:
        return state.recipients.to_json()

    @app.put("/_sim/recipients", dependencies=dependencies)
    async def put_recipients(request: Request) -> dict[str, Any]:
        state.recipients.replace(parse_behaviours(await body_of(request)))
        return state.recipients.to_json()

    @app.delete("/_sim/recipients", dependencies=dependencies)
    async def clear_recipients() -> dict[str, Any]:
        state.recipients.clear()
        return state.recipients.to_json()

    @app.get("/_sim/phones/{phone}", dependencies=dependencies)
    async def phone(phone: str) -> dict[str, Any]:
        digits = phone_digits(phone)
        if digits is None:
            raise bad_request("phone", "must be an E.164 number (+ and 5 to 15 digits)")
        sends = state.ledger.sends_to(digits)
        return {
            "phone": f"+{digits}",
            "sends": [record.to_json() for record in sends],
            "received": [record.to_json() for record in sends if record.outcome.reached_phone],
            "sent": [record.to_json() for record in state.recipients.sent_by(digits)],
        }
