"""The campaign service's composition root: the one place that builds the adapters, hands them
to the service layer, and plugs the entrypoints into one runtime (Kafka broker, MongoDB).

Every REST module is in :data:`ROUTERS`; every other entrypoint (the consumers, the scrape-time
gauges) is a ``register(runtime, services)`` in :data:`REGISTRATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI

from herald_campaign.adapters.api_keys import ApiKeys, register_api_key
from herald_campaign.adapters.campaign_events import KafkaCampaignEvents
from herald_campaign.adapters.consumer_lag import KafkaConsumerLag
from herald_campaign.adapters.contact_events import KafkaContactEvents
from herald_campaign.adapters.gateway_clients import AccountGateways, build_account_gateway
from herald_campaign.adapters.notification_delivery import DeliveryWorker
from herald_campaign.adapters.notification_repositories import (
    DeliveryRepository,
    EndpointRepository,
)
from herald_campaign.adapters.send_events import KafkaSendEvents
from herald_campaign.adapters.status_events import KafkaStatusEvents
from herald_campaign.asyncapi import campaign_publications
from herald_campaign.domain.accounts import AccountDefaults
from herald_campaign.domain.notifications.backoff import RetrySchedule
from herald_campaign.domain.receipts import ReceiptSource
from herald_campaign.entrypoints import commands_consumer, notifications_consumer, scrape_gauges
from herald_campaign.entrypoints.rest import (
    account_webhooks,
    accounts,
    admin_dead_letters,
    admin_keys,
    admin_schedules,
    admin_tenants,
    campaigns,
    contact_verification,
    contacts,
    dead_letters,
    lifecycle,
    media_uploads,
    messages,
    notification_endpoints,
    quotas,
    receipt_webhooks,
    schedules,
    suppressions,
)
from herald_campaign.entrypoints.rest.body_limits import BodyLimits, install_body_limits
from herald_campaign.entrypoints.rest.dependencies import install_services, require_token_first
from herald_campaign.entrypoints.rest.errors import install_error_handlers
from herald_campaign.entrypoints.rest.webhook_signatures import WebhookKeys
from herald_campaign.entrypoints.services import CampaignServices
from herald_campaign.service_layer.accounts import AccountService
from herald_campaign.service_layer.api_key_issuing import ApiKeyIssuing
from herald_campaign.service_layer.campaigns import CampaignService
from herald_campaign.service_layer.command_handlers import CommandHandlers
from herald_campaign.service_layer.contact_import import ContactImport
from herald_campaign.service_layer.contact_verification import (
    CheckingGateway,
    ContactVerification,
)
from herald_campaign.service_layer.dead_letters import DeadLetterService
from herald_campaign.service_layer.gateway_vetting import GatewayVetting
from herald_campaign.service_layer.inbound_messages import InboundMessages
from herald_campaign.service_layer.lifecycle import CampaignLifecycle
from herald_campaign.service_layer.media_uploads import MediaUploads
from herald_campaign.service_layer.messages import MessageQueueService
from herald_campaign.service_layer.notifications import NotificationService
from herald_campaign.service_layer.ports import GatewayFactory
from herald_campaign.service_layer.quotas import TenantQuotas
from herald_campaign.service_layer.receipts import ReceiptService
from herald_campaign.service_layer.scheduled_runs import ScheduledRuns
from herald_campaign.service_layer.schedules import ScheduleService
from herald_campaign.service_layer.session_pairing import SessionPairing
from herald_campaign.service_layer.suppressions import SuppressionService
from herald_campaign.service_layer.tenants import TenantService
from herald_campaign.service_layer.webhook_setup import WebhookSetupService
from herald_campaign.settings import CampaignSettings
from herald_core.accounts.sending_limits import parse_warmup_schedule
from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.topics import MESSAGE_DLT
from herald_core.recipients.suppression import SuppressionScope
from herald_gateways.registry import WEBHOOK_EVENTS
from herald_infra.kafka.connection import client_options
from herald_infra.kafka.topics import herald_topics
from herald_infra.mongo.client import Database
from herald_infra.outbound.public_addresses import OutboundAllow
from herald_infra.runtime.asyncapi import declare_publications
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.service_app import ServiceRuntime, create_http_app
from herald_infra.runtime.settings import HeraldSettings

SERVICE = "campaign"
TITLE = "Herald campaign API"

log = get_logger(__name__)

Registration = Callable[[ServiceRuntime, CampaignServices], None]

ROUTERS: Sequence[APIRouter] = (
    campaigns.router,
    contacts.router,
    messages.router,
    dead_letters.router,
    receipt_webhooks.router,
    account_webhooks.router,
    contact_verification.router,
    media_uploads.router,
    accounts.router,
    schedules.router,
    lifecycle.router,
    notification_endpoints.router,
    suppressions.router,
    admin_tenants.router,
    admin_keys.router,
    admin_schedules.router,
    admin_dead_letters.router,
    quotas.router,
)
"""The REST API, in the order of the OpenAPI document."""

REGISTRATIONS: Sequence[Registration] = (
    commands_consumer.register,
    notifications_consumer.register,
    scrape_gauges.register,
)
"""The ``campaign.commands`` and ``campaign.events`` consumers and the scrape-time gauges."""


@dataclass(frozen=True)
class Adapters:
    """The service layer's ports as this process fills them: Kafka, MongoDB stores, HTTP."""

    campaign_events: KafkaCampaignEvents
    status_events: KafkaStatusEvents
    contact_events: KafkaContactEvents
    send_events: KafkaSendEvents
    consumer_lag: KafkaConsumerLag
    endpoints: EndpointRepository
    deliveries: DeliveryRepository
    delivery_worker: DeliveryWorker
    gateways: GatewayFactory
    """The accounts' gateways, for QR pairing and webhook set-up: Herald's WAHA and Evolution
    adapters."""


