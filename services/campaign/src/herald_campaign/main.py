"""Composition root of the campaign service: the REST API and the ``campaign.commands`` consumer
on one runtime (Kafka broker, MongoDB), served by uvicorn."""

from __future__ import annotations

from fastapi import FastAPI

from herald_campaign.adapters.campaign_events import KafkaCampaignEvents
from herald_campaign.adapters.consumer_lag import KafkaConsumerLag
from herald_campaign.adapters.status_events import KafkaStatusEvents
from herald_campaign.api import accounts as accounts_api
from herald_campaign.api import campaigns as campaigns_api
from herald_campaign.api import contacts as contacts_api
from herald_campaign.api import dead_letters as dead_letters_api
from herald_campaign.api import lifecycle as lifecycle_api
from herald_campaign.api import messages as messages_api
from herald_campaign.api import notification_endpoints as notification_endpoints_api
from herald_campaign.api import schedules as schedules_api
from herald_campaign.api import webhooks as webhooks_api
from herald_campaign.api.auth import ApiKeys, register_api_key
from herald_campaign.api.dependencies import ApiServices, install_services, require_token_first
from herald_campaign.api.errors import install_error_handlers
from herald_campaign.api.webhook_signatures import WebhookKeys
from herald_campaign.asyncapi import campaign_publications
from herald_campaign.commands import CommandHandler, subscribe_to_commands
from herald_campaign.domain.accounts import AccountDefaults
from herald_campaign.domain.receipts import ReceiptSource
from herald_campaign.notifications.component import wire_notifications
from herald_campaign.scrape_gauges import wire_scrape_gauges
from herald_campaign.service_layer.accounts import AccountService
from herald_campaign.service_layer.campaigns import CampaignService
from herald_campaign.service_layer.dead_letters import DeadLetterService, poison_redrive_topics
from herald_campaign.service_layer.lifecycle import CampaignLifecycle
from herald_campaign.service_layer.messages import MessageQueueService
from herald_campaign.service_layer.receipts import ReceiptService
from herald_campaign.service_layer.scheduled_runs import ScheduledRuns
from herald_campaign.service_layer.schedules import ScheduleService
from herald_campaign.service_layer.session_pairing import SessionPairing
from herald_campaign.settings import CampaignSettings
from herald_core.accounts.sending_limits import parse_warmup_schedule
from herald_core.attempt_plan import AttemptPlan
from herald_infra.runtime.asyncapi import declare_publications
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.service_app import ServiceRuntime, create_http_app, serve

SERVICE = "campaign"
DEFAULT_PORT = 3000

log = get_logger(__name__)


def create_app(settings: CampaignSettings) -> FastAPI:
    """The campaign service's app; its lifespan connects Kafka and MongoDB and runs the
    command consumer."""
    runtime = ServiceRuntime.create(SERVICE, settings)
    campaigns = CampaignService(
        runtime.db, KafkaCampaignEvents(runtime.broker), default_region=settings.default_region
    )
    plan = AttemptPlan.parse(settings.attempt_plan)
    declare_publications(runtime.broker, SERVICE, campaign_publications(plan))
    lag = KafkaConsumerLag(settings.kafka_bootstrap_servers)
    messages = MessageQueueService(
        runtime.db, runtime.broker, lag, plan=plan, batch_size=settings.dispatch_batch_size
    )
    dead_letters = DeadLetterService(
        runtime.db,
        runtime.broker,
        campaigns,
        plan=plan,
        redrivable_topics=poison_redrive_topics(settings),
        operator_tenant=settings.default_tenant,
        batch_size=settings.dispatch_batch_size,
    )
    api_keys = ApiKeys(runtime.db, cache_seconds=settings.api_key_cache_seconds)
    accounts = AccountService(
        runtime.db,
        defaults=AccountDefaults(
            hourly_cap=settings.account_hourly_cap,
            daily_cap=settings.account_daily_cap,
            warmup_schedule=parse_warmup_schedule(settings.account_warmup_schedule),
        ),
        default_region=settings.default_region,
    )
    webhook_keys = WebhookKeys(
        waha_hmac_key=settings.waha_webhook_hmac_key,
        evolution_token=settings.evolution_webhook_token,
    )
    receipts = ReceiptService(runtime.db, KafkaStatusEvents(runtime.broker))
    lifecycle = CampaignLifecycle(
        runtime.db,
        KafkaCampaignEvents(runtime.broker),
        runtime.broker,
        plan=plan,
        batch_size=settings.dispatch_batch_size,
    )
    schedules = ScheduleService(runtime.db, campaigns, KafkaCampaignEvents(runtime.broker))
    subscribe_to_commands(
        runtime.broker,
        CommandHandler(
            runtime.db,
            campaigns,
            lifecycle=lifecycle,
            schedules=schedules,
            runs=ScheduledRuns(runtime.db, campaigns),
        ),
    )
    notifications = wire_notifications(runtime, settings)
    wire_scrape_gauges(runtime, settings, lag, plan)

    async def register_default_api_key() -> None:
        if settings.api_token:
            await register_api_key(
                runtime.db, settings.api_token, settings.default_tenant, "default"
            )
        else:
            log.warning("HERALD_API_TOKEN is not set; only tokens already in api_keys work")

    async def warn_of_unkeyed_webhooks() -> None:
        for source in ReceiptSource:
            if not webhook_keys.configured(source):
                log.warning("no webhook key set: its receipts are refused", source=source.value)

    runtime.on_start.append(register_default_api_key)
    runtime.on_start.append(warn_of_unkeyed_webhooks)
    runtime.on_stop.append(lag.close)

    app = create_http_app(
        runtime,
        [
            campaigns_api.router,
            contacts_api.router,
            messages_api.router,
            dead_letters_api.router,
            webhooks_api.router,
        ],
    )
    app.include_router(accounts_api.router)
    app.include_router(schedules_api.router)
    schedules_api.install_schedules(app, schedules)
    app.include_router(lifecycle_api.router)
    lifecycle_api.install_lifecycle(app, lifecycle)
    app.include_router(notification_endpoints_api.router)
    notification_endpoints_api.install_notification_service(app, notifications)
    app.title = "Herald campaign API"
    install_services(
        app,
        ApiServices(
            campaigns=campaigns,
            messages=messages,
            dead_letters=dead_letters,
            api_keys=api_keys,
            accounts=accounts,
            receipts=receipts,
            webhook_keys=webhook_keys,
            pairing=SessionPairing(accounts, timeout_seconds=settings.gateway_timeout_seconds),
        ),
    )
    install_error_handlers(app)
    require_token_first(app)
    return app


def main() -> None:
    settings = CampaignSettings()
    serve(create_app(settings), settings, SERVICE, DEFAULT_PORT)
