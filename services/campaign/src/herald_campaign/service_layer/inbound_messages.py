"""What recipients write to a tenant's sender accounts: opt-outs, opt-ins, help, replies.

Each inbound message arrives on the account's receipt URL (WAHA ``message``, Evolution
``messages.upsert``), is kept once (``inbound_messages``: the gateway may post it twice) and
read as a whole-message keyword of the tenant (:mod:`..domain.opt_out_keywords`):

- an opt-out keyword puts the number on the tenant's suppression list (``keyword``); the
  campaign message it answered, if any, is marked ``optedOut`` and its campaign counts it;
- an opt-in keyword lifts a keyword opt-out (never an entry the tenant made);
- help changes nothing;
- anything else is a reply: the latest campaign message sent to the number from the same
  account within the reply window is marked ``replied`` (a flag beside its status), once.

Each keyword gets the tenant's confirmation reply for its class, when the tenant set one: a
message sent through the same account and paced like any send (see :meth:`_confirm`).

Messages the account sent itself, group messages and broadcasts are ignored. A sender named by
an ``@lid`` jid without its number is looked up on the gateway; one that cannot be mapped is
kept, with nothing done (outcome ``unknown-sender``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pymongo.errors import DuplicateKeyError

from herald_campaign.domain.opt_out_keywords import KeywordClass, KeywordMatcher
from herald_campaign.service_layer.ports import (
    ContactEventPublisher,
    GatewayFactory,
    RedrivePublisher,
    UnusableGatewaySettings,
    session_gateway,
)
from herald_campaign.service_layer.suppressions import SuppressionService
from herald_core.accounts.model import GatewayAdapter, SenderAccount
from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.common import DelayType, utc_now
from herald_core.contracts.events import (
    KEYWORD_REPLIES_CAMPAIGN,
    ContactOptedIn,
    ContactOptedOut,
    MessageKind,
    MessageReplied,
    SendMessage,
)
from herald_core.messages.ids import keyword_reply_id, message_id
from herald_core.messages.states import MessageStatus
from herald_gateways.inbound import InboundMessage
from herald_gateways.interface import GatewayError
from herald_infra.mongo.client import CAMPAIGNS, INBOUND_MESSAGES, MESSAGES, Database, Document
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

MAX_KEPT_TEXT = 4096
RECENT_CAMPAIGNS = 200
"""At most this many of the tenant's campaigns (running, or launched within the reply window,
the latest first) are looked at for the message a reply answers."""
ANSWERABLE_STATUSES = (
    MessageStatus.SENDING.value,
    MessageStatus.SENT.value,
    MessageStatus.DELIVERED.value,
    MessageStatus.READ.value,
)
"""A message may be answered once it reached the gateway: a quick answer can come before the
sender recorded the send (the message still ``sending``, its gateway call just made)."""

MAX_KNOWN_LIDS = 10_000


class InboundOutcome(StrEnum):
    """What one inbound message did (the ``outcome`` label of ``herald_inbound_messages_total``)."""

    OPTED_OUT = "opted-out"
    ALREADY_OPTED_OUT = "already-opted-out"
    OPTED_IN = "opted-in"
    HELP = "help"
    REPLIED = "replied"
    """A reply to a campaign message, marked on it (the first reply to it)."""
    MESSAGE = "message"
    """Text that is no keyword and answers no campaign message in the window (or one already
    marked replied)."""
    DUPLICATE = "duplicate"
    """The gateway posted this message before."""
    IGNORED = "ignored"
    """Sent by the account itself, to a group, or a broadcast."""
    UNKNOWN_SENDER = "unknown-sender"
    """Named by an ``@lid`` jid the gateway could not map to a number."""


@dataclass(frozen=True)
class Answered:
    """The campaign message a recipient's message answers."""

    message_id: str
    campaign_id: str


@dataclass(frozen=True)
class InboundResult:
    outcome: InboundOutcome
    phone: str | None = None
    answered: Answered | None = None


