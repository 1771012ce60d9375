"""Request bodies that may be a CSV file: the body itself (``text/csv``), or the ``file`` part
of a multipart upload, read as it arrives; shared by the contact and suppression imports."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile

JSON = "application/json"
CSV = "text/csv"
MULTIPART = "multipart/form-data"
FILE_PART = "file"
UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii"})
UPLOAD_CHUNK_BYTES = 64 * 1024


def content_type(request: Request) -> tuple[str, str | None]:
    """The request's media type (JSON when it names none) and its charset parameter."""
    header = request.headers.get("content-type", "")
    media_type, *parameters = (part.strip() for part in header.split(";"))
    media_type = media_type.lower()
    if not media_type or media_type.endswith("+json"):
        media_type = JSON
    charset = None
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media_type, charset


async def uploaded_file(request: Request) -> AsyncGenerator[bytes, None]:
    """The bytes of the upload's ``file`` part (spooled to disk by the form parser), read on
    first use, so the campaign is checked before the upload is."""
    async with request.form(max_files=1, max_fields=20) as form:
        upload = form.get(FILE_PART)
        if not isinstance(upload, UploadFile):
            raise RequestValidationError(
                [
                    {
                        "type": "missing",
                        "loc": ("body", FILE_PART),
                        "msg": f"a CSV file in a part named {FILE_PART} is required",
                        "input": None,
                    }
                ]
            )
        while chunk := await upload.read(UPLOAD_CHUNK_BYTES):
            yield chunk
