"""The accounts' gateways as the campaign service builds them (its ``GatewayFactory``): Herald's
WAHA and Evolution adapters, with settings no request can be made with refused when the client
is built, as the port says (:class:`UnusableGatewaySettings`), rather than by httpx at the first
request."""

from __future__ import annotations

import httpx

from herald_campaign.service_layer.ports import UnusableGatewaySettings
from herald_gateways.interface import Gateway
from herald_gateways.registry import build_gateway


def build_account_gateway(
    adapter: str, base_url: str, api_key: str | None, timeout_seconds: float
) -> Gateway:
    """``build_gateway``'s adapter; UnusableGatewaySettings for a base URL httpx cannot send
    requests to (it raises its own InvalidURL, or IDNAError only once a request reads the host)
    or an API key a header cannot carry (not printable ASCII)."""
    try:
        httpx.URL(base_url).host  # noqa: B018 (decoding the host is what a request does)
    except (httpx.InvalidURL, ValueError) as error:
        raise UnusableGatewaySettings(
            "baseUrl", f"cannot be requested: {str(error).rstrip('.')}"
        ) from None
    if api_key is not None and not (api_key.isascii() and api_key.isprintable()):
        raise UnusableGatewaySettings(
            "apiKey", "cannot be sent in a header: it is not printable ASCII"
        )
    return build_gateway(adapter, base_url, api_key, timeout_seconds)
