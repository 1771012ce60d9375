"""Composition root of the scheduler service: scheduled and recurring campaign sends, the hourly
redrive of retryable failures and the sweep, fired by whichever replica holds the lease.

Several replicas may run (``HERALD_SCHEDULER_LEASE_SECONDS`` says how soon another takes over
from a dead one); each serves ``/healthz``, ``/readyz`` and ``/metrics``.
"""

from __future__ import annotations

import os
import socket
from uuid import uuid4

from fastapi import FastAPI

from herald_core.attempt_plan import AttemptPlan
from herald_infra.kafka.handler_retries import retry_policy
from herald_infra.messages.unsent_endings import UnsentEndings
from herald_infra.runtime.asyncapi import declare_publications
from herald_infra.runtime.command_line import parse_service_arguments
from herald_infra.runtime.service_app import ServiceRuntime, create_http_app, serve
from herald_scheduler.actions import ScheduleActions
from herald_scheduler.archive_target import configured_archive
from herald_scheduler.asyncapi import scheduler_publications
from herald_scheduler.firing_loop import FiringLoop
from herald_scheduler.lease import LeaderLease
from herald_scheduler.redrive import ScheduledRedrive
from herald_scheduler.replica import SchedulerReplica
from herald_scheduler.retention import MessageRetention
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.sweep import Sweep
from herald_scheduler.system_jobs import configured_system_jobs
from herald_scheduler.unsent_worker import UnsentWorker

SERVICE = "scheduler"
DEFAULT_PORT = 9105
DEFAULT_METRICS_PORT = 9405


def replica_id() -> str:
    """Who holds the lease and fired a firing: host, process and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:6]}"


def build_replica(runtime: ServiceRuntime, settings: SchedulerSettings) -> SchedulerReplica:
    db, broker = runtime.db, runtime.broker
    lease = LeaderLease(db, replica_id(), lease_seconds=settings.scheduler_lease_seconds)
    actions = ScheduleActions(
        broker,
        sweep=Sweep(db, broker, settings),
        redrive=ScheduledRedrive(
            db,
            broker,
            first_topic=AttemptPlan.parse(settings.attempt_plan).first_topic,
            batch_size=settings.dispatch_batch_size,
        ),
        retention=MessageRetention(
            db,
            configured_archive(settings),
            default_days=settings.message_retention_days,
            batch_size=settings.retention_batch_size,
            runs_per_pass=settings.retention_runs_per_pass,
        ),
    )
    loop = FiringLoop(
        db,
        lease,
        actions,
        tick_seconds=settings.scheduler_tick_seconds,
        abandon_after_seconds=settings.scheduler_lease_seconds,
        retry=retry_policy(settings),
    )
    unsent = UnsentWorker(
        UnsentEndings(db, batch_size=settings.unsent_batch_size),
        leading=lease.is_leader,
        idle_seconds=settings.unsent_idle_seconds,
    )
    return SchedulerReplica(db, lease, loop, configured_system_jobs(settings), unsent)


def create_app(settings: SchedulerSettings) -> FastAPI:
    runtime = ServiceRuntime.create(SERVICE, settings)
    plan = AttemptPlan.parse(settings.attempt_plan)
    declare_publications(runtime.broker, SERVICE, scheduler_publications(plan))
    replica = build_replica(runtime, settings)
    runtime.on_start.append(replica.start)
    runtime.on_stop.append(replica.stop)
    return create_http_app(runtime)


def main() -> None:
    parse_service_arguments(
        "herald-scheduler",
        "The scheduler: scheduled and recurring sends, the hourly redrive of failures "
        "and the sweep, fired by the replica holding the lease.",
        SchedulerSettings,
        default_port=DEFAULT_PORT,
        default_metrics_port=DEFAULT_METRICS_PORT,
    )
    settings = SchedulerSettings()
    serve(create_app(settings), settings, SERVICE, DEFAULT_PORT, DEFAULT_METRICS_PORT)