class InboundMessages:
    def __init__(
        self,
        db: Database,
        suppressions: SuppressionService,
        events: ContactEventPublisher,
        *,
        reply_window: timedelta,
        plan: AttemptPlan,
        gateways: GatewayFactory,
        timeout_seconds: float,
        send_events: RedrivePublisher | None = None,
    ) -> None:
        """``send_events``: where keyword confirmations are published (None: never sent)."""
        self._db = db
        self._suppressions = suppressions
        self._events = events
        self._window = reply_window
        self._plan = plan
        self._send_events = send_events
        self._gateways = gateways
        self._timeout = timeout_seconds
        self._lids: dict[str, str] = {}
        """``@lid`` jids mapped to numbers by the gateways so far (bounded)."""

    async def receive(
        self,
        account: SenderAccount,
        adapter: GatewayAdapter,
        session: str | None,
        message: InboundMessage,
    ) -> InboundResult:
        """Act on one message a recipient wrote to ``account`` (through its ``adapter``
        session named ``session``)."""
        if not message.from_recipient:
            return InboundResult(InboundOutcome.IGNORED)
        phone = message.phone
        if phone is None and message.lid is not None:
            phone = await self._phone_of_lid(account, adapter, session, message.lid)
        record_id = f"{account.id}|{message.gateway_message_id}"
        now = utc_now()
        try:
            await self._db[INBOUND_MESSAGES].insert_one(
                {
                    "_id": record_id,
                    "tenantId": account.tenant_id,
                    "accountId": account.id,
                    "phone": phone,
                    "chat": message.chat,
                    "lid": message.lid,
                    "text": (message.text or "")[:MAX_KEPT_TEXT],
                    "sentAt": message.at,
                    "receivedAt": now,
                }
            )
        except DuplicateKeyError:
            return InboundResult(InboundOutcome.DUPLICATE, phone)
        result = (
            InboundResult(InboundOutcome.UNKNOWN_SENDER)
            if phone is None
            else await self._act(account, message, phone, record_id, now)
        )
        await self._db[INBOUND_MESSAGES].update_one(
            {"_id": record_id},
            {
                "$set": {
                    "outcome": result.outcome.value,
                    "messageId": result.answered.message_id if result.answered else None,
                    "campaignId": result.answered.campaign_id if result.answered else None,
                }
            },
        )
        log.info("inbound message", outcome=result.outcome.value, account_id=account.id)
        return result

    async def _phone_of_lid(
        self, account: SenderAccount, adapter: GatewayAdapter, session: str | None, lid: str
    ) -> str | None:
        """The number behind an ``@lid`` jid, as the account's gateway maps it (remembered);
        None when no session of the account matches or the gateway cannot say."""
        if (known := self._lids.get(lid)) is not None:
            return known
        matching = [
            s
            for s in (account.primary, account.fallback)
            if s.gateway is adapter and (session is None or s.session == session)
        ]
        if not matching:
            return None
        try:
            gateway = session_gateway(self._gateways, matching[0], self._timeout)
        except UnusableGatewaySettings as unusable:
            log.warning("lid not mapped: the gateway cannot be asked", setting=unusable.setting)
            return None
        try:
            phone = await gateway.phone_of_lid(matching[0].session, lid)
        except GatewayError as error:
            log.warning("lid not mapped: the gateway failed", reason=error.reason)
            return None
        finally:
            await gateway.close()
        if phone is not None:
            if len(self._lids) >= MAX_KNOWN_LIDS:
                self._lids.clear()
            self._lids[lid] = phone
        return phone

    async def _act(
        self,
        account: SenderAccount,
        message: InboundMessage,
        phone: str,
        record_id: str,
        now: datetime,
    ) -> InboundResult:
        tenant_id = account.tenant_id
        settings = await self._suppressions.keyword_settings(tenant_id)
        keyword = KeywordMatcher.of(settings).classify(message.text or "")
        answered = await self.answered_message(account, phone, now)
        if keyword is KeywordClass.OPT_OUT:
            outcome = await self._opt_out(account, message, phone, record_id, answered, now)
        elif keyword is KeywordClass.OPT_IN:
            outcome = InboundOutcome.OPTED_IN
            if await self._suppressions.lift_keyword(tenant_id, phone):
                await self._events.publish(
                    ContactOptedIn(
                        tenant_id=tenant_id,
                        phone=phone,
                        reason="keyword",
                        account_id=account.id,
                        keyword=message.text,
                        at=now,
                    )
                )
        elif keyword is KeywordClass.HELP:
            outcome = InboundOutcome.HELP
        else:
            replied = answered is not None and await self._mark_replied(
                account, phone, answered, message, now
            )
            return InboundResult(
                InboundOutcome.REPLIED if replied else InboundOutcome.MESSAGE, phone, answered
            )
        if (reply := settings.replies.get(keyword)) is not None:
            await self._confirm(account, phone, message.gateway_message_id, reply, now)
        return InboundResult(outcome, phone, answered)

    async def _opt_out(
        self,
        account: SenderAccount,
        message: InboundMessage,
        phone: str,
        record_id: str,
        answered: Answered | None,
        now: datetime,
    ) -> InboundOutcome:
        source = {
            "inboundId": record_id,
            "accountId": account.id,
            "text": (message.text or "")[:MAX_KEPT_TEXT],
            "campaignId": answered.campaign_id if answered else None,
            "messageId": answered.message_id if answered else None,
        }
        if not await self._suppressions.mark_keyword(account.tenant_id, phone, source):
            return InboundOutcome.ALREADY_OPTED_OUT
        if answered is not None:
            await self._flag(answered, "optedOut", now)
        await self._events.publish(
            ContactOptedOut(
                tenant_id=account.tenant_id,
                phone=phone,
                reason="keyword",
                account_id=account.id,
                keyword=message.text,
                campaign_id=answered.campaign_id if answered else None,
                message_id=answered.message_id if answered else None,
                at=now,
            )
        )
        return InboundOutcome.OPTED_OUT

    async def _mark_replied(
        self,
        account: SenderAccount,
        phone: str,
        answered: Answered,
        message: InboundMessage,
        now: datetime,
    ) -> bool:
        if not await self._flag(answered, "replied", now):
            return False
        await self._events.publish(
            MessageReplied(
                tenant_id=account.tenant_id,
                phone=phone,
                account_id=account.id,
                campaign_id=answered.campaign_id,
                message_id=answered.message_id,
                text=(message.text or "")[:MAX_KEPT_TEXT] or None,
                replied_at=message.at,
            )
        )
        return True

    async def _flag(self, answered: Answered, flag: str, now: datetime) -> bool:
        """Set the message's ``flag`` (``replied``, ``optedOut``) once, and count it on its
        campaign (``engagement.<flag>``) in the same step; False if it was set before."""
        moved = await self._db[MESSAGES].update_one(
            {"_id": answered.message_id, flag: {"$ne": True}},
            {"$set": {flag: True, f"{flag}At": now}},
        )
        if not moved.modified_count:
            return False
        await self._db[CAMPAIGNS].update_one(
            {"_id": answered.campaign_id}, {"$inc": {f"engagement.{flag}": 1}}
        )
        return True

    async def answered_message(
        self, account: SenderAccount, phone: str, now: datetime
    ) -> Answered | None:
        """The latest campaign message sent to ``phone`` from ``account`` within the reply
        window: among the latest two runs of the tenant's campaigns running or launched in the
        window, by their deterministic ids (no index on the number needed)."""
        since = now - self._window
        campaigns: dict[str, int] = {}
        for selector in (
            {"tenantId": account.tenant_id, "status": "running"},
            {"tenantId": account.tenant_id, "launchedAt": {"$gte": since}},
        ):
            cursor = (
                self._db[CAMPAIGNS]
                .find(selector, {"run": 1})
                .sort("launchedAt", -1)
                .limit(RECENT_CAMPAIGNS)
            )
            async for campaign in cursor:
                campaigns[campaign["_id"]] = int(campaign.get("run") or 1)
        candidates = [
            message_id(campaign_id, phone, r)
            for campaign_id, run in campaigns.items()
            for r in (run, run - 1)
            if r >= 1
        ]
        if not candidates:
            return None
        cursor = self._db[MESSAGES].find(
            {
                "_id": {"$in": candidates},
                "accountId": account.id,
                "status": {"$in": list(ANSWERABLE_STATUSES)},
            },
            {"campaignId": 1, "sentAt": 1, "claim.claimedAt": 1},
        )
        found = [(when, d) async for d in cursor if (when := _sent_at(d)) and when >= since]
        if not found:
            return None
        _, latest = max(found, key=lambda pair: pair[0])
        return Answered(latest["_id"], latest["campaignId"])

    async def _confirm(
        self, account: SenderAccount, phone: str, gateway_message_id: str, text: str, now: datetime
    ) -> None:
        """The tenant's confirmation of a keyword: one message per inbound message, through the
        same account, on the plan's first send topic like any send, so the sender paces it
        with the account's other sends. Its id is derived from the inbound message, so a
        keyword posted twice is confirmed once."""
        if self._send_events is None:
            return
        reply_id = keyword_reply_id(account.id, gateway_message_id)
        document = {
            "_id": reply_id,
            "kind": MessageKind.KEYWORD_REPLY.value,
            "run": 1,
            "tenantId": account.tenant_id,
            "campaignId": KEYWORD_REPLIES_CAMPAIGN,
            "contactId": None,
            "phone": phone,
            "body": text,
            "accountId": account.id,
            "delayType": DelayType.BALANCED.value,
            "status": MessageStatus.QUEUED.value,
            "attempt": 1,
            "planStep": 0,
            "retryCount": 0,
            "createdAt": now,
            "updatedAt": now,
        }
        try:
            await self._db[MESSAGES].insert_one(document)
        except DuplicateKeyError:
            return
        event = SendMessage(
            tenant_id=account.tenant_id,
            campaign_id=KEYWORD_REPLIES_CAMPAIGN,
            message_id=reply_id,
            account_id=account.id,
            phone=phone,
            body=text,
            kind=MessageKind.KEYWORD_REPLY,
        )
        await self._send_events.publish_send_events([event], self._plan.first_topic)


def _sent_at(message: Document) -> datetime | None:
    """When the message went to the gateway: its ``sentAt``, or, still ``sending``, its
    claim's time (an upper bound of the send's)."""
    sent_at = message.get("sentAt")
    if isinstance(sent_at, datetime):
        return _aware(sent_at)
    claimed_at = (message.get("claim") or {}).get("claimedAt")
    return _aware(claimed_at) if isinstance(claimed_at, datetime) else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
