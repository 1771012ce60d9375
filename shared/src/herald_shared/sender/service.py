"""Composition of a sender deployment: its runtime, gateway, engine and subscriber."""

from __future__ import annotations

from fastapi import FastAPI

from herald_shared.contracts.events import SendMessage
from herald_shared.sender.engine import EngineProfile, SenderEngine
from herald_shared.sender.waha import WahaGateway
from herald_shared.service_app import ServiceRuntime, create_http_app, serve
from herald_shared.settings import HeraldSettings


def build_sender_app(service: str, settings: HeraldSettings, profile: EngineProfile) -> FastAPI:
    """The HTTP app of a sender process; its lifespan runs the Kafka subscriber."""
    runtime = ServiceRuntime.create(service, settings)
    gateway = WahaGateway(
        settings.gateway_url, settings.gateway_api_key, settings.gateway_timeout_seconds
    )
    engine = SenderEngine(
        db=runtime.db,
        broker=runtime.broker,
        gateway=gateway,
        profile=profile,
        lease_seconds=settings.claim_lease_seconds,
    )

    @runtime.broker.subscriber(
        profile.topic,
        group_id=profile.group_id,
        auto_offset_reset="earliest",
        max_workers=settings.sender_concurrency,
        title=f"{service}:{profile.topic}",
        description=f"Delivers each message through the {profile.delivery_method} gateway.",
    )
    async def on_send(event: SendMessage) -> None:
        await engine.deliver(event)

    runtime.on_stop.append(gateway.close)
    return create_http_app(runtime)


def run_sender_service(
    service: str, *, delivery_method: str, topic: str, default_port: int
) -> None:
    """Entry point of a sender deployment: consumer group ``herald-<service>`` on ``topic``."""
    settings = HeraldSettings()
    profile = EngineProfile(
        delivery_method=delivery_method,
        topic=topic,
        group_id=f"herald-{service}",
        session=settings.gateway_session,
    )
    serve(build_sender_app(service, settings, profile), settings, service, default_port)
