"""MongoDB access through PyMongo's async API; collection names and indexes.

Documents (field names follow the seed schema, camelCase):

- ``campaigns``: ``_id``, ``tenantId``, ``name``, ``messageBody``, ``delayType``, ``status``
  (see :mod:`herald_core.campaigns.lifecycle`), ``counts`` (one counter per message status,
  plus ``total``),
  ``createdAt``, ``updatedAt``, ``launchedAt``.
- ``contacts``: ``_id`` (campaign id and E.164 phone), ``tenantId``, ``campaignId``, ``phone``,
  ``name``, ``fields`` (custom fields), ``createdAt``.
- ``messages``: ``_id`` (deterministic per campaign, run and recipient), ``run``, ``tenantId``,
  ``campaignId``, ``contactId``, ``phone``, ``body``, ``accountId``, ``delayType``, ``status``,
  ``attempt``, ``planStep``, ``retryCount``, ``deliveryMethod``, ``gatewayMessageId``, ``claim``,
  ``attempts`` (history: attempt, step, engine, outcome, reason, error, at), ``nextAttemptAt``,
  ``lastError``, ``firstFailureAt``, ``failedReason``, ``failedDetail``, ``failedAt``,
  ``retryable``, ``deadLetter``, ``redrivenAt``, ``createdAt``, ``updatedAt``, ``sentAt``,
  ``deliveredAt`` and ``readAt`` (set by the delivery receipt that moved it, found by its
  ``gatewayMessageId``), ``expiresAt`` (not sent by then: ``expired``), ``casToken`` (written
  by each batched transition: see :mod:`herald_infra.messages.batched_transitions`).
- ``api_keys``: ``_id`` (SHA-256 of the token), ``tenantId``, ``name``, ``createdAt``.
- ``processed_commands``: ``_id`` (a command's ``event_id``), ``type``, ``at``.
- ``dead_letters``: see :mod:`herald_core.messages.dead_letters`.
- ``circuit_breakers``: ``_id`` (account and engine), ``tenantId``, ``accountId``, ``engine``,
  ``state`` (closed, open, half-open), ``consecutiveFailures``, ``openUntil``, ``reason``,
  ``updatedAt``, ``owner`` (the sender process that last changed it).
- ``accounts``: sender accounts, see :mod:`herald_core.accounts.model`.
- ``account_usage``: ``_id`` (account id and UTC day, ``acc_…|2026-05-20``), ``accountId``,
  ``tenantId``, ``day``, ``assigned`` (messages given to the account that day), ``hours``
  (``"00"``…``"23"``: the same per UTC hour), ``expiresAt`` (removed two days after the day),
  ``lastTake`` (the token of the last batched take of slots).
- ``account_pace``: ``_id`` (account id), ``nextSlotMs`` (epoch milliseconds from which the
  account may send again), ``lastSendMs``; see :mod:`herald_infra.accounts.pace_slots`.
- ``recipients``: ``_id`` (tenant and E.164 phone, ``tenant|+9198…``), ``tenantId``,
  ``phone``, ``accountId`` (the sender account the recipient was last given), ``assignedAt``.
- ``number_checks``: ``_id`` (tenant and E.164 phone), ``tenantId``, ``phone``,
  ``onWhatsapp``, ``checkedAt``, ``expiresAt`` (removed then); see
  :mod:`herald_infra.recipients.number_checks`.
- ``media``: ``_id`` (``med_…``), ``tenantId``, ``mimetype``, ``filename``, ``size``,
  ``sha256``, ``data`` (the file), ``createdAt``; see :mod:`herald_infra.media.uploads`.
- ``contact_verifications``: ``_id`` (the campaign id), ``tenantId``, ``status`` (running, done,
  failed), ``contacts``, ``checked``, ``onWhatsapp``, ``notOnWhatsapp``, ``detail``,
  ``startedAt``, ``updatedAt``, ``finishedAt``: a campaign's contacts checked ahead of its send.

- ``schedules``: see :mod:`herald_core.schedules`; ``schedule_firings``: ``_id`` (the
  firing id: schedule and due time), ``scheduleId``, ``scheduledFor``, ``firedAt``, ``state``
  (started, done), ``by`` (the scheduler replica); ``scheduler_leases``: ``_id``, ``owner``,
  ``leaseUntil``.
- ``suppressions``: numbers a tenant sends nothing to; see
  :mod:`herald_infra.recipients.suppressions`. ``opt_out_settings``: ``_id`` (tenant), the
  tenant's opt-out keywords and replies. ``inbound_messages``: ``_id`` (account and the
  gateway's message id), what recipients wrote to the tenant's accounts and what Herald made
  of it, kept 90 days.
- ``notification_endpoints`` and ``notification_deliveries``: tenants' webhook endpoints for
  campaign events, and each event's delivery to each endpoint.

A message no account has room for yet is ``pending`` with ``accountId`` null and ``notBefore``
(when to try again); see :mod:`herald_dispatcher.account_assignment`.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure
from pymongo.write_concern import WriteConcern

from herald_infra.runtime.settings import HeraldSettings

Document = dict[str, Any]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]

CAMPAIGNS = "campaigns"
CONTACTS = "contacts"
MESSAGES = "messages"
API_KEYS = "api_keys"
TENANTS = "tenants"
QUOTA_LOCKS = "quota_locks"
PROCESSED_COMMANDS = "processed_commands"
DEAD_LETTERS = "dead_letters"
CIRCUIT_BREAKERS = "circuit_breakers"
ACCOUNTS = "accounts"
ACCOUNT_USAGE = "account_usage"
RECIPIENTS = "recipients"
NUMBER_CHECKS = "number_checks"
CONTACT_VERIFICATIONS = "contact_verifications"
MEDIA = "media"
ACCOUNT_PACE = "account_pace"
SCHEDULES = "schedules"
SCHEDULE_FIRINGS = "schedule_firings"
SCHEDULER_LEASES = "scheduler_leases"
NOTIFICATION_ENDPOINTS = "notification_endpoints"
NOTIFICATION_DELIVERIES = "notification_deliveries"
SUPPRESSIONS = "suppressions"
OPT_OUT_SETTINGS = "opt_out_settings"
INBOUND_MESSAGES = "inbound_messages"
CAMPAIGN_RUNS = "campaign_runs"
"""One document per ended campaign run (``<campaignId>|<run>``): when it ended and, once its
messages are archived, where (docs/retention.md)."""
UNSENT_ENDINGS = "unsent_endings"
"""One document per campaign whose unsent messages the scheduler is ending in batches (a
cancel, a validity window that ran out): a small queue of work, kept until none is left."""
INBOUND_RECORD_SECONDS = 90 * 24 * 3600

FIRING_RECORD_SECONDS = 30 * 24 * 3600

INDEXES: dict[str, list[IndexModel]] = {
    CAMPAIGNS: [
        IndexModel([("tenantId", ASCENDING), ("createdAt", ASCENDING)]),
        IndexModel([("tenantId", ASCENDING), ("status", ASCENDING)]),
    ],
    CONTACTS: [IndexModel([("campaignId", ASCENDING), ("_id", ASCENDING)])],
    MESSAGES: [
        # Every query of messages by status goes by this one: a status (the sweep's expired
        # claims, the release of deferred messages, redrive), a status of one campaign (cancel,
        # resume, recount: one query per status), and a status of one campaign out of time
        # (the sweep's expiry). Two indexes, not five: each costs every write of a message
        # on SecantusDB, updates and inserts alike (figures in docs/benchmarks.md).
        IndexModel([("status", ASCENDING), ("campaignId", ASCENDING), ("expiresAt", ASCENDING)]),
        # A delivery receipt finds its message by the gateway's id.
        IndexModel([("gatewayMessageId", ASCENDING)], sparse=True),
    ],
    SCHEDULES: [
        IndexModel([("active", ASCENDING), ("nextRunAt", ASCENDING)]),
        IndexModel([("tenantId", ASCENDING), ("createdAt", ASCENDING)]),
    ],
    SCHEDULE_FIRINGS: [
        IndexModel([("scheduleId", ASCENDING), ("scheduledFor", ASCENDING)]),
        # A new leader's look for firings a dead one left started.
        IndexModel([("state", ASCENDING)]),
        # A firing's record only has to outlive the chance of firing it again: a recurring
        # schedule has moved past it, a one-shot one is inactive.
        IndexModel([("doneAt", ASCENDING)], expireAfterSeconds=FIRING_RECORD_SECONDS),
    ],
    NOTIFICATION_ENDPOINTS: [IndexModel([("tenantId", ASCENDING), ("createdAt", ASCENDING)])],
    NOTIFICATION_DELIVERIES: [
        IndexModel([("status", ASCENDING), ("nextAttemptAt", ASCENDING)]),
        IndexModel([("endpointId", ASCENDING), ("createdAt", ASCENDING)]),
    ],
    DEAD_LETTERS: [
        IndexModel([("tenantId", ASCENDING), ("recordedAt", ASCENDING)]),
        IndexModel([("tenantId", ASCENDING), ("campaignId", ASCENDING), ("recordedAt", ASCENDING)]),
        # Every tenant's, newest first, in recordedAt windows (the operators' list).
        IndexModel([("recordedAt", ASCENDING)]),
    ],
    CIRCUIT_BREAKERS: [IndexModel([("tenantId", ASCENDING)])],
    CAMPAIGN_RUNS: [IndexModel([("campaignId", ASCENDING), ("run", ASCENDING)])],
    API_KEYS: [
        IndexModel([("tenantId", ASCENDING)]),
        # A key's public id, by which operators list and revoke it (absent on keys nobody
        # listed since before keys had one).
        IndexModel([("keyId", ASCENDING)], unique=True, sparse=True),
    ],
    ACCOUNTS: [
        IndexModel([("tenantId", ASCENDING), ("phone", ASCENDING)], unique=True),
        IndexModel([("tenantId", ASCENDING), ("createdAt", ASCENDING)]),
        # Receipts find their account by the token in their URL (absent on older accounts).
        IndexModel([("receiptToken", ASCENDING)], unique=True, sparse=True),
    ],
    ACCOUNT_USAGE: [IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0)],
    NUMBER_CHECKS: [IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0)],
    SUPPRESSIONS: [
        # A sender's read of a tenant's changes, and of every tenant's (global scope).
        IndexModel([("tenantId", ASCENDING), ("changedAt", ASCENDING)]),
        IndexModel([("changedAt", ASCENDING)]),
        # The global scope's look-up of numbers on any tenant's list.
        IndexModel([("phone", ASCENDING)]),
    ],
    INBOUND_MESSAGES: [
        IndexModel([("tenantId", ASCENDING), ("receivedAt", ASCENDING)]),
        IndexModel([("receivedAt", ASCENDING)], expireAfterSeconds=INBOUND_RECORD_SECONDS),
    ],
}


def connect(settings: HeraldSettings) -> AsyncMongoClient[Document]:
    """A client for ``settings.mongodb_url``; the only place a URL becomes a client."""
    return AsyncMongoClient(settings.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=10_000)


DURABLE_WRITES = WriteConcern(w="majority", j=True)
"""Every write of every service: acknowledged once journaled, on a majority of a replica set.
Offsets follow durability, and a claim must outlive a crash of the database (see
docs/delivery-guarantees.md, "Write concern")."""
FAST_WRITES = WriteConcern(w=1, j=False)


def reconciled(collection: Collection) -> Collection:
    """``collection`` written acknowledged from memory (``w: 1``), for writes the sweep
    recomputes from the messages anyway (the campaign counters a transition moves): a crash that
    loses the last of them costs a correction, not a second send, and they need not wait for
    the journal on the senders' hot path."""
    return collection.with_options(write_concern=FAST_WRITES)


def database(client: AsyncMongoClient[Document], settings: HeraldSettings) -> Database:
    """Herald's database, written with the configured write concern (durable by default)."""
    concern = DURABLE_WRITES if settings.mongodb_writes == "durable" else FAST_WRITES
    return client.get_database(settings.mongodb_database, write_concern=concern)


RETIRED_INDEXES: dict[str, list[str]] = {
    MESSAGES: [
        "status_1_claim.leaseUntil_1",
        "status_1_notBefore_1",
        "status_1_campaignId_1",
        "campaignId_1_status_1",
        "tenantId_1_status_1",
        "status_1_expiresAt_1",
    ],
}
"""Indexes earlier versions created, dropped where found (each costs every write)."""


async def ensure_indexes(db: Database) -> None:
    """Create Herald's indexes and drop the retired ones; idempotent, safe to run at every
    start-up."""
    for collection, indexes in INDEXES.items():
        await db[collection].create_indexes(indexes)
    for collection, names in RETIRED_INDEXES.items():
        present = set(await db[collection].index_information())
        for name in names:
            if name in present:
                with suppress(OperationFailure):  # another process dropped it just now
                    await db[collection].drop_index(name)


async def ping(db: Database) -> None:
    await db.command("ping")
