"""URLs Herald's pods send requests to (gateways, webhook endpoints, media) are refused when
given if no request could be made to them; a stored one that slipped through earlier makes
its gateway client refuse to be built, naming the setting, instead of httpx failing later."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from herald_campaign.adapters.gateway_clients import build_account_gateway
from herald_campaign.entrypoints.rest.account_schemas import gateway_url
from herald_campaign.entrypoints.rest.urls import requestable_http_url
from herald_campaign.service_layer.ports import UnusableGatewaySettings, session_gateway
from herald_core.accounts.model import GatewayAdapter, GatewaySession, SessionEngine
from herald_gateways.interface import Gateway

UNREQUESTABLE = [
    ("http://gw\tx:3100", "spaces or control characters"),  # urlsplit drops the tab silently
    ("http://gw\nx:3100", "spaces or control characters"),
    ("http://gw x:3100", "spaces or control characters"),
    ("http://1.2.3.999:3100", "Invalid IPv4 address"),
    ("http://xn--zz:3100", "Invalid A-label"),  # httpx parses it, then fails on each request
    ("http://[::1:3100", "is not a URL"),
    ("http://gw:99999", "invalid port"),
]


@pytest.mark.parametrize(("url", "why"), UNREQUESTABLE)
def test_a_url_no_request_can_go_to_is_refused(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        requestable_http_url(url, example="http://waha:3000")
    with pytest.raises(ValueError, match=why):
        gateway_url(url)


@pytest.mark.parametrize(
    "url", ["http://waha:3000", "https://gw.example.com/base", "http://[::1]:3000", "http://gwé"]
)
def test_a_gateway_url_a_request_can_go_to_is_taken(url: str) -> None:
    assert gateway_url(url + "/") == url


@pytest.mark.parametrize(
    ("base_url", "api_key", "setting"),
    [
        ("http://gw\tx:3100", None, "baseUrl"),
        ("http://xn--zz:3100", None, "baseUrl"),
        ("http://1.2.3.999:3100", None, "baseUrl"),
        ("http://waha:3000", "ключ", "apiKey"),
    ],
)
def test_a_gateway_client_is_not_built_from_settings_no_request_can_use(
    base_url: str, api_key: str | None, setting: str
) -> None:
    with pytest.raises(UnusableGatewaySettings) as refused:
        build_account_gateway("waha", base_url, api_key, 5.0)
    assert refused.value.setting == setting
    if api_key is not None:
        assert api_key not in str(refused.value)


async def test_a_gateway_client_is_built_from_usable_settings() -> None:
    gateway = build_account_gateway("evolution", "http://evolution:8080", "key", 5.0)
    await gateway.close()


def _session(base_url: str) -> GatewaySession:
    return GatewaySession(
        engine=SessionEngine.BAILEYS,
        gateway=GatewayAdapter.WAHA,
        base_url=base_url,
        session="default",
        api_key=SecretStr("key"),
    )


def test_a_stored_session_no_client_can_be_built_for_is_unusable_naming_its_setting() -> None:
    with pytest.raises(UnusableGatewaySettings) as refused:
        session_gateway(build_account_gateway, _session("http://gw\tx:3100"), 5.0)
    assert refused.value.setting == "baseUrl"


def test_a_factory_that_knows_no_such_adapter_makes_the_gateway_setting_unusable() -> None:
    def unknown(
        adapter: str, base_url: str, api_key: str | None, timeout_seconds: float
    ) -> Gateway:
        raise ValueError(f"unknown gateway adapter {adapter!r}")

    with pytest.raises(UnusableGatewaySettings) as refused:
        session_gateway(unknown, _session("http://waha:3000"), 5.0)
    assert refused.value.setting == "gateway"
