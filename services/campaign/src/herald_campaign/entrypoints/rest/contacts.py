"""``POST /api/campaigns/{id}/contacts``: a draft campaign's contacts, as JSON or as a CSV file
(the request body, or a multipart upload), the file read as it arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from herald_campaign.domain.contact_csv import (
    MAX_CUSTOM_FIELDS,
    MAX_NAME_LENGTH,
    MAX_VALUE_LENGTH,
    CsvHeaderInvalid,
)
from herald_campaign.entrypoints.rest.contact_schemas import (
    ImportContactsResponse,
    ImportStoppedResponse,
)
from herald_campaign.entrypoints.rest.csv_uploads import (
    CSV,
    FILE_PART,
    JSON,
    MULTIPART,
    UTF8_CHARSETS,
    content_type,
    uploaded_file,
)
from herald_campaign.entrypoints.rest.dependencies import CampaignId, Services, Tenant
from herald_campaign.entrypoints.rest.errors import AUTH, CONFLICT, INVALID, NOT_FOUND, UNAVAILABLE
from herald_campaign.entrypoints.rest.schemas import (
    AddContactsRequest,
    AddContactsResponse,
    ErrorResponse,
    ValidationErrorResponse,
)
from herald_campaign.service_layer.contact_import import LISTED_REJECTIONS, ImportStopped
from herald_core.templates import WHATSAPP_MAX_BODY

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"], responses=AUTH)


CSV_EXAMPLE = 'phone,name,city\n+919876543210,John,Pune\n+14155552671,,"San Francisco, CA"\n'


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its definitions inlined, to stand alone in the operation
    (the route reads its body itself, so FastAPI does not list the model)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        JSON: {"schema": _inline_schema(AddContactsRequest)},
        CSV: {
            "schema": {"type": "string", "description": "The CSV file itself (UTF-8)."},
            "example": CSV_EXAMPLE,
        },
        MULTIPART: {
            "schema": {
                "type": "object",
                "required": [FILE_PART],
                "properties": {
                    FILE_PART: {
                        "type": "string",
                        "format": "binary",
                        "description": "The CSV file (UTF-8).",
                    }
                },
            }
        },
    },
}

DESCRIPTION = f"""\
Send contacts as JSON (`{JSON}`, up to 10,000 per request), or a CSV file as the body
(`{CSV}`) or as the part `{FILE_PART}` of a `{MULTIPART}` upload, of any size: it is read as
it arrives, in batches.

Numbers are normalised to E.164; numbers repeated in the request (or file) or already in the
campaign count as `duplicates`; rejected contacts are listed with the reason, by `index` in
JSON, by `line` in a file (the physical line where the row starts; the header is line 1), a
file's first {LISTED_REJECTIONS} with `rejectedCount` for all. A contact whose own fields would
render the message longer than {WHATSAPP_MAX_BODY} characters is rejected as `body-too-long`.

CSV: UTF-8 (a byte-order mark is fine), LF or CRLF, quoted fields may hold commas, quotes
(doubled) and line breaks. The first row is the header: `phone` (required) and `name`
(optional), in any case, and any other column is a custom field the template can use (its name:
letters, digits and `_`, not starting with a digit; at most {MAX_CUSTOM_FIELDS}); a bad header
is a 422 naming it. Values are trimmed; a name may have {MAX_NAME_LENGTH} characters, a field
{MAX_VALUE_LENGTH}. A row with the wrong number of columns is rejected, not fatal. A line that
is not UTF-8 stops the import there (400, naming the line; the rows before it were imported).
"""


@router.post(
    "/{campaign_id}/contacts",
    response_model=AddContactsResponse | ImportContactsResponse,
    responses={
        400: {
            # Three shapes: a file line that cannot be read, malformed JSON naming the body,
            # a broken multipart upload (the API fuzzer sent the second).
            "model": ImportStoppedResponse | ValidationErrorResponse | ErrorResponse,
            "description": "A file line that cannot be read (not UTF-8): the import stopped "
            "there, and the rows before it were imported (`line`, `accepted`, `total`); or "
            'malformed JSON (`fields` names the "body"); or a broken multipart upload.',
        },
        415: {"model": ErrorResponse, "description": "Not JSON, CSV or a multipart upload."},
        **INVALID,
        **NOT_FOUND,
        **CONFLICT,
        **UNAVAILABLE,
    },
    summary="Add contacts to a draft campaign: JSON, or a CSV file",
    description=DESCRIPTION,
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def add_contacts(
    campaign_id: CampaignId, request: Request, tenant: Tenant, services: Services
) -> JSONResponse:
    media_type, charset = content_type(request)
    if media_type == JSON:
        contacts = _json_contacts(await request.body())
        outcome = await services.campaigns.add_contacts(
            tenant, campaign_id, [c.submitted() for c in contacts.contacts]
        )
        return _answer(AddContactsResponse.of(outcome))
    if media_type == CSV:
        if charset is not None and charset not in UTF8_CHARSETS:
            raise HTTPException(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                f"a CSV file must be UTF-8; this one says charset={charset}",
            )
        return await _import(services, tenant, campaign_id, request.stream())
    if media_type == MULTIPART:
        async with aclosing(uploaded_file(request)) as chunks:
            return await _import(services, tenant, campaign_id, chunks)
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        f"send {JSON}, {CSV}, or {MULTIPART} with the file in a part named {FILE_PART}",
    )


async def _import(
    services: Services, tenant: str, campaign_id: str, chunks: AsyncIterator[bytes]
) -> JSONResponse:
    try:
        outcome = await services.contact_import.import_csv(tenant, campaign_id, chunks)
    except CsvHeaderInvalid as invalid:
        return JSONResponse(
            {
                "error": "invalid CSV header",
                "fields": [{"field": "header", "message": problem} for problem in invalid.problems],
            },
            status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    except ImportStopped as stopped:
        return _answer(ImportStoppedResponse.of(stopped), status.HTTP_400_BAD_REQUEST)
    return _answer(ImportContactsResponse.of(outcome))


def _answer(body: BaseModel, status_code: int = status.HTTP_200_OK) -> JSONResponse:
    # Answered as built: the route's response model is a union, for the OpenAPI document.
    return JSONResponse(body.model_dump(mode="json"), status_code)


def _json_contacts(body: bytes) -> AddContactsRequest:
    """The JSON body validated as FastAPI would, its errors reported the same way."""
    if not body.strip():
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        return AddContactsRequest.model_validate_json(body)
    except ValidationError as invalid:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in invalid.errors()]
        ) from None
