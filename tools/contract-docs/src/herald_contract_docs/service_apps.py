"""The five services' apps, built as their composition roots build them, without any I/O.

The documents describe the defaults (the attempt plan ``primary, fallback, fallback@60s`` and
its delay topic), not whatever this machine's ``HERALD_*`` environment says, so the settings are
the classes' defaults (``model_construct`` reads no environment).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from herald_campaign.bootstrap import create_app as create_campaign_app
from herald_campaign.settings import CampaignSettings
from herald_dispatcher.main import create_app as create_dispatcher_app
from herald_fallback_sender.main import DEPLOYMENT as FALLBACK_SENDER
from herald_infra.runtime.service_app import ServiceRuntime
from herald_infra.runtime.settings import HeraldSettings
from herald_primary_sender.main import DEPLOYMENT as PRIMARY_SENDER
from herald_scheduler.main import create_app as create_scheduler_app
from herald_scheduler.settings import SchedulerSettings
from herald_sender.asyncapi import lane_consumer_specification
from herald_sender.deployment import SenderDeployment

KAFKA = "localhost:9092"
"""The Kafka address the AsyncAPI document names (``make up``'s)."""


@dataclass(frozen=True)
class ServiceApps:
    campaign: FastAPI
    """The REST API."""
    brokers: list[KafkaBroker]
    """Every service's broker (subscribers and declared publishers), and for each sender a
    broker declaring its lane consumer's subscription."""


def _runtime(app: FastAPI) -> ServiceRuntime:
    runtime = app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    return runtime


def _sender_brokers(deployment: SenderDeployment) -> tuple[FastAPI, KafkaBroker]:
    app = deployment.create_app(HeraldSettings.model_construct(kafka_bootstrap_servers=KAFKA))
    lanes = lane_consumer_specification(
        deployment.service, deployment.route, deployment.consumer_group, KAFKA
    )
    return app, lanes


@contextmanager
def service_apps() -> Iterator[ServiceApps]:
    """The apps, unstarted; their MongoDB clients (which never connected) closed afterwards."""
    campaign = create_campaign_app(CampaignSettings.model_construct(kafka_bootstrap_servers=KAFKA))
    dispatcher = create_dispatcher_app(
        HeraldSettings.model_construct(kafka_bootstrap_servers=KAFKA)
    )
    primary, primary_lanes = _sender_brokers(PRIMARY_SENDER)
    fallback, fallback_lanes = _sender_brokers(FALLBACK_SENDER)
    scheduler = create_scheduler_app(
        SchedulerSettings.model_construct(kafka_bootstrap_servers=KAFKA)
    )
    apps = [campaign, dispatcher, primary, fallback, scheduler]
    try:
        yield ServiceApps(
            campaign=campaign,
            brokers=[
                _runtime(campaign).broker,
                _runtime(dispatcher).broker,
                _runtime(primary).broker,
                primary_lanes,
                _runtime(fallback).broker,
                fallback_lanes,
                _runtime(scheduler).broker,
            ],
        )
    finally:

        async def close_clients() -> None:
            for app in apps:
                await _runtime(app).client.close()

        asyncio.run(close_clients())
