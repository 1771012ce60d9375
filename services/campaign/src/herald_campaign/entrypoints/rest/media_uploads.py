"""``/api/media``: files a tenant uploads for its campaigns' media messages (an image, a video,
a document), named by a campaign as ``media.uploadId``. The senders hand the file to the
gateway themselves, so it never has to be reachable by URL."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import Field

from herald_campaign.entrypoints.rest.dependencies import Services, Tenant
from herald_campaign.entrypoints.rest.errors import AUTH, INVALID, error_body
from herald_campaign.entrypoints.rest.schemas import ErrorResponse, ResponseModel
from herald_campaign.service_layer.media_uploads import EmptyUpload
from herald_core.media import MAX_BYTES, MIMETYPES, UnsupportedMedia
from herald_infra.media.uploads import UploadedMedia

router = APIRouter(prefix="/api/media", tags=["media"], responses=AUTH)

UploadId = Annotated[str, Path(pattern=r"^med_[0-9a-f]{32}$", description="The upload's id.")]

_REFUSED: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "The file is larger than its kind may be."},
    415: {"model": ErrorResponse, "description": "Content-Type is not a type Herald sends."},
    **INVALID,
}


class UploadResponse(ResponseModel):
    id: str = Field(description="Name it in a campaign as `media.uploadId`.")
    mimetype: str
    filename: str | None
    size: int = Field(description="Bytes.")
    sha256: str
    created_at: datetime

    @classmethod
    def of(cls, upload: UploadedMedia) -> UploadResponse:
        return cls(
            id=upload.id,
            mimetype=upload.mimetype,
            filename=upload.filename,
            size=upload.size,
            sha256=upload.sha256,
            created_at=upload.created_at,
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadResponse,
    responses=_REFUSED,
    summary="Upload a media file for campaigns",
    description=(
        "The request body is the file; `Content-Type` its type (one of: "
        f"{', '.join(sorted(MIMETYPES))}). At most "
        + ", ".join(f"{kind.value} {size // (1024 * 1024)} MB" for kind, size in MAX_BYTES.items())
        + ". The file is read as it arrives and refused (413) once it is too large."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in MIMETYPES},
        }
    },
)
async def upload_media(
    request: Request,
    tenant: Tenant,
    services: Services,
    filename: Annotated[
        str | None, Query(min_length=1, max_length=255, description="Shown with a document.")
    ] = None,
) -> Any:
    mimetype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if mimetype not in MIMETYPES:
        return JSONResponse(
            error_body(f"Content-Type {mimetype or '(none)'!r} is not a type Herald sends"),
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )
    # The app's body limits hold the body to its kind's size, as it arrives (.body_limits).
    data = await request.body()
    try:
        upload = await services.media.save(tenant, mimetype=mimetype, filename=filename, data=data)
    except (UnsupportedMedia, EmptyUpload) as error:
        # A 422 names its field, as the document says: here the file, which is the body.
        return JSONResponse(
            {"error": "validation failed", "fields": [{"field": "body", "message": str(error)}]},
            status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return UploadResponse.of(upload)


@router.get(
    "/{upload_id}",
    response_model=UploadResponse,
    responses={**INVALID, 404: {"model": ErrorResponse, "description": "No such upload."}},
    summary="An upload's type, name and size",
)
async def get_upload(upload_id: UploadId, tenant: Tenant, services: Services) -> Any:
    upload = await services.media.info(tenant, upload_id)
    if upload is None:
        return JSONResponse(error_body("upload not found"), status.HTTP_404_NOT_FOUND)
    return UploadResponse.of(upload)