def create_app(settings: CampaignSettings) -> FastAPI:
    """The campaign service's app; its lifespan connects Kafka and MongoDB, runs the
    consumers and the notification delivery worker."""
    runtime = ServiceRuntime.create(SERVICE, settings)
    plan = AttemptPlan.parse(settings.attempt_plan)
    declare_publications(runtime.broker, SERVICE, campaign_publications(plan))
    adapters = build_adapters(runtime, settings)
    services = build_services(runtime, settings, plan, adapters)
    for register in REGISTRATIONS:
        register(runtime, services)
    add_lifecycle_hooks(runtime, settings, adapters, services)
    app = create_http_app(runtime, ROUTERS)
    app.title = TITLE
    install_services(app, services)
    install_error_handlers(app)
    # Inside the token check (a middleware added later wraps those before it): a request
    # without a valid token is a 401 whatever its body; a known caller's body is then capped.
    install_body_limits(app, BodyLimits.of(settings))
    require_token_first(app)
    return app


def build_adapters(runtime: ServiceRuntime, settings: CampaignSettings) -> Adapters:
    """The adapters on the runtime's broker and database; nothing connects yet."""
    endpoints = EndpointRepository(runtime.db)
    deliveries = DeliveryRepository(runtime.db)
    return Adapters(
        campaign_events=KafkaCampaignEvents(runtime.broker),
        status_events=KafkaStatusEvents(runtime.broker),
        contact_events=KafkaContactEvents(runtime.broker),
        send_events=KafkaSendEvents(runtime.db, runtime.broker),
        consumer_lag=KafkaConsumerLag(client_options(settings)),
        endpoints=endpoints,
        deliveries=deliveries,
        delivery_worker=DeliveryWorker(
            endpoints,
            deliveries,
            schedule=RetrySchedule(
                first_delay_seconds=settings.notification_backoff_seconds,
                max_attempts=settings.notification_max_attempts,
            ),
            timeout_seconds=settings.notification_timeout_seconds,
            outbound_allow=OutboundAllow.parse(settings.outbound_allow),
        ),
        gateways=AccountGateways(
            OutboundAllow.parse(settings.outbound_allow),
            trusted_base_urls=(settings.gateway_url,),
        ),
    )


