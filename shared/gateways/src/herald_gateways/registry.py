"""Choosing a gateway adapter by name: the one place that knows every adapter."""

from __future__ import annotations

import httpx

from herald_gateways.evolution import EVOLUTION_WEBHOOK_EVENTS, EvolutionGateway
from herald_gateways.interface import Gateway
from herald_gateways.waha import WAHA_WEBHOOK_EVENTS, WahaGateway

GATEWAY_ADAPTERS = ("waha", "evolution")
"""``waha``: WAHA (NOWEB, GOWS or WEBJS engine) and Herald's gateway simulator; ``evolution``:
Evolution API v2 (the simulator speaks its subset too)."""

WEBHOOK_EVENTS: dict[str, tuple[str, ...]] = {
    "waha": WAHA_WEBHOOK_EVENTS,
    "evolution": EVOLUTION_WEBHOOK_EVENTS,
}
"""Per adapter, the events Herald needs, in the gateway's own names (for
``Gateway.configure_webhook``): receipts, inbound messages, session status."""


def build_gateway(
    adapter: str,
    base_url: str,
    api_key: str | None,
    timeout_seconds: float,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Gateway:
    """The adapter named ``adapter`` (one of GATEWAY_ADAPTERS; a str enum of them will do),
    talking to the gateway at ``base_url``. Raises ValueError for any other name.
    ``transport``: where its requests go (None: httpx's own, to whatever the URL names); the
    services give one that checks and pins the addresses it connects to."""
    if adapter == "waha":
        return WahaGateway(base_url, api_key, timeout_seconds, transport=transport)
    if adapter == "evolution":
        return EvolutionGateway(base_url, api_key, timeout_seconds, transport=transport)
    raise ValueError(f"unknown gateway adapter {adapter!r} (known: {', '.join(GATEWAY_ADAPTERS)})")
