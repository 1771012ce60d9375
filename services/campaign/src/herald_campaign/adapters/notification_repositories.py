"""MongoDB documents of notification endpoints and deliveries.

``notification_endpoints``: ``_id`` (``ne_…``), ``tenantId``, ``url``, ``events``,
``description``, ``secret`` (the signing key; only the worker reads it), ``createdAt``, and the
endpoint's delivery health: ``lastStatus`` (delivered, retrying, failed), ``lastStatusCode``,
``lastError``, ``lastAttemptAt``, ``lastDeliveredAt``, ``consecutiveFailures``.

``notification_deliveries``: ``_id`` (from the event id and endpoint id), ``tenantId``,
``endpointId``, ``eventId``, ``type``, ``campaignId``, ``body`` (the exact JSON sent),
``status`` (see :class:`DeliveryStatus`), ``attempts``, ``nextAttemptAt`` (when due; while
``sending``, when the claim's lease ends), ``claim`` (``id``, ``owner``, ``leaseUntil``),
``lastStatusCode``, ``lastError``, ``lastAttemptAt``, ``deliveredAt``, ``failedAt``,
``history`` (one entry per attempt), ``createdAt``, ``updatedAt``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING

from herald_campaign.domain.notifications.attempts import (
    DUE_STATUSES,
    AttemptOutcome,
    DeliveryStatus,
)
from herald_campaign.domain.notifications.endpoints import (
    EndpointHealth,
    NotificationDelivery,
    NotificationEndpoint,
)
from herald_campaign.domain.notifications.payloads import Notification, NotificationType
from herald_infra.mongo.client import (
    NOTIFICATION_DELIVERIES,
    NOTIFICATION_ENDPOINTS,
    Database,
    Document,
)


def endpoint_of(document: Document) -> NotificationEndpoint:
    status = document.get("lastStatus")
    return NotificationEndpoint(
        id=document["_id"],
        tenant_id=document["tenantId"],
        url=document["url"],
        events=tuple(NotificationType(e) for e in document.get("events", [])),
        description=document.get("description"),
        created_at=document["createdAt"],
        health=EndpointHealth(
            last_status=DeliveryStatus(status) if status else None,
            last_status_code=document.get("lastStatusCode"),
            last_error=document.get("lastError"),
            last_attempt_at=document.get("lastAttemptAt"),
            last_delivered_at=document.get("lastDeliveredAt"),
            consecutive_failures=int(document.get("consecutiveFailures") or 0),
        ),
        secret=document["secret"],
    )


def delivery_of(document: Document) -> NotificationDelivery:
    status = DeliveryStatus(document["status"])
    waiting = status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
    return NotificationDelivery(
        id=document["_id"],
        endpoint_id=document["endpointId"],
        type=document["type"],
        event_id=document["eventId"],
        campaign_id=document.get("campaignId"),
        status=status,
        attempts=int(document.get("attempts") or 0),
        next_attempt_at=document.get("nextAttemptAt") if waiting else None,
        last_status_code=document.get("lastStatusCode"),
        last_error=document.get("lastError"),
        last_attempt_at=document.get("lastAttemptAt"),
        delivered_at=document.get("deliveredAt"),
        created_at=document["createdAt"],
    )


class EndpointRepository:
    """The tenants' webhook endpoints and their health."""

    def __init__(self, db: Database) -> None:
        self._endpoints = db[NOTIFICATION_ENDPOINTS]

    async def insert(
        self,
        *,
        endpoint_id: str,
        tenant_id: str,
        url: str,
        events: tuple[NotificationType, ...],
        description: str | None,
        secret: str,
        created_at: datetime,
    ) -> NotificationEndpoint:
        document: Document = {
            "_id": endpoint_id,
            "tenantId": tenant_id,
            "url": url,
            "events": [e.value for e in events],
            "description": description,
            "secret": secret,
            "createdAt": created_at,
            "lastStatus": None,
            "lastStatusCode": None,
            "lastError": None,
            "lastAttemptAt": None,
            "lastDeliveredAt": None,
            "consecutiveFailures": 0,
        }
        await self._endpoints.insert_one(document)
        return endpoint_of(document)

    async def count(self, tenant_id: str) -> int:
        return await self._endpoints.count_documents({"tenantId": tenant_id})

    async def of_tenant(self, tenant_id: str) -> list[NotificationEndpoint]:
        cursor = self._endpoints.find({"tenantId": tenant_id}).sort(
            [("createdAt", ASCENDING), ("_id", ASCENDING)]
        )
        return [endpoint_of(d) async for d in cursor]

    async def get(self, tenant_id: str, endpoint_id: str) -> NotificationEndpoint | None:
        document = await self._endpoints.find_one({"_id": endpoint_id, "tenantId": tenant_id})
        return endpoint_of(document) if document else None

    async def by_id(self, endpoint_id: str) -> NotificationEndpoint | None:
        document = await self._endpoints.find_one({"_id": endpoint_id})
        return endpoint_of(document) if document else None

    async def delete(self, tenant_id: str, endpoint_id: str) -> bool:
        result = await self._endpoints.delete_one({"_id": endpoint_id, "tenantId": tenant_id})
        return result.deleted_count == 1

    async def subscribed(
        self, tenant_id: str, kind: NotificationType, registered_by: datetime
    ) -> list[NotificationEndpoint]:
        """The tenant's endpoints subscribed to ``kind`` that existed at ``registered_by`` (an
        endpoint is not told of what happened before it was registered)."""
        cursor = self._endpoints.find(
            {"tenantId": tenant_id, "events": kind.value, "createdAt": {"$lte": registered_by}}
        ).sort("_id", ASCENDING)
        return [endpoint_of(d) async for d in cursor]

    async def record_attempt(self, endpoint_id: str, outcome: AttemptOutcome, at: datetime) -> None:
        """Show the outcome of an attempt in the endpoint's health."""
        latest: dict[str, Any] = {
            "lastStatus": outcome.status.value,
            "lastStatusCode": outcome.status_code,
            "lastError": outcome.error,
            "lastAttemptAt": at,
        }
        update: dict[str, Any]
        if outcome.status is DeliveryStatus.DELIVERED:
            update = {"$set": {**latest, "lastDeliveredAt": at, "consecutiveFailures": 0}}
        else:
            update = {"$set": latest, "$inc": {"consecutiveFailures": 1}}
        await self._endpoints.update_one({"_id": endpoint_id}, update)


