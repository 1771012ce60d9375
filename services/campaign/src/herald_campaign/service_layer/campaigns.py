"""Campaign operations: create, add contacts, send, read. The REST API and the command consumer
both call these; neither has its own version of a rule.

Every read and write is scoped by tenant: a campaign of another tenant is not found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pymongo.errors import BulkWriteError, DuplicateKeyError

from herald_campaign.domain.campaigns import (
    CampaignDraft,
    CampaignStatus,
    MediaChoice,
    contact_id,
    derived_event_id,
    draft_campaign_document,
    new_campaign_id,
    run_expiry,
)
from herald_campaign.domain.contacts import (
    AcceptedContact,
    ContactScreening,
    RejectedContact,
    SubmittedContact,
    screen_contacts,
)
from herald_campaign.domain.stats import CampaignStats, campaign_stats
from herald_campaign.service_layer.errors import (
    CampaignConflict,
    CampaignNotFound,
    EventBusUnavailable,
    InvalidMedia,
    InvalidMessageBody,
    NoValidContacts,
)
from herald_campaign.service_layer.ports import CampaignEventPublisher
from herald_campaign.service_layer.quotas import TenantQuotas
from herald_core.contracts.common import new_event_id, utc_now
from herald_core.contracts.events import CampaignCreated, CampaignLaunched, ContactsAdded
from herald_core.media import MediaRef, UnsupportedMedia, caption_limit, media_kind
from herald_core.messages.states import NOT_ON_WHATSAPP_FAILURES, MessageStatus
from herald_core.recipients.suppression import SuppressionScope
from herald_core.templates import TemplateError, check_message_body
from herald_infra.media.uploads import upload_info
from herald_infra.messages.counters import ARCHIVE, recount_not_on_whatsapp
from herald_infra.mongo.client import CAMPAIGNS, CONTACTS, MESSAGES, Database, Document
from herald_infra.outbound.public_addresses import (
    AddressRefused,
    OutboundAllow,
    check_public_url,
)
from herald_infra.recipients.suppressions import suppressed_among
from herald_infra.runtime.logging import bind_context, get_logger

log = get_logger(__name__)

DUPLICATE_KEY = 11000


CampaignEvent = CampaignCreated | ContactsAdded | CampaignLaunched
"""What :class:`CampaignService` announces on ``campaign.events``."""


@dataclass(frozen=True)
class ContactsOutcome:
    """What adding contacts did; ``accepted + len(rejected) + duplicates`` is what was sent."""

    accepted: int
    rejected: list[RejectedContact]
    duplicates: int
    total: int
    """Contacts in the campaign afterwards."""
    suppressed: list[str] = field(default_factory=list)
    """Numbers added that are on the tenant's suppression list: nothing will be sent to them
    while they are."""


@dataclass(frozen=True)
class CampaignPage:
    campaigns: list[Document]
    total: int


def stored_now() -> datetime:
    """Now, at the millisecond precision MongoDB stores, so a response equals a later read."""
    now = utc_now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class CampaignService:
    """The campaign lifecycle on MongoDB, announcing each step on ``campaign.events``."""

    def __init__(
        self,
        db: Database,
        events: CampaignEventPublisher[CampaignEvent],
        *,
        default_region: str | None,
        outbound_allow: OutboundAllow | None = None,
        suppression_scope: SuppressionScope = SuppressionScope.TENANT,
        quotas: TenantQuotas | None = None,
    ) -> None:
        """``outbound_allow``: the non-public addresses a media URL may point at all the same
        (none by default); ``quotas``: the tenants' quotas (the defaults when not given)."""
        self.quotas = quotas or TenantQuotas(db)
        self._outbound_allow = outbound_allow or OutboundAllow()
        self._db = db
        self._campaigns = db[CAMPAIGNS]
        self._contacts = db[CONTACTS]
        self._messages = db[MESSAGES]
        self._events = events
        self._default_region = default_region
        self._suppression_scope = suppression_scope

    async def create_campaign(
        self,
        tenant_id: str,
        draft: CampaignDraft,
        *,
        campaign_id: str | None = None,
        command_id: str | None = None,
    ) -> Document:
        """Create a draft campaign and publish ``CampaignCreated``; returns its document.

        Under a command (``command_id``) a second delivery of the same command finds the campaign
        it created and publishes the event again; any other existing campaign with the id is a
        conflict. Through the API, a campaign whose event Kafka did not take is removed again, so
        the client can simply retry. A body with a malformed placeholder, or one rendering longer
        than WhatsApp delivers, is refused (:class:`InvalidMessageBody`).
        """
        campaign_id = campaign_id or new_campaign_id()
        bind_context(campaign_id=campaign_id)
        try:
            check_message_body(draft.message_body, caption_limit(draft.media is not None))
        except TemplateError as invalid:
            raise InvalidMessageBody(f"message body: {invalid.message}", invalid.reason) from None
        media = await self._media(tenant_id, draft.media) if draft.media is not None else None
        campaign = draft_campaign_document(
            campaign_id, tenant_id, draft, now=stored_now(), command_id=command_id, media=media
        )
        campaign = await self._insert_once(campaign, command_id)
        await self._announce_created(campaign, command_id)
        return campaign

    async def _media(self, tenant_id: str, choice: MediaChoice) -> MediaRef:
        """The media a campaign names, checked: an upload of the tenant's (its type and name
        as uploaded), or a URL to a public address with a type WhatsApp delivers. InvalidMedia
        naming the field otherwise."""
        if choice.upload_id is not None:
            upload = await upload_info(self._db, tenant_id, choice.upload_id)
            if upload is None:
                raise InvalidMedia("media.uploadId", f"no upload {choice.upload_id}")
            return MediaRef(
                mimetype=upload.mimetype,
                filename=choice.filename or upload.filename,
                upload_id=upload.id,
            )
        assert choice.url is not None and choice.mimetype is not None
        try:
            media_kind(choice.mimetype)
        except UnsupportedMedia as error:
            raise InvalidMedia("media.mimetype", str(error)) from None
        try:
            await check_public_url(choice.url, self._outbound_allow)
        except AddressRefused as error:
            raise InvalidMedia("media.url", str(error)) from None
        return MediaRef(mimetype=choice.mimetype, filename=choice.filename, url=choice.url)

    async def _insert_once(self, campaign: Document, command_id: str | None) -> Document:
        """Insert the new campaign; a command delivered again finds the one it created (and
        gets it back), anything else with its id is a conflict."""
        try:
            await self._campaigns.insert_one(campaign)
            log.info("campaign created", tenant_id=campaign["tenantId"])
            return campaign
        except DuplicateKeyError:
            existing = await self._campaigns.find_one({"_id": campaign["_id"]})
        created_by_this_command = (
            existing is not None
            and command_id is not None
            and existing.get("createdByCommand") == command_id
            and existing.get("tenantId") == campaign["tenantId"]
        )
        if existing is None or not created_by_this_command:
            raise CampaignConflict(f"campaign {campaign['_id']} already exists", "campaign-exists")
        return existing

    async def _announce_created(self, campaign: Document, command_id: str | None) -> None:
        """Publish ``CampaignCreated``; through the API, a campaign Kafka did not hear of is
        removed again, so the client's retry starts afresh."""
        campaign_id = campaign["_id"]
        created = CampaignCreated(
            event_id=derived_event_id("campaign.created", campaign_id),
            tenant_id=campaign["tenantId"],
            campaign_id=campaign_id,
            name=campaign["name"],
        )
        try:
            await self._events.publish(created)
        except EventBusUnavailable:
            if command_id is None:
                # Through the API the client will try again: leave no half-made campaign behind.
                await self._campaigns.delete_one(
                    {"_id": campaign_id, "status": CampaignStatus.DRAFT.value, "contactCount": 0}
                )
            raise

    async def get_campaign(self, tenant_id: str, campaign_id: str) -> Document:
        campaign = await self._campaigns.find_one({"_id": campaign_id, "tenantId": tenant_id})
        if campaign is None:
            raise CampaignNotFound(campaign_id)
        return campaign

    async def list_campaigns(self, tenant_id: str, *, limit: int, offset: int) -> CampaignPage:
        """The tenant's campaigns, newest first."""
        cursor = (
            self._campaigns.find({"tenantId": tenant_id})
            .sort([("createdAt", -1), ("_id", -1)])
            .skip(offset)
            .limit(limit)
        )
        campaigns = [c async for c in cursor]
        total = await self._campaigns.count_documents({"tenantId": tenant_id})
        return CampaignPage(campaigns, total)

    async def add_contacts(
        self,
        tenant_id: str,
        campaign_id: str,
        contacts: Sequence[SubmittedContact],
        *,
        command_id: str | None = None,
    ) -> ContactsOutcome:
        """Add the valid, new numbers to a draft campaign and publish ``ContactsAdded``.

        Numbers are normalised to E.164; a number already in the campaign, or repeated in
        ``contacts``, counts as a duplicate. Under a command, a request whose every contact is
        invalid is refused (:class:`NoValidContacts`) and nothing is written; so is one whose
        new contacts would pass the tenant's ``contactsPerCampaign`` (:class:`QuotaExceeded`).
        """
        bind_context(campaign_id=campaign_id)
        campaign = await self.campaign_taking_contacts(tenant_id, campaign_id)
        screening = self.screen_contacts(campaign, contacts)
        if command_id is not None and not screening.accepted:
            reasons = sorted({r.reason for r in screening.rejected})
            raise NoValidContacts(
                f"all {len(screening.rejected)} contacts were rejected: {', '.join(reasons)}"
            )
        phones = [c.phone for c in screening.accepted]
        async with self.quotas.room_for_contacts(tenant_id, campaign_id, phones) as room:
            inserted = await self.insert_contacts(tenant_id, campaign_id, screening.accepted)
            room.inserted = inserted
        duplicates = screening.repeated + len(screening.accepted) - inserted
        total = await self.contacts_added(
            tenant_id,
            campaign_id,
            accepted=inserted,
            rejected=len(screening.rejected),
            duplicates=duplicates,
            command_id=command_id,
            total=room.total,
        )
        return ContactsOutcome(
            accepted=inserted,
            rejected=screening.rejected,
            duplicates=duplicates,
            total=total,
            suppressed=await self.suppressed_numbers(
                tenant_id, [c.phone for c in screening.accepted]
            ),
        )

    async def suppressed_numbers(self, tenant_id: str, phones: Sequence[str]) -> list[str]:
        """Which of ``phones`` are on the tenant's suppression list, in their order."""
        found = await suppressed_among(self._db, tenant_id, phones, self._suppression_scope)
        return [p for p in phones if p in found]

    async def campaign_taking_contacts(self, tenant_id: str, campaign_id: str) -> Document:
        """The tenant's campaign, if contacts may be added to it (a draft); raises
        :class:`CampaignNotFound` or :class:`CampaignConflict` otherwise."""
        campaign = await self.get_campaign(tenant_id, campaign_id)
        if campaign["status"] != CampaignStatus.DRAFT:
            raise CampaignConflict(
                f"contacts can only be added to a draft campaign; this one is {campaign['status']}",
                "campaign-not-draft",
            )
        return campaign

    def screen_contacts(
        self, campaign: Document, contacts: Iterable[SubmittedContact]
    ) -> ContactScreening:
        """Which of ``contacts`` the campaign may take: valid numbers (in E.164), each once,
        whose message fits WhatsApp's limit (a caption's, when the campaign has media)."""
        return screen_contacts(
            contacts,
            self._default_region,
            message_body=campaign["messageBody"],
            body_limit=caption_limit(bool(campaign.get("media"))),
        )

    async def contacts_added(
        self,
        tenant_id: str,
        campaign_id: str,
        *,
        accepted: int,
        rejected: int,
        duplicates: int,
        command_id: str | None = None,
        total: int | None = None,
    ) -> int:
        """Record that contacts were added and publish ``ContactsAdded``; returns how many
        contacts the campaign has now: ``total`` when the quota guard counted them (it hands
        its count on from one insert to the next), else a count of them (which reads every
        contact of the campaign: once per request or import would make adding a big list in
        many requests grow with the square of its size)."""
        if total is None:
            total = await self._contacts.count_documents({"campaignId": campaign_id})
        await self._campaigns.update_one(
            {"_id": campaign_id},
            {"$max": {"contactCount": total}, "$set": {"updatedAt": stored_now()}},
        )
        log.info(
            "contacts added",
            accepted=accepted,
            rejected=rejected,
            duplicates=duplicates,
            total=total,
        )
        await self._events.publish(
            ContactsAdded(
                event_id=(
                    derived_event_id("campaign.contacts_added", command_id)
                    if command_id
                    else new_event_id()
                ),
                tenant_id=tenant_id,
                campaign_id=campaign_id,
                accepted=accepted,
                rejected=rejected,
            )
        )
        return int(total)

    async def insert_contacts(
        self, tenant_id: str, campaign_id: str, contacts: Sequence[AcceptedContact]
    ) -> int:
        """Insert the contacts the campaign does not have yet; returns how many were new."""
        if not contacts:
            return 0
        now = stored_now()
        documents: list[Document] = [
            {
                "_id": contact_id(campaign_id, c.phone),
                "tenantId": tenant_id,
                "campaignId": campaign_id,
                "phone": c.phone,
                "name": c.name,
                "fields": dict(c.fields),
                "createdAt": now,
            }
            for c in contacts
        ]
        try:
            result = await self._contacts.insert_many(documents, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as error:
            if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
                raise
            return int(error.details.get("nInserted", 0))

    async def send_campaign(
        self, tenant_id: str, campaign_id: str, *, command_id: str | None = None
    ) -> Document:
        """Launch a draft campaign that has contacts: mark it running, publish
        ``CampaignLaunched`` (the dispatcher turns it into messages); returns its document.

        Under a command, a second delivery of the command that launched the campaign publishes
        the event again (the first delivery may have stopped between the two steps). Through the
        API, a launch whose event Kafka did not take is undone, so the client can send again.
        A launch past the tenant's ``runningCampaigns`` is refused (:class:`QuotaExceeded`).
        """
        bind_context(campaign_id=campaign_id)
        campaign = await self.get_campaign(tenant_id, campaign_id)
        if (
            campaign["status"] == CampaignStatus.RUNNING
            and command_id is not None
            and campaign.get("launchCommandId") == command_id
        ):
            log.info("launch command delivered again; publishing its event again")
            await self._publish_launch(campaign)
            return campaign
        if campaign["status"] != CampaignStatus.DRAFT:
            raise _cannot_send(campaign["status"])
        if not await self._has_contacts(campaign):
            raise CampaignConflict("campaign has no contacts", "no-contacts")
        async with self.quotas.room_to_run(tenant_id, campaign_id):
            campaign = await self._mark_running(campaign, _launch_fields(campaign, command_id))
        try:
            await self._publish_launch(campaign)
        except EventBusUnavailable:
            if command_id is None:
                await self._undo_launch(campaign)
            raise
        log.info("campaign launched", tenant_id=tenant_id)
        return campaign

    async def _mark_running(self, campaign: Document, launch: Document) -> Document:
        """Compare-and-set the draft campaign to its first run; returns it as launched."""
        result = await self._campaigns.update_one(
            {
                "_id": campaign["_id"],
                "tenantId": campaign["tenantId"],
                "status": CampaignStatus.DRAFT.value,
            },
            {"$set": launch},
        )
        if result.modified_count != 1:
            # Launched (or otherwise moved on) by a concurrent request since we read it.
            current = await self.get_campaign(campaign["tenantId"], campaign["_id"])
            raise _cannot_send(current["status"])
        return {**campaign, **launch}

    async def _has_contacts(self, campaign: Document) -> bool:
        # Contacts are never removed, so a count above 0 settles it without a query (on a
        # MongoDB-wire server, finding one contact of a big campaign reads all of them first).
        # The count may lag an import cut short; then the query decides.
        if campaign.get("contactCount", 0) > 0:
            return True
        found = await self._contacts.find_one({"campaignId": campaign["_id"]}, {"_id": 1})
        return found is not None

    async def publish_launch(self, campaign: Document) -> None:
        """Publish ``CampaignLaunched`` for the campaign's current run as stored on it
        (``run``, ``runExpiresAt``, ``launchEventId``); a scheduled run's start calls this."""
        await self._publish_launch(campaign)

    async def _publish_launch(self, campaign: Document) -> None:
        await self._events.publish(
            CampaignLaunched(
                event_id=campaign["launchEventId"],
                tenant_id=campaign["tenantId"],
                campaign_id=campaign["_id"],
                run=campaign.get("run", 1),
                expires_at=campaign.get("runExpiresAt"),
            )
        )
        await self._campaigns.update_one(
            {"_id": campaign["_id"]}, {"$set": {"launchPublishedAt": stored_now()}}
        )

    async def _undo_launch(self, campaign: Document) -> None:
        log.warning("campaign launch not published; back to draft")
        await self._campaigns.update_one(
            {
                "_id": campaign["_id"],
                "status": CampaignStatus.RUNNING.value,
                "launchEventId": campaign["launchEventId"],
            },
            {
                "$set": {"status": CampaignStatus.DRAFT.value, "updatedAt": stored_now()},
                "$unset": {
                    "launchedAt": "",
                    "launchEventId": "",
                    "run": "",
                    "runExpiresAt": "",
                },
            },
        )

    async def campaign_stats(self, tenant_id: str, campaign_id: str) -> CampaignStats:
        """Delivery statistics from the campaign's message counters, and how many of its
        failures were numbers not on WhatsApp (a counter too: never a count of messages)."""
        campaign = await self.get_campaign(tenant_id, campaign_id)
        counts = campaign.get("counts") or {}
        not_on_whatsapp = campaign.get(NOT_ON_WHATSAPP_FAILURES)
        if not isinstance(not_on_whatsapp, int):
            not_on_whatsapp = await self._not_on_whatsapp_counted(campaign)
        return campaign_stats(
            counts,
            not_on_whatsapp=not_on_whatsapp,
            engagement=campaign.get("engagement"),
            suppressed_at_fan_out=int(campaign.get("suppressedAtFanOut") or 0),
        )

    async def _not_on_whatsapp_counted(self, campaign: Document) -> int:
        """A campaign created before its counter of not-on-WhatsApp failures: they are counted
        (until the sweep's reconciliation gives it the counter)."""
        # Archived runs (docs/retention.md) count by the figures frozen on the campaign.
        archive = campaign.get(ARCHIVE)
        if not (campaign.get("counts") or {}).get(MessageStatus.FAILED.value) and not archive:
            return 0
        return await recount_not_on_whatsapp(self._db, campaign["_id"], archive)


def _launch_fields(campaign: Document, command_id: str | None) -> Document:
    """What a launch sets on a draft campaign: running, run 1, its validity window and launch
    event id; :class:`CampaignConflict` when that window has ended already."""
    now = stored_now()
    expires_at = run_expiry(campaign, now)
    if expires_at is not None and expires_at <= now:
        raise CampaignConflict(
            f"the campaign's validity window ended at {expires_at.isoformat()}",
            "campaign-expired",
        )
    launch: Document = {
        "status": CampaignStatus.RUNNING.value,
        "run": 1,
        "runExpiresAt": expires_at,
        "launchedAt": now,
        "updatedAt": now,
        "launchEventId": (
            derived_event_id("campaign.launched", command_id) if command_id else new_event_id()
        ),
    }
    if command_id is not None:
        launch["launchCommandId"] = command_id
    return launch


def _cannot_send(status: str) -> CampaignConflict:
    if status == CampaignStatus.RUNNING:
        return CampaignConflict("campaign is already running", "already-running")
    return CampaignConflict(f"campaign is {status}; only a draft can be sent", "campaign-not-draft")
