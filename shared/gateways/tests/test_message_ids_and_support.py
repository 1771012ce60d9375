"""The bare message id of every shape, what a gateway's report means for an account, and the
WAHA session config Herald writes. Pure."""

from __future__ import annotations

from typing import Any

import pytest

from herald_gateways.interface import GatewayInfo
from herald_gateways.message_ids import bare_message_id
from herald_gateways.registry import WEBHOOK_EVENTS
from herald_gateways.support import ROUTE_ENGINES, major_version
from herald_gateways.waha import waha_gateway_info, waha_webhook_config


@pytest.mark.parametrize(
    ("reported", "bare"),
    [
        ("3EB0C767D097B7C7C030", "3EB0C767D097B7C7C030"),  # Baileys key.id
        ("BAE5F2A1C3D4E5F6", "BAE5F2A1C3D4E5F6"),  # Evolution
        ("true_919876543210@c.us_3EB0AA", "3EB0AA"),  # WAHA serialized
        ("false_919876543210@c.us_3EB0AA", "3EB0AA"),  # received
        ("true_123456789012345@lid_3EB0AA", "3EB0AA"),  # GOWS names the chat by its lid
        ("true_120363@g.us_3EB0AA_919876543210@c.us", "3EB0AA"),  # a group, with participant
        ("true_919876543210@s.whatsapp.net_3EB0AA", "3EB0AA"),
        ("x_y", "x_y"),  # not a serialized id
        ("true_nochat_3EB0AA", "true_nochat_3EB0AA"),  # no jid in the chat part
        ("true_1@c.us_", "true_1@c.us_"),
        (" 3EB0AA ", "3EB0AA"),
    ],
)
def test_bare_message_id(reported: str, bare: str) -> None:
    assert bare_message_id(reported) == bare


def test_the_same_message_by_either_chat_name_is_one_id() -> None:
    by_phone = bare_message_id("true_919876543210@c.us_3EB0AA")
    by_lid = bare_message_id("true_123456789012345@lid_3EB0AA")
    assert by_phone == by_lid == "3EB0AA"


def test_engines_per_route_and_events_per_gateway() -> None:
    assert ROUTE_ENGINES == {"primary": ("NOWEB", "GOWS"), "fallback": ("WEBJS",)}
    assert set(WEBHOOK_EVENTS["waha"]) == {"message.ack", "message", "session.status"}
    assert set(WEBHOOK_EVENTS["evolution"]) == {
        "MESSAGES_UPDATE",
        "MESSAGES_UPSERT",
        "CONNECTION_UPDATE",
    }


@pytest.mark.parametrize(
    ("version", "major"), [("2.3.6", 2), ("1.8.2", 1), ("v2.0.0", 2), ("", None), ("x", None)]
)
def test_major_version(version: str, major: int | None) -> None:
    assert major_version(version) == major


def test_waha_version_answer() -> None:
    answer = {"version": "2024.10.8", "engine": "NOWEB", "tier": "CORE", "browser": None}
    info = waha_gateway_info(answer)
    assert info == GatewayInfo("waha", "2024.10.8", "CORE", "NOWEB") and info.single_session_only
    plus = waha_gateway_info({"version": "2025.1.1", "engine": "GOWS", "tier": "PLUS"})
    assert not plus.single_session_only
    assert waha_gateway_info(None) == GatewayInfo("waha", "", None, None)


def test_waha_webhook_config_keeps_the_rest_and_replaces_its_own_receiver() -> None:
    mine = "https://herald.example/api/webhooks/waha/new-token"
    old = "https://herald.example/api/webhooks/waha/old-token"
    current: dict[str, Any] = {
        "metadata": {"team": "ops"},
        "proxy": None,
        "webhooks": [
            {"url": old, "events": ["*"]},
            {"url": "https://crm.example/hook", "events": ["message"]},
        ],
    }
    config = waha_webhook_config(
        current, url=mine, events=["message.ack"], headers={}, hmac_key=None
    )
    assert config["metadata"] == {"team": "ops"} and "proxy" in config
    assert config["webhooks"] == [
        {"url": "https://crm.example/hook", "events": ["message"]},
        {"url": mine, "events": ["message.ack"], "customHeaders": None, "hmac": None},
    ]
    assert current["webhooks"][0]["url"] == old  # not changed in place
    fresh = waha_webhook_config(None, url=mine, events=["x"], headers={"A": "b"}, hmac_key="k")
    assert fresh["webhooks"][0]["customHeaders"] == [{"name": "A", "value": "b"}]
    assert fresh["webhooks"][0]["hmac"] == {"key": "k"}
