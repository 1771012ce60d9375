"""``/api/suppressions``: the tenant's suppression list (numbers Herald sends nothing to) and
its opt-out keywords.

Recipients put themselves on the list with an opt-out keyword (STOP …) sent to any of the
tenant's accounts, and off it with an opt-in keyword (START …); the tenant adds and removes
numbers here, one by one, by CSV import, or from a campaign's ``not-on-whatsapp`` failures.
Every campaign of the tenant honours the list: the fan-out makes no message for a number on
it, and a sender checks again right before each send.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.exceptions import HTTPException

from herald_campaign.domain.contact_csv import CsvHeaderInvalid, CsvUnreadable
from herald_campaign.domain.opt_out_keywords import KeywordSettingsError
from herald_campaign.domain.phones import InvalidPhoneNumber
from herald_campaign.entrypoints.rest.csv_uploads import (
    CSV,
    MULTIPART,
    UTF8_CHARSETS,
    content_type,
    uploaded_file,
)
from herald_campaign.entrypoints.rest.dependencies import Services, Tenant
from herald_campaign.entrypoints.rest.errors import AUTH, INVALID, NOT_FOUND
from herald_campaign.entrypoints.rest.schemas import ErrorResponse
from herald_campaign.entrypoints.rest.suppression_schemas import (
    AddSuppressionsRequest,
    AddSuppressionsResponse,
    ImportSuppressionsResponse,
    KeywordSettingsRequest,
    KeywordSettingsResponse,
    NotOnWhatsappRequest,
    SuppressionListResponse,
    SuppressionResponse,
)
from herald_campaign.service_layer.errors import CampaignNotFound, InvalidField
from herald_campaign.service_layer.suppressions import CampaignNotFoundForSuppression

router = APIRouter(prefix="/api/suppressions", tags=["suppressions"], responses=AUTH)

E164_PATTERN = r"^\+[1-9]\d{6,14}$"
Phone = Annotated[str, Path(pattern=E164_PATTERN, description="The number, E.164 (`+9198…`).")]
ENTRY_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "The number is not on the list."}
}
EXPORT_COLUMNS = ("phone", "reason", "suppressedAt", "keyword", "campaignId")


@router.get(
    "",
    response_model=SuppressionListResponse,
    responses=INVALID,
    summary="The tenant's suppression list, in number order",
)
async def list_suppressions(
    tenant: Tenant,
    services: Services,
    after: Annotated[
        str | None,
        Query(pattern=E164_PATTERN, description="The last number of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> SuppressionListResponse:
    # One more than the page: a full last page says it is the last (nextAfter null).
    found = await services.suppressions.page(tenant, after=after, limit=limit + 1)
    page = found[:limit]
    return SuppressionListResponse(
        items=[SuppressionResponse.of(e) for e in page],
        count=await services.suppressions.count(tenant),
        next_after=page[-1].phone if len(found) > limit else None,
        scope=services.suppressions.scope.value,
    )


@router.post(
    "",
    response_model=AddSuppressionsResponse,
    responses=INVALID,
    summary="Put numbers on the tenant's suppression list",
    description="Each number gets reason `manual`; one already on the list keeps its entry. "
    "An invalid number is a 422 naming it (`numbers[2]`), and nothing is added.",
)
async def add_suppressions(
    body: AddSuppressionsRequest, tenant: Tenant, services: Services
) -> AddSuppressionsResponse:
    phones = []
    for index, raw in enumerate(body.numbers):
        try:
            phones.append(services.suppressions.normalise(raw))
        except InvalidPhoneNumber as invalid:
            raise InvalidField(f"numbers[{index}]", invalid.reason) from None
    unique = list(dict.fromkeys(phones))
    added = await services.suppressions.add(tenant, unique)
    return AddSuppressionsResponse(added=added, already=len(unique) - added)


@router.post(
    "/import",
    response_model=ImportSuppressionsResponse,
    responses={
        400: {"model": ErrorResponse, "description": "A line of the file cannot be read."},
        415: {"model": ErrorResponse, "description": "Not a CSV file or a multipart upload."},
        **INVALID,
    },
    summary="Import numbers to the suppression list from a CSV file",
    description="A `phone` column, as the request body (`text/csv`) or the `file` part of a "
    "multipart upload. Other columns (those of the export, say) are read by the contact "
    "list's rules (names of letters, digits and `_`; values up to 1000 characters) and their "
    "values ignored. Each number gets reason `import`; rows with an invalid number are "
    "listed, not fatal.",
)
async def import_suppressions(
    request: Request, tenant: Tenant, services: Services
) -> ImportSuppressionsResponse:
    media_type, charset = content_type(request)
    if media_type == CSV:
        if charset is not None and charset not in UTF8_CHARSETS:
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "a CSV file must be UTF-8")
        return await _import(services, tenant, request.stream())
    if media_type == MULTIPART:
        async with aclosing(uploaded_file(request)) as chunks:
            return await _import(services, tenant, chunks)
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"send {CSV}, or {MULTIPART} with a file part"
    )


async def _import(
    services: Services, tenant: str, chunks: AsyncIterator[bytes]
) -> ImportSuppressionsResponse:
    try:
        outcome = await services.suppressions.import_csv(tenant, chunks)
    except CsvHeaderInvalid as invalid:
        raise InvalidField("header", "; ".join(invalid.problems)) from None
    except CsvUnreadable as unreadable:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(unreadable)) from None
    return ImportSuppressionsResponse.of(outcome)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The list as CSV."}},
    summary="The tenant's suppression list as a CSV file",
    description=f"Columns: {', '.join(EXPORT_COLUMNS)}. The import reads it back.",
)
async def export_suppressions(tenant: Tenant, services: Services) -> StreamingResponse:
    async def rows() -> AsyncIterator[str]:
        yield _csv_line(EXPORT_COLUMNS)
        async for entry in services.suppressions.export(tenant):
            yield _csv_line(
                (
                    entry.phone,
                    entry.reason.value,
                    entry.suppressed_at.isoformat(),
                    str(entry.source.get("text") or ""),
                    str(entry.source.get("campaignId") or ""),
                )
            )

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="suppressions.csv"'},
    )


def _csv_line(values: tuple[str, ...]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


@router.post(
    "/not-on-whatsapp",
    response_model=AddSuppressionsResponse,
    responses={**INVALID, **NOT_FOUND},
    summary="Put a campaign's not-on-WhatsApp numbers on the list",
    description="The numbers of the campaign's messages that failed `not-on-whatsapp` get "
    "reason `not-on-whatsapp`: the tenant's choice (such a number may join WhatsApp later; "
    "remove it then).",
)
async def add_not_on_whatsapp(
    body: NotOnWhatsappRequest, tenant: Tenant, services: Services
) -> AddSuppressionsResponse:
    try:
        added, already = await services.suppressions.add_not_on_whatsapp(tenant, body.campaign_id)
    except CampaignNotFoundForSuppression:
        raise CampaignNotFound(body.campaign_id) from None
    return AddSuppressionsResponse(added=added, already=already)


@router.get(
    "/keywords",
    response_model=KeywordSettingsResponse,
    summary="The tenant's opt-out, opt-in and help keywords, and their replies",
)
async def get_keywords(tenant: Tenant, services: Services) -> KeywordSettingsResponse:
    return KeywordSettingsResponse.of(await services.suppressions.keyword_settings(tenant))


@router.put(
    "/keywords",
    response_model=KeywordSettingsResponse,
    responses=INVALID,
    summary="Set the tenant's keywords and replies",
    description="Built-in lists by language, the tenant's own keywords per class, built-ins "
    "turned off, and a confirmation reply per class. A keyword matches a whole message, "
    "ignoring case, accents and punctuation or emoji at its ends (`Stop!` matches, `don't "
    "stop` does not). A keyword in two classes is a 422 naming it.",
)
async def put_keywords(
    body: KeywordSettingsRequest, tenant: Tenant, services: Services
) -> KeywordSettingsResponse:
    try:
        settings = body.settings()
    except KeywordSettingsError as invalid:
        raise InvalidField(invalid.field, invalid.message) from None
    await services.suppressions.set_keyword_settings(tenant, settings)
    return KeywordSettingsResponse.of(settings)


@router.get(
    "/{phone}",
    response_model=SuppressionResponse,
    responses={**INVALID, **ENTRY_NOT_FOUND},
    summary="One number's entry on the list",
)
async def get_suppression(phone: Phone, tenant: Tenant, services: Services) -> SuppressionResponse:
    entry = await services.suppressions.entry(tenant, phone)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{phone} is not on the list")
    return SuppressionResponse.of(entry)


@router.delete(
    "/{phone}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**INVALID, **ENTRY_NOT_FOUND},
    summary="Take a number off the list",
    description="Whatever put it there; Herald may send to it again.",
)
async def delete_suppression(phone: Phone, tenant: Tenant, services: Services) -> Response:
    if not await services.suppressions.remove(tenant, phone):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{phone} is not on the list")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
