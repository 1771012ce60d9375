"""Composition root of the scheduler service.

Its jobs (scheduled and recurring sends, the hourly redrive, the 5-minute sweep) arrive with the
scheduler issue; until then it runs with its Kafka and MongoDB connections, health and metrics.
"""

from __future__ import annotations

from fastapi import FastAPI

from herald_shared.service_app import ServiceRuntime, create_http_app, serve
from herald_shared.settings import HeraldSettings

SERVICE = "scheduler"
DEFAULT_PORT = 9105


def create_app(settings: HeraldSettings) -> FastAPI:
    return create_http_app(ServiceRuntime.create(SERVICE, settings))


def main() -> None:
    settings = HeraldSettings()
    serve(create_app(settings), settings, SERVICE, DEFAULT_PORT)
