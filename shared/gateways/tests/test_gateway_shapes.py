"""Reading the gateways' answers: message ids, session health, login QR codes. Pure."""

from __future__ import annotations

from typing import Any

import pytest

from herald_gateways.evolution import (
    EvolutionGateway,
    evolution_login_qr,
    evolution_message_id,
    evolution_number,
)
from herald_gateways.interface import LoginQr, SessionStatus
from herald_gateways.registry import GATEWAY_ADAPTERS, build_gateway
from herald_gateways.session_states import (
    evolution_state,
    evolution_status,
    waha_session_health,
    waha_status,
)
from herald_gateways.waha import WahaGateway, gateway_message_id, waha_login_qr

WEBJS_DATA_ONLY = {
    "_data": {"id": {"fromMe": True, "id": "3EB0AA", "_serialized": "true_1@c.us_3EB0AA"}},
    "body": "hi",
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"key": {"remoteJid": "1@c.us", "fromMe": True, "id": "3EB0ABC"}}, "3EB0ABC"),  # NOWEB
        ({"id": {"id": "3EB0DEF", "_serialized": "true_1@c.us_3EB0DEF"}}, "3EB0DEF"),  # WEBJS
        ({"id": {"fromMe": True, "id": "3EB0DEF"}}, "3EB0DEF"),  # WEBJS without _serialized
        (WEBJS_DATA_ONLY, "3EB0AA"),
        ({"id": "true_1@c.us_3EB0", "_data": {}}, "3EB0"),  # GOWS
        ({"key": {"id": ""}, "message": {}}, None),
        ({}, None),
        (None, None),  # 201 with an empty body (WEBJS, devlikeapro/waha#1087)
        ([], None),
    ],
)
def test_waha_message_id_of_each_shape(body: Any, expected: str | None) -> None:
    assert gateway_message_id(body) == expected


def test_evolution_message_id_and_number() -> None:
    sent = {"key": {"remoteJid": "91@s.whatsapp.net", "fromMe": True, "id": "BAE5"}, "status": 1}
    assert evolution_message_id(sent) == "BAE5"
    assert evolution_message_id({"key": {}}) is None
    assert evolution_message_id(None) is None
    assert evolution_number("+919876543210") == "919876543210"


@pytest.mark.parametrize("status", ["STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED"])
def test_waha_statuses_are_herald_statuses(status: str) -> None:
    assert waha_status(status).value == status


def test_unknown_waha_status_is_never_working() -> None:
    assert waha_status("ASLEEP") is SessionStatus.FAILED
    assert waha_status("") is SessionStatus.FAILED


def test_waha_session_health_reads_status_me_and_engine() -> None:
    health = waha_session_health(
        {
            "name": "primary",
            "status": "WORKING",
            "me": {"id": "15551234567@c.us", "pushName": "Shop"},
            "engine": {"engine": "NOWEB"},
        }
    )
    assert (health.status, health.gateway_status, health.connected) == (
        SessionStatus.WORKING,
        "WORKING",
        True,
    )
    assert (health.me_id, health.engine) == ("15551234567@c.us", "NOWEB")
    stopped = waha_session_health({"name": "x", "status": "STOPPED", "me": None})
    assert (stopped.status, stopped.me_id, stopped.connected) == (
        SessionStatus.STOPPED,
        None,
        False,
    )
    assert waha_session_health("garbage").status is SessionStatus.FAILED


@pytest.mark.parametrize(
    ("state", "qr_pending", "expected"),
    [
        ("open", False, SessionStatus.WORKING),
        ("connecting", False, SessionStatus.STARTING),
        ("connecting", True, SessionStatus.SCAN_QR_CODE),
        ("close", False, SessionStatus.STOPPED),
        ("refused", False, SessionStatus.FAILED),
        (None, False, SessionStatus.STOPPED),
        ("sleeping", False, SessionStatus.FAILED),
    ],
)
def test_evolution_states_normalised(
    state: str | None, qr_pending: bool, expected: SessionStatus
) -> None:
    assert evolution_status(state, qr_pending=qr_pending) is expected


def test_evolution_state_of_connection_state_answer() -> None:
    assert evolution_state({"instance": {"instanceName": "a", "state": "open"}}) == "open"
    assert evolution_state({"instance": {"instanceName": "a"}}) is None
    assert evolution_state([]) is None


def test_waha_login_qr_image_or_raw() -> None:
    assert waha_login_qr({"mimetype": "image/png", "data": "iVBORw0K"}) == LoginQr(
        mimetype="image/png", image_base64="iVBORw0K"
    )
    assert waha_login_qr({"value": "2@abc,def"}) == LoginQr(
        mimetype=None, image_base64=None, value="2@abc,def"
    )
    assert waha_login_qr({"data": ""}) is None
    assert waha_login_qr(None) is None


def test_evolution_login_qr_from_connect_answer() -> None:
    qr = evolution_login_qr(
        {
            "pairingCode": None,
            "code": "2@abc,def",
            "base64": "data:image/png;base64,iVBORw0K",
            "count": 1,
        }
    )
    assert qr == LoginQr(mimetype="image/png", image_base64="iVBORw0K", value="2@abc,def")
    paired = evolution_login_qr({"pairingCode": "WZYEH1YY", "code": "2@x", "count": 2})
    assert paired == LoginQr(mimetype=None, image_base64=None, value="2@x", pairing_code="WZYEH1YY")
    assert evolution_login_qr({"base64": "iVBORw0K"}) == LoginQr("image/png", "iVBORw0K")
    assert evolution_login_qr({"count": 0}) is None  # connecting, no QR from WhatsApp yet
    assert evolution_login_qr({"instance": {"instanceName": "a", "state": "open"}}) is None
    assert evolution_login_qr({"error": True, "message": "boom"}) is None


async def test_build_gateway_by_name() -> None:
    for name, kind in zip(GATEWAY_ADAPTERS, (WahaGateway, EvolutionGateway), strict=True):
        gateway = build_gateway(name, "http://127.0.0.1:9", "key", 1.0)
        assert isinstance(gateway, kind)
        await gateway.close()
    with pytest.raises(ValueError, match="unknown gateway adapter 'twilio'"):
        build_gateway("twilio", "http://127.0.0.1:9", None, 1.0)