def build_services(
    runtime: ServiceRuntime, settings: CampaignSettings, plan: AttemptPlan, adapters: Adapters
) -> CampaignServices:
    """The service layer on ``adapters``, and what the entrypoints check callers with."""
    db, batch_size = runtime.db, settings.dispatch_batch_size
    tenant_quotas = TenantQuotas(
        db,
        settings.default_quotas(),
        cache_seconds=settings.quota_cache_seconds,
        shared_gateway=settings.shared_gateway,
    )
    campaigns = CampaignService(
        db,
        adapters.campaign_events,
        default_region=settings.default_region,
        outbound_allow=OutboundAllow.parse(settings.outbound_allow),
        suppression_scope=SuppressionScope(settings.suppression_scope),
        quotas=tenant_quotas,
    )
    lifecycle = CampaignLifecycle(
        db,
        adapters.campaign_events,
        adapters.send_events,
        plan=plan,
        batch_size=batch_size,
        quotas=tenant_quotas,
        senders_see_within=settings.campaign_state_cache_seconds,
    )
    schedules = ScheduleService(db, campaigns, adapters.campaign_events)
    tenants = TenantService(db, lifecycle)
    accounts = account_service(db, settings, adapters.gateways, quotas=tenant_quotas)
    suppression_list = SuppressionService(
        db,
        adapters.contact_events,
        scope=SuppressionScope(settings.suppression_scope),
        default_region=settings.default_region,
    )
    return CampaignServices(
        campaigns=campaigns,
        quotas=tenant_quotas,
        contact_import=ContactImport(campaigns),
        messages=MessageQueueService(
            db, adapters.send_events, adapters.consumer_lag, plan=plan, batch_size=batch_size
        ),
        dead_letters=DeadLetterService(
            db,
            adapters.send_events,
            campaigns,
            plan=plan,
            redrivable_topics=poison_redrive_topics(settings),
            batch_size=batch_size,
        ),
        accounts=accounts,
        pairing=SessionPairing(
            accounts, timeout_seconds=settings.gateway_timeout_seconds, build=adapters.gateways
        ),
        contact_verification=ContactVerification(
            db,
            deployment_gateway=CheckingGateway(
                account_id=settings.default_account_id,
                kind=settings.gateway_adapter,
                base_url=settings.gateway_url,
                api_key=settings.gateway_api_key,
                session=settings.gateway_session,
            ),
            build=adapters.gateways,
            timeout_seconds=settings.gateway_timeout_seconds,
            pace_scale=settings.pace_scale,
            keep_answers_hours=settings.number_check_hours,
        ),
        media=MediaUploads(db),
        webhook_setup=WebhookSetupService(
            accounts,
            public_url=settings.public_url,
            timeout_seconds=settings.webhook_setup_timeout_seconds,
            build=adapters.gateways,
            events=WEBHOOK_EVENTS,
        ),
        receipts=ReceiptService(db, adapters.status_events),
        suppressions=suppression_list,
        inbound=InboundMessages(
            db,
            suppression_list,
            adapters.contact_events,
            reply_window=settings.reply_window,
            plan=plan,
            gateways=adapters.gateways,
            timeout_seconds=settings.gateway_timeout_seconds,
            send_events=adapters.send_events,
        ),
        schedules=schedules,
        lifecycle=lifecycle,
        notifications=NotificationService(
            adapters.endpoints,
            adapters.deliveries,
            on_queued=adapters.delivery_worker.wake,
            outbound_allow=OutboundAllow.parse(settings.outbound_allow),
        ),
        commands=CommandHandlers(
            db,
            campaigns,
            lifecycle=lifecycle,
            schedules=schedules,
            runs=ScheduledRuns(db, campaigns),
            tenants=tenants,
        ),
        tenants=tenants,
        api_key_issuing=ApiKeyIssuing(db, tenants),
        api_keys=ApiKeys(
            db,
            cache_seconds=settings.api_key_cache_seconds,
            admin_token=settings.admin_token.get_secret_value() if settings.admin_token else None,
        ),
        webhook_keys=WebhookKeys(
            waha_hmac_key=settings.waha_webhook_hmac_key,
            evolution_token=settings.evolution_webhook_token,
        ),
        consumer_lag=adapters.consumer_lag,
        plan=plan,
        settings=settings,
    )


def account_service(
    db: Database,
    settings: CampaignSettings,
    gateways: GatewayFactory = build_account_gateway,
    *,
    quotas: TenantQuotas | None = None,
) -> AccountService:
    """Sender accounts, their caps and warm-up defaulting to the service's settings; a new
    one's gateways are asked what they are before it is stored; ``quotas``: the tenants'
    quotas (the settings' defaults when not given)."""
    return AccountService(
        db,
        defaults=AccountDefaults(
            hourly_cap=settings.account_hourly_cap,
            daily_cap=settings.account_daily_cap,
            warmup_schedule=parse_warmup_schedule(settings.account_warmup_schedule),
        ),
        default_region=settings.default_region,
        vetting=GatewayVetting(
            timeout_seconds=settings.webhook_setup_timeout_seconds, build=gateways
        ),
        outbound_allow=OutboundAllow.parse(settings.outbound_allow),
        quotas=quotas or TenantQuotas(db, settings.default_quotas()),
    )


def poison_redrive_topics(settings: HeraldSettings) -> frozenset[str]:
    """The topics a poison record may go back to: Herald's own, except the dead-letter topic."""
    return frozenset(t.name for t in herald_topics(settings)) - {MESSAGE_DLT}


def add_lifecycle_hooks(
    runtime: ServiceRuntime,
    settings: CampaignSettings,
    adapters: Adapters,
    services: CampaignServices,
) -> None:
    """On start: the notification delivery worker, the default API token, a warning for each
    gateway whose webhooks have no key. On stop: the worker, the consumer-lag clients."""

    async def register_default_api_key() -> None:
        if settings.api_token:
            await services.tenants.ensure(settings.default_tenant, settings.default_tenant)
            await register_api_key(
                runtime.db, settings.api_token, settings.default_tenant, "default"
            )
        else:
            log.warning("HERALD_API_TOKEN is not set; only tokens already in api_keys work")

    async def warn_of_unkeyed_webhooks() -> None:
        for source in ReceiptSource:
            if not services.webhook_keys.configured(source):
                log.warning("no webhook key set: its receipts are refused", source=source.value)

    runtime.on_start.append(adapters.delivery_worker.start)
    runtime.on_stop.append(adapters.delivery_worker.stop)
    runtime.on_start.append(register_default_api_key)
    runtime.on_start.append(warn_of_unkeyed_webhooks)
    runtime.on_stop.append(adapters.consumer_lag.close)
    runtime.on_stop.append(services.contact_verification.stop)
