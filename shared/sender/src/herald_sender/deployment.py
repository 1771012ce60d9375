"""Composition of a sender deployment: its runtime, gateway, engine and subscriber."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from herald_core.attempt_plan import AttemptPlan, Route
from herald_core.contracts.common import utc_now
from herald_core.pace_lease import lease_length_ms
from herald_core.recipients.suppression import SuppressionScope
from herald_infra.accounts.pace_leases import LeasedAccountPace
from herald_infra.accounts.pace_slots import AccountPace
from herald_infra.kafka.connection import client_options
from herald_infra.mongo.client import Database
from herald_infra.recipients.suppressions import SuppressionCache
from herald_infra.runtime.asyncapi import declare_publications
from herald_infra.runtime.command_line import parse_service_arguments
from herald_infra.runtime.service_app import ServiceRuntime, create_http_app, serve
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.asyncapi import sender_publications
from herald_sender.campaign_gate import CampaignGate
from herald_sender.circuit_registry import AccountCircuits
from herald_sender.claim_and_send import MessageSender, SenderProfile
from herald_sender.gateway_directory import GatewayDirectory
from herald_sender.graceful_stop import HandBackOnStop, SenderStopping, StopAwarePacer
from herald_sender.lane_consumer import LaneConsumer, LaneLimits
from herald_sender.number_checks import NumberChecks
from herald_sender.ready_work import ReadyRecords, export_ready_messages
from herald_sender.send_records import SendRecordHandler
from herald_sender.session_polling import SessionHealthPoller

HOLD_MARGIN = 5.0
"""Seconds an account stays held past the gateway timeout, should its sender die mid-send."""
STOP_MARGIN = 15.0
"""Seconds a stopping sender allows past the gateway timeout to record the last answers."""


PREFETCH_BYTES_PER_PARTITION = 64 * 1024
"""About 130 send records."""
PREFETCH_BYTES = 4 * 1024 * 1024


def build_sender_app(service: str, settings: HeraldSettings, profile: SenderProfile) -> FastAPI:
    """The HTTP app of a sender process; its lifespan runs the lane consumer of its topic."""
    runtime = ServiceRuntime.create(service, settings)
    plan = AttemptPlan.parse(settings.attempt_plan)
    declare_publications(runtime.broker, service, sender_publications(plan, profile.route))
    owner = f"{service}@{socket.gethostname()}:{os.getpid()}"
    gateways = GatewayDirectory.for_route(runtime.db, settings, profile.route)
    sessions = SessionHealthPoller(
        runtime.db, gateways, interval_seconds=settings.session_poll_seconds
    )
    stopping = SenderStopping()
    pace = account_pace(runtime.db, settings)
    sender = _message_sender(runtime, profile, plan, gateways, stopping, owner, pace)
    # What more pods could take: records whose account is free now (see ready_work).
    ready = ReadyRecords(pace, paced=settings.pace_scale > 0)
    lanes = _lane_consumer(runtime, service, profile, sender, ready)
    export_ready_messages(runtime, lanes, profile.route)

    runtime.on_start.append(pace.start)
    runtime.on_start.append(sessions.start)
    runtime.on_start.append(lanes.start)
    # Stop hooks run in reverse: sends waiting for their turn are handed back, the lanes
    # finish what they hold, the accounts' leases are given back, then the poller stops, then
    # the gateways close.
    runtime.on_stop.append(gateways.close)
    runtime.on_stop.append(sessions.stop)
    runtime.on_stop.append(pace.stop)
    runtime.on_stop.append(lanes.stop)
    runtime.on_stop.append(stopping.begin)
    return create_http_app(runtime)


def account_pace(db: Database, settings: HeraldSettings) -> AccountPace:
    """The accounts' pace of a sender process: leased, kept in memory while the process sends
    an account (``HERALD_PACE_LEASE_SECONDS``), or taken in MongoDB per send when leases are
    off."""
    hold_seconds = settings.gateway_timeout_seconds + HOLD_MARGIN
    lease_ms = lease_length_ms(settings.pace_lease_seconds, settings.pace_scale)
    if lease_ms == 0:
        return AccountPace(db, hold_seconds=hold_seconds)
    return LeasedAccountPace(db, hold_seconds=hold_seconds, lease_seconds=lease_ms / 1000)


def _message_sender(
    runtime: ServiceRuntime,
    profile: SenderProfile,
    plan: AttemptPlan,
    gateways: GatewayDirectory,
    stopping: SenderStopping,
    owner: str,
    pace: AccountPace,
) -> MessageSender:
    """The engine that claims, paces, sends and records each attempt of this deployment."""
    settings = runtime.settings
    return MessageSender(
        db=runtime.db,
        broker=runtime.broker,
        gateways=gateways,
        profile=profile,
        plan=plan,
        circuits=AccountCircuits(
            runtime.db,
            # "primary" / "fallback", as queue-stats documents it: the circuit belongs to the
            # deployment the attempt plan routes around, whichever library it runs.
            route=profile.route.value,
            threshold=settings.circuit_failure_threshold,
            cooldown_seconds=settings.circuit_cooldown_seconds,
            owner=owner,
        ),
        pacer=StopAwarePacer(pace, scale=settings.pace_scale, stopping=stopping),
        lease_seconds=settings.claim_lease_seconds,
        owner=owner,
        gate=CampaignGate.reading(runtime.db, cache_seconds=settings.campaign_state_cache_seconds),
        numbers=NumberChecks(
            runtime.db,
            keep_hours=settings.number_check_hours,
            delivery_method=profile.delivery_method,
            clock=utc_now,
        ),
        suppressions=SuppressionCache(
            runtime.db,
            scope=SuppressionScope(settings.suppression_scope),
            refresh_seconds=settings.suppression_refresh_seconds,
        ),
    )


def _lane_consumer(
    runtime: ServiceRuntime,
    service: str,
    profile: SenderProfile,
    sender: MessageSender,
    ready: ReadyRecords,
) -> LaneConsumer:
    """The consumer of the deployment's send topic: one lane per sender account, each record
    handed to ``sender``, handed back on stop, given up after ``HERALD_HANDLER_ATTEMPTS``
    failures that are not outages."""
    settings = runtime.settings
    records = SendRecordHandler(sender, runtime.broker)
    return LaneConsumer(
        lambda: AIOKafkaConsumer(
            **client_options(settings),
            client_id=f"herald-{service}",
            group_id=profile.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # What aiokafka fetches ahead and keeps until the lanes take it, paused partitions
            # included: at its defaults (1 MiB a partition, 50 MiB in all) a sender kept most
            # of a campaign's records in memory, more the bigger the campaign (docs/benchmarks.md).
            max_partition_fetch_bytes=PREFETCH_BYTES_PER_PARTITION,
            fetch_max_bytes=PREFETCH_BYTES,
        ),
        profile.topic,
        HandBackOnStop(records, runtime.db, runtime.broker, profile.delivery_method),
        LaneLimits(
            max_in_flight=settings.sender_max_in_flight,
            # On SIGTERM a lane hands back a send still waiting for its account's turn, so
            # the longest it holds on is one gateway call (see graceful_stop).
            drain_seconds=settings.gateway_timeout_seconds + STOP_MARGIN,
            attempts=settings.handler_attempts,
            retry_backoff_seconds=settings.handler_backoff_seconds,
        ),
        # A record that kept failing fails its message (internal-error) and is dead-lettered.
        give_up=records.give_up,
        ready=ready,
    )


@dataclass(frozen=True)
class SenderDeployment:
    """One deployment of the sender engine: which topic it consumes and how it delivers."""

    service: str
    route: Route
    delivery_method: str
    consumer_group: str
    default_port: int
    default_metrics_port: int

    @property
    def topic(self) -> str:
        return self.route.send_topic

    def create_app(self, settings: HeraldSettings) -> FastAPI:
        profile = SenderProfile(
            route=self.route,
            delivery_method=self.delivery_method,
            topic=self.topic,
            group_id=self.consumer_group,
        )
        return build_sender_app(self.service, settings, profile)

    def run(self) -> None:
        """Entry point: ``--help`` answered, settings from the environment, serve until
        SIGTERM."""
        parse_service_arguments(
            f"herald-{self.service}",
            f"The {self.service}: sends the messages of the {self.route.value} route "
            f"({self.delivery_method}), each sender account paced with anti-ban gaps.",
            HeraldSettings,
            default_port=self.default_port,
            default_metrics_port=self.default_metrics_port,
        )
        settings = HeraldSettings()
        serve(
            self.create_app(settings),
            settings,
            self.service,
            self.default_port,
            self.default_metrics_port,
        )
