"""The ``herald-campaign`` command: the campaign service as :mod:`herald_campaign.bootstrap`
builds it, served by uvicorn."""

from __future__ import annotations

from herald_campaign.bootstrap import SERVICE, create_app
from herald_campaign.settings import CampaignSettings
from herald_infra.runtime.command_line import parse_service_arguments
from herald_infra.runtime.service_app import serve

DEFAULT_PORT = 3000
DEFAULT_METRICS_PORT = 9401


def main() -> None:
    parse_service_arguments(
        "herald-campaign",
        "The campaign service: the REST API, campaign commands from Kafka, notifications.",
        CampaignSettings,
        default_port=DEFAULT_PORT,
        default_metrics_port=DEFAULT_METRICS_PORT,
    )
    settings = CampaignSettings()
    serve(create_app(settings), settings, SERVICE, DEFAULT_PORT, DEFAULT_METRICS_PORT)
