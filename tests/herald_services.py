"""The five services as their own code declares them (name, command, HTTP and metrics ports),
for the tests that check the deployment files against them."""

from __future__ import annotations

from herald_campaign import main as campaign
from herald_dispatcher import main as dispatcher
from herald_fallback_sender import main as fallback_sender
from herald_primary_sender import main as primary_sender
from herald_scheduler import main as scheduler

DEFAULT_PORTS: dict[str, int] = {
    "campaign": campaign.DEFAULT_PORT,
    "dispatcher": dispatcher.DEFAULT_PORT,
    "primary-sender": primary_sender.DEPLOYMENT.default_port,
    "fallback-sender": fallback_sender.DEPLOYMENT.default_port,
    "scheduler": scheduler.DEFAULT_PORT,
}
"""Each service's HTTP port (its API, /healthz, /readyz) when HERALD_HTTP_PORT does not say
otherwise."""

DEFAULT_METRICS_PORTS: dict[str, int] = {
    "campaign": campaign.DEFAULT_METRICS_PORT,
    "dispatcher": dispatcher.DEFAULT_METRICS_PORT,
    "primary-sender": primary_sender.DEPLOYMENT.default_metrics_port,
    "fallback-sender": fallback_sender.DEPLOYMENT.default_metrics_port,
    "scheduler": scheduler.DEFAULT_METRICS_PORT,
}
"""Each service's metrics listener (/metrics, for Prometheus only) when HERALD_METRICS_PORT
does not say otherwise."""

SENDERS = {
    "primary-sender": primary_sender.DEPLOYMENT,
    "fallback-sender": fallback_sender.DEPLOYMENT,
}


def command(service: str) -> str:
    """The console script that runs a service."""
    return f"herald-{service}"