class DeliveryRepository:
    """Each notification's delivery to each endpoint; claimed by compare-and-set."""

    def __init__(self, db: Database) -> None:
        self._deliveries = db[NOTIFICATION_DELIVERIES]

    async def queue(
        self, notification: Notification, deliveries: list[tuple[str, str, bytes]], at: datetime
    ) -> list[str]:
        """Queue ``(delivery id, endpoint id, body)`` deliveries of ``notification`` unless
        queued already; returns the ids of the new ones."""
        queued = []
        for ident, endpoint_id, body in deliveries:
            document: Document = {
                "tenantId": notification.tenant_id,
                "endpointId": endpoint_id,
                "eventId": notification.event_id,
                "type": notification.type,
                "campaignId": notification.campaign_id,
                "body": body.decode("ascii"),
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "nextAttemptAt": at,
                "claim": None,
                "lastStatusCode": None,
                "lastError": None,
                "lastAttemptAt": None,
                "deliveredAt": None,
                "failedAt": None,
                "history": [],
                "createdAt": at,
                "updatedAt": at,
            }
            result = await self._deliveries.update_one(
                {"_id": ident}, {"$setOnInsert": document}, upsert=True
            )
            if result.upserted_id is not None:
                queued.append(ident)
        return queued

    async def due(self, now: datetime, limit: int) -> list[Document]:
        """Deliveries a worker may claim now, the longest due first."""
        cursor = (
            self._deliveries.find(
                {"status": {"$in": [s.value for s in DUE_STATUSES]}, "nextAttemptAt": {"$lte": now}}
            )
            .sort("nextAttemptAt", ASCENDING)
            .limit(limit)
        )
        return [d async for d in cursor]

    async def next_due_at(self) -> datetime | None:
        """When the next delivery (or expiring claim) falls due, if any is waiting."""
        document = await self._deliveries.find_one(
            {"status": {"$in": [s.value for s in DUE_STATUSES]}},
            {"nextAttemptAt": 1},
            sort=[("nextAttemptAt", ASCENDING)],
        )
        return document.get("nextAttemptAt") if document else None

    async def claim(
        self, document: Document, *, claim_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> bool:
        """Take a due delivery for one attempt; False when another worker took it first. The
        filter is the state that was read (compare-and-set), so two claims cannot both apply."""
        result = await self._deliveries.update_one(
            {
                "_id": document["_id"],
                "status": document["status"],
                "attempts": document["attempts"],
                "nextAttemptAt": document["nextAttemptAt"],
            },
            {
                "$set": {
                    "status": DeliveryStatus.SENDING.value,
                    "nextAttemptAt": lease_until,
                    "claim": {"id": claim_id, "owner": owner, "at": now, "leaseUntil": lease_until},
                    "updatedAt": now,
                }
            },
        )
        return result.modified_count == 1

    async def record_outcome(
        self, delivery_id: str, claim_id: str, outcome: AttemptOutcome, at: datetime, seconds: float
    ) -> bool:
        """Store the outcome of a claimed attempt; False when the claim was lost meanwhile (its
        lease ran out and another worker took the delivery, or it was dropped)."""
        fields: dict[str, Any] = {
            "status": outcome.status.value,
            "attempts": outcome.attempt,
            "nextAttemptAt": outcome.next_attempt_at,
            "claim": None,
            "lastStatusCode": outcome.status_code,
            "lastError": outcome.error,
            "lastAttemptAt": at,
            "updatedAt": at,
        }
        if outcome.status is DeliveryStatus.DELIVERED:
            fields["deliveredAt"] = at
        elif outcome.status is DeliveryStatus.FAILED:
            fields["failedAt"] = at
        entry = {
            "attempt": outcome.attempt,
            "at": at,
            "statusCode": outcome.status_code,
            "error": outcome.error,
            "durationMs": round(seconds * 1000, 1),
        }
        result = await self._deliveries.update_one(
            {"_id": delivery_id, "claim.id": claim_id},
            {"$set": fields, "$push": {"history": entry}},
        )
        return result.modified_count == 1

    async def drop(self, delivery_id: str) -> None:
        await self._deliveries.delete_one({"_id": delivery_id})

    async def drop_endpoint(self, endpoint_id: str) -> int:
        """Remove every delivery of a deleted endpoint; returns how many."""
        result = await self._deliveries.delete_many({"endpointId": endpoint_id})
        return result.deleted_count

    async def recent(
        self, tenant_id: str, endpoint_id: str, limit: int
    ) -> list[NotificationDelivery]:
        cursor = (
            self._deliveries.find({"endpointId": endpoint_id, "tenantId": tenant_id})
            .sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [delivery_of(d) async for d in cursor]
