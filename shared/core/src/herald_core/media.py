"""A campaign's media: the image, video or document each of its messages carries, with the
message body as its caption. Pure; no I/O.

A campaign names its media by the URL the gateway fetches it from, or by the id of a file a
tenant uploaded to Herald (``POST /api/media``), which the senders then hand the gateway
themselves. Either way its type is one WhatsApp delivers, and a caption is at most 1,024
characters (a text message: 4,096).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from herald_core.templates import WHATSAPP_MAX_BODY

WHATSAPP_MAX_CAPTION = 1024


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    DOCUMENT = "document"


MIMETYPES: dict[str, MediaKind] = {
    "image/jpeg": MediaKind.IMAGE,
    "image/png": MediaKind.IMAGE,
    "image/webp": MediaKind.IMAGE,
    "video/mp4": MediaKind.VIDEO,
    "video/3gpp": MediaKind.VIDEO,
    "application/pdf": MediaKind.DOCUMENT,
    "application/msword": MediaKind.DOCUMENT,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": MediaKind.DOCUMENT,
    "application/vnd.ms-excel": MediaKind.DOCUMENT,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": MediaKind.DOCUMENT,
    "application/vnd.ms-powerpoint": MediaKind.DOCUMENT,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        MediaKind.DOCUMENT
    ),
    "text/plain": MediaKind.DOCUMENT,
    "text/csv": MediaKind.DOCUMENT,
    "application/zip": MediaKind.DOCUMENT,
}
"""The types Herald sends, and as what: WhatsApp's supported media types."""

MAX_BYTES: dict[MediaKind, int] = {
    MediaKind.IMAGE: 5 * 1024 * 1024,
    MediaKind.VIDEO: 15 * 1024 * 1024,
    MediaKind.DOCUMENT: 15 * 1024 * 1024,
}
"""The largest upload Herald keeps of each kind: WhatsApp's 5 MB for images and 16 MB for
videos; documents (WhatsApp: 100 MB) are held to what one MongoDB document stores."""

MAX_UPLOAD_BYTES = max(MAX_BYTES.values())


class UnsupportedMedia(ValueError):
    """A media type WhatsApp does not deliver, or a file too large for its kind."""


def media_kind(mimetype: str) -> MediaKind:
    """What WhatsApp sends a file of this type as; UnsupportedMedia for any other type."""
    kind = MIMETYPES.get(mimetype.strip().lower())
    if kind is None:
        raise UnsupportedMedia(
            f"{mimetype!r} is not a type Herald sends; one of: {', '.join(sorted(MIMETYPES))}"
        )
    return kind


def check_size(mimetype: str, size: int) -> None:
    """UnsupportedMedia when a file of ``size`` bytes is too large for its kind."""
    limit = MAX_BYTES[media_kind(mimetype)]
    if size > limit:
        raise UnsupportedMedia(
            f"{size} bytes is more than the {limit // (1024 * 1024)} MB a "
            f"{media_kind(mimetype).value} may have"
        )


def caption_limit(has_media: bool) -> int:
    """The longest a campaign's rendered message may be: a caption, or a text."""
    return WHATSAPP_MAX_CAPTION if has_media else WHATSAPP_MAX_BODY


class MediaRef(BaseModel):
    """A campaign's media, as every message of it carries it: by URL (the gateway fetches it)
    or by upload id (the sender hands the gateway the file)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    mimetype: Annotated[str, Field(min_length=3, max_length=127)]
    filename: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    url: Annotated[str, Field(min_length=8, max_length=2000)] | None = None
    upload_id: Annotated[str, Field(pattern=r"^med_[0-9a-f]{32}$")] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.url is None) == (self.upload_id is None):
            raise ValueError("exactly one of url and upload_id")
        return self

    @property
    def kind(self) -> MediaKind:
        return media_kind(self.mimetype)


def media_document(media: MediaRef) -> dict[str, str | None]:
    """``media`` as campaign and message documents store it (camelCase)."""
    return {
        "mimetype": media.mimetype,
        "filename": media.filename,
        "url": media.url,
        "uploadId": media.upload_id,
    }


def media_of(document: Mapping[str, Any] | None) -> MediaRef | None:
    """The media a campaign or message document stores (None: a text)."""
    if not document:
        return None
    return MediaRef(
        mimetype=document["mimetype"],
        filename=document.get("filename"),
        url=document.get("url"),
        upload_id=document.get("uploadId"),
    )
