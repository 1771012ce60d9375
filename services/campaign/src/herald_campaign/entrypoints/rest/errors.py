"""Every error of the API is JSON: ``{"error": "..."}``, plus ``fields`` when input is invalid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from herald_campaign.entrypoints.rest.schemas import ErrorResponse, ValidationErrorResponse
from herald_campaign.service_layer.api_key_issuing import ApiKeyNotFound
from herald_campaign.service_layer.errors import (
    AccountConflict,
    AccountNotFound,
    CampaignConflict,
    CampaignNotFound,
    DeadLetterNotFound,
    EventBusUnavailable,
    InvalidField,
    OperationRefused,
    RedriveRefused,
)
from herald_campaign.service_layer.quotas import QuotaExceeded, UnknownTenant
from herald_campaign.service_layer.schedules import ScheduleConflict, ScheduleNotFound
from herald_campaign.service_layer.session_pairing import (
    GatewayUnavailable,
    SessionNotWaitingForScan,
)
from herald_campaign.service_layer.tenants import TenantConflict, TenantNotFound
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

# The error responses of the routes, for the OpenAPI document.
AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or invalid bearer token."}
}
OPERATOR_AUTH: dict[int | str, dict[str, Any]] = {
    **AUTH,
    403: {"model": ErrorResponse, "description": "A tenant key: this route is for operators."},
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorResponse, "description": "The request is invalid."}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such campaign for this tenant."}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The campaign's status does not allow it."}
}
DEAD_LETTER_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such dead letter for this tenant."}
}
NOT_REDRIVABLE: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorResponse,
        "description": "The dead letter's message is no longer failed (the error names its "
        "status), or a poison record has no Herald topic to go back to.",
    }
}
ACCOUNT_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such sender account for this tenant."}
}
ACCOUNT_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "Another account has this phone number."}
}
NOT_WAITING_FOR_SCAN: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorResponse,
        "description": "The session is not waiting for a QR code scan (the error says its "
        "status: paired already, stopped, starting …).",
    }
}
GATEWAY_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    502: {"model": ErrorResponse, "description": "The account's gateway answered with an error."},
    503: {"model": ErrorResponse, "description": "The account's gateway is unreachable."},
    504: {"model": ErrorResponse, "description": "The account's gateway did not answer in time."},
}
MALFORMED_JSON: dict[str, Any] = {
    "description": 'Malformed JSON, or a body that is not UTF-8 (the field is "body").',
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ValidationErrorResponse"}}
    },
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "Kafka did not take the event; try again."}
}

_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def field_path(location: Sequence[int | str]) -> str:
    """``("body", "contacts", 3, "phone")`` -> ``"contacts[3].phone"``; the body itself: "body"."""
    parts = list(location)
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def validation_fields(errors: Sequence[Any]) -> list[dict[str, str]]:
    fields = []
    for error in errors:
        location = error.get("loc", ())
        if error.get("type") == "json_invalid":
            detail = (error.get("ctx") or {}).get("error") or error.get("msg")
            fields.append({"field": "body", "message": f"malformed JSON: {detail}"})
        else:
            fields.append({"field": field_path(location), "message": str(error.get("msg"))})
    return fields


def error_body(message: str) -> dict[str, str]:
    return {"error": message}


async def _validation_failed(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse(
            {"error": "malformed JSON", "fields": validation_fields(errors)},
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    return JSONResponse(
        {"error": "validation failed", "fields": validation_fields(errors)},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    if error.status_code == status.HTTP_400_BAD_REQUEST and isinstance(
        error.__cause__, UnicodeDecodeError
    ):
        # FastAPI's "There was an error parsing the body": a JSON body that is not UTF-8 is
        # malformed JSON like any other (the API fuzzer sent one).
        return JSONResponse(
            {
                "error": "malformed JSON",
                "fields": [{"field": "body", "message": "malformed JSON: the body is not UTF-8"}],
            },
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    return JSONResponse(
        error_body(str(error.detail)), status_code=error.status_code, headers=error.headers
    )


async def _refused(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, OperationRefused)
    if isinstance(error, CampaignNotFound):
        return JSONResponse(error_body("campaign not found"), status.HTTP_404_NOT_FOUND)
    if isinstance(error, DeadLetterNotFound):
        return JSONResponse(error_body("dead letter not found"), status.HTTP_404_NOT_FOUND)
    if isinstance(error, CampaignConflict | RedriveRefused | SessionNotWaitingForScan):
        return JSONResponse(error_body(error.message), status.HTTP_409_CONFLICT)
    if isinstance(error, AccountNotFound):
        return JSONResponse(error_body("account not found"), status.HTTP_404_NOT_FOUND)
    if isinstance(error, AccountConflict):
        return JSONResponse(error_body(error.message), status.HTTP_409_CONFLICT)
    if isinstance(error, InvalidField):
        return JSONResponse(
            {
                "error": "validation failed",
                "fields": [{"field": error.field, "message": error.field_message}],
            },
            status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return JSONResponse(error_body(error.message), status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _schedule_not_found(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"error": "schedule not found"}, status.HTTP_404_NOT_FOUND)


async def _schedule_conflict(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ScheduleConflict)
    return JSONResponse({"error": error.message, "reason": error.reason}, status.HTTP_409_CONFLICT)


async def _admin_not_found(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TenantNotFound | ApiKeyNotFound)
    return JSONResponse(error_body(error.message), status.HTTP_404_NOT_FOUND)


async def _tenant_conflict(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TenantConflict)
    return JSONResponse({"error": error.message, "reason": error.reason}, status.HTTP_409_CONFLICT)


async def _quota_exceeded(_: Request, error: Exception) -> JSONResponse:
    """409 naming the quota, its value and what the tenant holds; 422 naming the field too
    when the quota is on a value (the cron interval)."""
    assert isinstance(error, QuotaExceeded)
    body: dict[str, Any] = {
        "error": error.message,
        "quota": error.quota.value,
        "limit": error.limit,
        "used": error.used,
    }
    if error.field is None:
        return JSONResponse(body, status.HTTP_409_CONFLICT)
    body["fields"] = [{"field": error.field, "message": error.message}]
    return JSONResponse(body, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _unknown_tenant(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UnknownTenant)
    return JSONResponse(error_body(error.message), status.HTTP_404_NOT_FOUND)


async def _event_bus_unavailable(_: Request, error: Exception) -> JSONResponse:
    log.warning("event bus unavailable", error=str(error))
    return JSONResponse(
        error_body("event bus unavailable, try again"),
        status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


async def _gateway_unavailable(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, GatewayUnavailable)
    if error.timed_out:
        code = status.HTTP_504_GATEWAY_TIMEOUT
    elif error.unreachable:
        code = status.HTTP_503_SERVICE_UNAVAILABLE
    else:
        code = status.HTTP_502_BAD_GATEWAY
    return JSONResponse(error_body(error.message), code)


async def _unexpected(_: Request, error: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=error)
    return JSONResponse(error_body("internal error"), status.HTTP_500_INTERNAL_SERVER_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    """Answer what the service layer refuses: 404 for what the tenant cannot see, 409 for a
    state that rules it out (a schedule's with its reason), 422 for bad input, 503 while
    Kafka does not take events, 502/503/504 for an account's gateway."""
    app.add_exception_handler(ScheduleNotFound, _schedule_not_found)
    app.add_exception_handler(ScheduleConflict, _schedule_conflict)
    app.add_exception_handler(TenantNotFound, _admin_not_found)
    app.add_exception_handler(ApiKeyNotFound, _admin_not_found)
    app.add_exception_handler(TenantConflict, _tenant_conflict)
    app.add_exception_handler(QuotaExceeded, _quota_exceeded)
    app.add_exception_handler(UnknownTenant, _unknown_tenant)
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(OperationRefused, _refused)
    app.add_exception_handler(EventBusUnavailable, _event_bus_unavailable)
    app.add_exception_handler(GatewayUnavailable, _gateway_unavailable)
    app.add_exception_handler(Exception, _unexpected)
    document_malformed_bodies(app)


def document_malformed_bodies(app: FastAPI) -> None:
    """List the 400 of malformed JSON on each operation that takes a JSON body, in the app's
    OpenAPI document (an operation that documents its own 400 keeps it)."""
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_openapi()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    if "application/json" in operation.get("requestBody", {}).get("content", {}):
                        operation["responses"].setdefault(
                            str(status.HTTP_400_BAD_REQUEST), MALFORMED_JSON
                        )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's way to extend its OpenAPI
