"""What the entrypoints call: the service layer, built once by :mod:`herald_campaign.bootstrap`
with its adapters, and what the entrypoints check callers with."""

from __future__ import annotations

from dataclasses import dataclass

from herald_campaign.adapters.api_keys import ApiKeys
from herald_campaign.entrypoints.rest.webhook_signatures import WebhookKeys
from herald_campaign.service_layer.accounts import AccountService
from herald_campaign.service_layer.api_key_issuing import ApiKeyIssuing
from herald_campaign.service_layer.campaigns import CampaignService
from herald_campaign.service_layer.command_handlers import CommandHandlers
from herald_campaign.service_layer.contact_import import ContactImport
from herald_campaign.service_layer.contact_verification import ContactVerification
from herald_campaign.service_layer.dead_letters import DeadLetterService
from herald_campaign.service_layer.inbound_messages import InboundMessages
from herald_campaign.service_layer.lifecycle import CampaignLifecycle
from herald_campaign.service_layer.media_uploads import MediaUploads
from herald_campaign.service_layer.messages import MessageQueueService
from herald_campaign.service_layer.notifications import NotificationService
from herald_campaign.service_layer.ports import LagReader
from herald_campaign.service_layer.quotas import TenantQuotas
from herald_campaign.service_layer.receipts import ReceiptService
from herald_campaign.service_layer.schedules import ScheduleService
from herald_campaign.service_layer.session_pairing import SessionPairing
from herald_campaign.service_layer.suppressions import SuppressionService
from herald_campaign.service_layer.tenants import TenantService
from herald_campaign.service_layer.webhook_setup import WebhookSetupService
from herald_campaign.settings import CampaignSettings
from herald_core.attempt_plan import AttemptPlan


@dataclass(frozen=True)
class CampaignServices:
    campaigns: CampaignService
    quotas: TenantQuotas
    """Tenants' quotas: what they may hold, what they hold (the guards are in each service)."""
    contact_import: ContactImport
    messages: MessageQueueService
    dead_letters: DeadLetterService
    accounts: AccountService
    pairing: SessionPairing
    webhook_setup: WebhookSetupService
    contact_verification: ContactVerification
    media: MediaUploads
    receipts: ReceiptService
    suppressions: SuppressionService
    inbound: InboundMessages
    schedules: ScheduleService
    lifecycle: CampaignLifecycle
    notifications: NotificationService
    commands: CommandHandlers
    api_keys: ApiKeys
    """Who a bearer token acts for (the REST API)."""
    tenants: TenantService
    """The tenants, as operators manage them (``/api/admin/tenants``)."""
    api_key_issuing: ApiKeyIssuing
    """Tenant and operator keys, as operators issue and revoke them."""
    webhook_keys: WebhookKeys
    """How a gateway's webhook proves itself (the receipt webhooks)."""
    consumer_lag: LagReader
    plan: AttemptPlan
    settings: CampaignSettings
    """The service's configuration, for the entrypoints' own settings (the gauges' refresh)."""
