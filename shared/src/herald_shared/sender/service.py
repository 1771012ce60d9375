"""Composition of a sender deployment: its runtime, gateway, engine and subscriber."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from fastapi import FastAPI
from faststream.kafka.annotations import KafkaMessage

from herald_shared.attempt_outcomes import RecordOrigin
from herald_shared.attempt_plan import AttemptPlan, Engine
from herald_shared.contracts.events import SendMessage
from herald_shared.sender.circuits import AccountCircuits
from herald_shared.sender.engine import EngineProfile, SenderEngine
from herald_shared.sender.waha import WahaGateway
from herald_shared.service_app import ServiceRuntime, create_http_app, serve
from herald_shared.settings import HeraldSettings


def build_sender_app(service: str, settings: HeraldSettings, profile: EngineProfile) -> FastAPI:
    """The HTTP app of a sender process; its lifespan runs the Kafka subscriber."""
    runtime = ServiceRuntime.create(service, settings)
    owner = f"{service}@{socket.gethostname()}:{os.getpid()}"
    gateway = WahaGateway(
        settings.gateway_url, settings.gateway_api_key, settings.gateway_timeout_seconds
    )
    engine = SenderEngine(
        db=runtime.db,
        broker=runtime.broker,
        gateway=gateway,
        profile=profile,
        plan=AttemptPlan.parse(settings.attempt_plan),
        circuits=AccountCircuits(
            runtime.db,
            # "primary" / "fallback", as queue-stats documents it: the circuit belongs to the
            # deployment the attempt plan routes around, whichever library it runs.
            engine=profile.engine.value,
            threshold=settings.circuit_failure_threshold,
            cooldown_seconds=settings.circuit_cooldown_seconds,
            owner=owner,
        ),
        lease_seconds=settings.claim_lease_seconds,
        owner=owner,
    )

    @runtime.broker.subscriber(
        profile.topic,
        group_id=profile.group_id,
        auto_offset_reset="earliest",
        max_workers=settings.sender_concurrency,
        title=f"{service}:{profile.topic}",
        description=f"Delivers each message through the {profile.delivery_method} gateway.",
    )
    async def on_send(event: SendMessage, message: KafkaMessage) -> None:
        record = message.raw_message
        origin = RecordOrigin(
            profile.topic,
            int(getattr(record, "partition", -1)),
            int(getattr(record, "offset", -1)),
        )
        await engine.deliver(event, origin)

    runtime.on_stop.append(gateway.close)
    return create_http_app(runtime)


@dataclass(frozen=True)
class SenderDeployment:
    """One deployment of the sender engine: which topic it consumes and how it delivers."""

    service: str
    engine: Engine
    delivery_method: str
    consumer_group: str
    default_port: int

    @property
    def topic(self) -> str:
        return self.engine.send_topic

    def create_app(self, settings: HeraldSettings) -> FastAPI:
        profile = EngineProfile(
            engine=self.engine,
            delivery_method=self.delivery_method,
            topic=self.topic,
            group_id=self.consumer_group,
            session=settings.gateway_session,
        )
        return build_sender_app(self.service, settings, profile)

    def run(self) -> None:
        """Entry point: settings from the environment, serve until SIGTERM."""
        settings = HeraldSettings()
        serve(self.create_app(settings), settings, self.service, self.default_port)
