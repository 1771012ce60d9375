"""The accounts' gateways as the campaign service builds them (its ``GatewayFactory``): Herald's
WAHA and Evolution adapters, with settings no request can be made with refused when the client
is built, as the port says (:class:`UnusableGatewaySettings`), rather than by httpx at the first
request; and every connection checked and pinned (``herald_infra.outbound``): a base URL that
points at loopback, a private network or the metadata address is never fetched unless
HERALD_OUTBOUND_ALLOW allows it."""

from __future__ import annotations

from collections.abc import Collection

import httpx

from herald_campaign.service_layer.ports import UnusableGatewaySettings
from herald_gateways.interface import Gateway
from herald_infra.outbound.checked_gateways import CheckedGateways
from herald_infra.outbound.public_addresses import OutboundAllow


class AccountGateways:
    """``allow``: the networks and hosts an account's gateway may be at besides public
    addresses; ``trusted_base_urls``: the deployment's own gateway (HERALD_GATEWAY_URL), asked
    as it is."""

    def __init__(
        self, allow: OutboundAllow | None = None, *, trusted_base_urls: Collection[str] = ()
    ) -> None:
        self._build = CheckedGateways(allow or OutboundAllow(), trusted_base_urls=trusted_base_urls)

    def __call__(
        self, adapter: str, base_url: str, api_key: str | None, timeout_seconds: float
    ) -> Gateway:
        """The adapter; UnusableGatewaySettings for a base URL httpx cannot send requests to
        (it raises its own InvalidURL, or IDNAError only once a request reads the host) or an
        API key a header cannot carry (not printable ASCII)."""
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
        return self._build(adapter, base_url, api_key, timeout_seconds)


build_account_gateway = AccountGateways()
"""Accounts' gateways at public addresses only."""
