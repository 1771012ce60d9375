"""Composition root of the dispatcher service: fan-out, release of deferred messages, retry
relay, dead-letter recorder.

Each subscriber's failures follow the broker's rule (herald_infra.kafka.broker
DeadLetterOnFailure): an outage of MongoDB or Kafka is retried until it ends; any other error
``HERALD_HANDLER_ATTEMPTS`` times, then the record is dead-lettered and its partition goes on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.common import utc_now
from herald_core.contracts.events import CampaignEvent, CampaignLaunched
from herald_core.contracts.topics import CAMPAIGN_EVENTS, DISPATCHER_GROUP
from herald_core.recipients.suppression import SuppressionScope
from herald_dispatcher.asyncapi import dispatcher_publications
from herald_dispatcher.dead_letter_recorder import subscribe_dead_letter_recorder
from herald_dispatcher.deferred_release import DeferredRelease
from herald_dispatcher.fan_out import fan_out_campaign
from herald_dispatcher.retry_relay import subscribe_retry_relay
from herald_infra.runtime.asyncapi import declare_publications
from herald_infra.runtime.command_line import parse_service_arguments
from herald_infra.runtime.service_app import ServiceRuntime, create_http_app, serve
from herald_infra.runtime.settings import HeraldSettings

SERVICE = "dispatcher"
DEFAULT_PORT = 9102
DEFAULT_METRICS_PORT = 9402
FAN_OUT_DEADLINE_MS = 30 * 60 * 1000


def create_app(settings: HeraldSettings, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    """The dispatcher's app; ``clock`` is the time sender-account caps count in (tests move
    it)."""
    runtime = ServiceRuntime.create(SERVICE, settings)
    plan = AttemptPlan.parse(settings.attempt_plan)
    declare_publications(runtime.broker, SERVICE, dispatcher_publications(plan))

    @runtime.broker.subscriber(
        CAMPAIGN_EVENTS,
        group_id=DISPATCHER_GROUP,
        auto_offset_reset="earliest",
        # Fanning out a large campaign holds one record for minutes; give it that long before
        # the group deems this consumer dead (a redelivery would redo the work, idempotently).
        max_poll_interval_ms=FAN_OUT_DEADLINE_MS,
        title=f"{SERVICE}:{CAMPAIGN_EVENTS}",
        description="Fans each launched campaign out into messages on its first send topic.",
    )
    async def on_campaign_event(event: CampaignEvent) -> None:
        if isinstance(event, CampaignLaunched):
            await fan_out_campaign(
                runtime.db,
                runtime.broker,
                event,
                shared_gateway=settings.shared_gateway_caps(),
                batch_size=settings.dispatch_batch_size,
                send_topic=plan.first_topic,
                clock=clock,
                suppression_scope=SuppressionScope(settings.suppression_scope),
            )

    release = DeferredRelease(
        runtime.db,
        runtime.broker,
        interval_seconds=settings.deferred_release_interval_seconds,
        topic=plan.first_topic,
        shared_gateway=settings.shared_gateway_caps(),
        batch_size=settings.dispatch_batch_size,
        clock=clock,
    )
    runtime.on_start.append(release.start)
    runtime.on_stop.append(release.stop)

    if delay_topics := plan.retry_topics():
        relay = subscribe_retry_relay(runtime.broker, delay_topics)
        runtime.on_stop.append(relay.stop)
    subscribe_dead_letter_recorder(runtime.broker, runtime.db)

    return create_http_app(runtime)


def main() -> None:
    parse_service_arguments(
        "herald-dispatcher",
        "The dispatcher: fans campaigns out into messages, releases deferred ones, "
        "relays retries, records dead letters.",
        HeraldSettings,
        default_port=DEFAULT_PORT,
        default_metrics_port=DEFAULT_METRICS_PORT,
    )
    settings = HeraldSettings()
    serve(create_app(settings), settings, SERVICE, DEFAULT_PORT, DEFAULT_METRICS_PORT)
