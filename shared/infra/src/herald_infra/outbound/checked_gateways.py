"""Gateway clients for sender accounts' gateways, whose base URLs tenants give: every
connection checked and pinned (:mod:`herald_infra.outbound.pinned_connections`).

The deployment's own gateway (``HERALD_GATEWAY_URL``, the operator's setting, for tenants
without accounts) is trusted as it is: its exact base URL is fetched without the check.
"""

from __future__ import annotations

from collections.abc import Collection

from herald_gateways.http_client import GATEWAY_LIMITS
from herald_gateways.interface import Gateway
from herald_gateways.registry import build_gateway
from herald_infra.outbound.pinned_connections import PinnedTransport
from herald_infra.outbound.public_addresses import OutboundAllow, Resolver, resolve


class CheckedGateways:
    """Builds gateway adapters (``build_gateway``'s signature) whose connections go only to
    public addresses, or to those ``allow`` names."""

    def __init__(
        self,
        allow: OutboundAllow,
        *,
        trusted_base_urls: Collection[str] = (),
        resolver: Resolver = resolve,
    ) -> None:
        self._allow = allow
        self._trusted = frozenset(trusted_base_urls)
        self._resolver = resolver

    def __call__(
        self, adapter: str, base_url: str, api_key: str | None, timeout_seconds: float
    ) -> Gateway:
        transport = (
            None
            if base_url in self._trusted
            else PinnedTransport(self._allow, resolver=self._resolver, limits=GATEWAY_LIMITS)
        )
        return build_gateway(adapter, base_url, api_key, timeout_seconds, transport=transport)
