"""Request bodies that may be a CSV file: the body itself (``text/csv``), or the ``file`` part
of a multipart upload, read as it arrives; shared by the contact and suppression imports.

Neither is spooled: a multipart body goes through python-multipart's streaming parser as the
server hands it over, and the ``file`` part's bytes go on to the CSV reader chunk by chunk. The
body's size is capped by :mod:`.body_limits`."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from fastapi import Request, status
from fastapi.exceptions import RequestValidationError
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.exceptions import HTTPException

JSON = "application/json"
CSV = "text/csv"
MULTIPART = "multipart/form-data"
FILE_PART = "file"
UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii"})


def media_type_of(header: str) -> tuple[str, str | None]:
    """A ``Content-Type`` header's media type (lower case, "" when none) and its charset."""
    media_type, *parameters = (part.strip() for part in header.split(";"))
    charset = None
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media_type.lower(), charset


def content_type(request: Request) -> tuple[str, str | None]:
    """The request's media type (JSON when it names none) and its charset parameter."""
    media_type, charset = media_type_of(request.headers.get("content-type", ""))
    if not media_type or media_type.endswith("+json"):
        media_type = JSON
    return media_type, charset


class _FilePart:
    """The callbacks of a multipart parser that keep the data of the part named ``file`` (the
    first one) and drop every other part's as it is parsed."""

    def __init__(self) -> None:
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.disposition = b""
        self.in_file = False
        self.found = False
        self.finished = False
        self.data: list[bytes] = []

    def on_part_begin(self) -> None:
        self.disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if bytes(self.header_name).strip().lower() == b"content-disposition":
            self.disposition = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        self.in_file = not self.found and options.get(b"name") == FILE_PART.encode()
        self.found = self.found or self.in_file

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.data.append(data[start:end])

    def on_part_end(self) -> None:
        if self.in_file:
            self.in_file = False
            self.finished = True


def _boundary(request: Request) -> bytes:
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary", b"")
    if not boundary:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the multipart upload names no boundary")
    return boundary


def _missing_file() -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "missing",
                "loc": ("body", FILE_PART),
                "msg": f"a CSV file in a part named {FILE_PART} is required",
                "input": None,
            }
        ]
    )


async def uploaded_file(request: Request) -> AsyncGenerator[bytes, None]:
    """The bytes of the upload's ``file`` part as they arrive, read on first use, so the
    campaign is checked before the upload is. The body after that part is not read.

    A body that is not multipart, or that ends inside the file part, is a 400; one without a
    ``file`` part a 422."""
    part = _FilePart()
    parser = MultipartParser(
        _boundary(request),
        {
            "on_part_begin": part.on_part_begin,
            "on_header_field": part.on_header_field,
            "on_header_value": part.on_header_value,
            "on_header_end": part.on_header_end,
            "on_headers_finished": part.on_headers_finished,
            "on_part_data": part.on_part_data,
            "on_part_end": part.on_part_end,
        },
    )
    async for chunk in request.stream():
        try:
            parser.write(chunk)
        except FormParserError as error:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, f"malformed multipart upload: {error}"
            ) from None
        if part.data:
            data = b"".join(part.data)
            part.data.clear()
            yield data
        if part.finished:
            return
    if part.found:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "the multipart upload ended inside its file part"
        )
    raise _missing_file()
