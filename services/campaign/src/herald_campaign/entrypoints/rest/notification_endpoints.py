"""``/api/notification-endpoints``: the tenant's webhook endpoints for campaign events
(completed, failed, paused by the system): register, list with their delivery health, read,
delete, send a test ping, see recent deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi import status as http

from herald_campaign.entrypoints.rest.dependencies import Services, Tenant
from herald_campaign.entrypoints.rest.errors import AUTH, INVALID
from herald_campaign.entrypoints.rest.notification_schemas import (
    CreatedNotificationEndpointResponse,
    CreateNotificationEndpointRequest,
    NotificationDeliveryListResponse,
    NotificationDeliveryResponse,
    NotificationEndpointListResponse,
    NotificationEndpointResponse,
    PingQueuedResponse,
)
from herald_campaign.entrypoints.rest.schemas import ErrorResponse
from herald_campaign.service_layer.notifications import TooManyEndpoints

NOT_FOUND_TEXT = "notification endpoint not found"
ENDPOINT_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such notification endpoint for this tenant."}
}
TOO_MANY: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The tenant has the most endpoints allowed."}
}
SIGNING = (
    "Each notification is a POST of JSON `{id, type, occurredAt, tenantId, campaignId, data}` "
    "with headers `X-Herald-Event` (the type), `X-Herald-Delivery` (the id, the same on every "
    "retry) and `X-Herald-Signature: sha256=<hex>`: the HMAC-SHA256 of the exact body bytes "
    "with the endpoint's secret. A 2xx answer delivers it; anything else is retried with "
    "exponential back-off (HERALD_NOTIFICATION_BACKOFF_SECONDS, doubling) up to "
    "HERALD_NOTIFICATION_MAX_ATTEMPTS."
)

router = APIRouter(prefix="/api/notification-endpoints", tags=["notifications"], responses=AUTH)


EndpointId = Annotated[
    str, Path(min_length=1, max_length=128, description="The notification endpoint's id.")
]


def not_found() -> HTTPException:
    return HTTPException(http.HTTP_404_NOT_FOUND, NOT_FOUND_TEXT)


@router.post(
    "",
    status_code=http.HTTP_201_CREATED,
    response_model=CreatedNotificationEndpointResponse,
    responses={**INVALID, **TOO_MANY},
    summary="Register a webhook endpoint for campaign events",
    description=f"The answer holds the endpoint's signing `secret`, shown only here. {SIGNING}",
)
async def create_endpoint(
    body: CreateNotificationEndpointRequest, tenant: Tenant, services: Services
) -> CreatedNotificationEndpointResponse:
    try:
        endpoint = await services.notifications.register_endpoint(tenant, body.draft())
    except TooManyEndpoints as refused:
        raise HTTPException(http.HTTP_409_CONFLICT, refused.message) from refused
    return CreatedNotificationEndpointResponse.created(endpoint)


@router.get(
    "",
    response_model=NotificationEndpointListResponse,
    summary="The tenant's webhook endpoints with their delivery health, oldest first",
)
async def list_endpoints(tenant: Tenant, services: Services) -> NotificationEndpointListResponse:
    endpoints = await services.notifications.list_endpoints(tenant)
    return NotificationEndpointListResponse(
        endpoints=[NotificationEndpointResponse.of(e) for e in endpoints], total=len(endpoints)
    )


@router.get(
    "/{endpoint_id}",
    response_model=NotificationEndpointResponse,
    responses={**INVALID, **ENDPOINT_NOT_FOUND},
    summary="A webhook endpoint with its delivery health",
)
async def get_endpoint(
    endpoint_id: EndpointId, tenant: Tenant, services: Services
) -> NotificationEndpointResponse:
    endpoint = await services.notifications.get_endpoint(tenant, endpoint_id)
    if endpoint is None:
        raise not_found()
    return NotificationEndpointResponse.of(endpoint)


@router.delete(
    "/{endpoint_id}",
    status_code=http.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**INVALID, **ENDPOINT_NOT_FOUND},
    summary="Delete a webhook endpoint",
    description="Its queued and retrying notifications are dropped, not sent.",
)
async def delete_endpoint(endpoint_id: EndpointId, tenant: Tenant, services: Services) -> Response:
    if not await services.notifications.delete_endpoint(tenant, endpoint_id):
        raise not_found()
    return Response(status_code=http.HTTP_204_NO_CONTENT)


@router.post(
    "/{endpoint_id}/test",
    status_code=http.HTTP_202_ACCEPTED,
    response_model=PingQueuedResponse,
    responses={**INVALID, **ENDPOINT_NOT_FOUND},
    summary="Send the endpoint a test notification",
    description="Queues a notification of type `ping` (campaignId null), signed and retried "
    "like any other; its outcome shows in the endpoint's health and deliveries.",
)
async def send_test_notification(
    endpoint_id: EndpointId, tenant: Tenant, services: Services
) -> PingQueuedResponse:
    delivery_id = await services.notifications.send_test(tenant, endpoint_id)
    if delivery_id is None:
        raise not_found()
    return PingQueuedResponse(delivery_id=delivery_id)


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=NotificationDeliveryListResponse,
    responses={**INVALID, **ENDPOINT_NOT_FOUND},
    summary="The endpoint's latest notifications and how their delivery went, newest first",
)
async def list_deliveries(
    endpoint_id: EndpointId,
    tenant: Tenant,
    services: Services,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> NotificationDeliveryListResponse:
    deliveries = await services.notifications.deliveries_of(tenant, endpoint_id, limit)
    if deliveries is None:
        raise not_found()
    return NotificationDeliveryListResponse(
        deliveries=[NotificationDeliveryResponse.of(d) for d in deliveries]
    )
