"""Media rules: the types WhatsApp delivers and as what, their sizes, one source per media, and
a caption's shorter limit."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from herald_core.media import (
    WHATSAPP_MAX_CAPTION,
    MediaKind,
    MediaRef,
    UnsupportedMedia,
    caption_limit,
    check_size,
    media_document,
    media_kind,
    media_of,
)
from herald_core.templates import WHATSAPP_MAX_BODY, BodyTooLong, check_message_body, fits_whatsapp

UPLOAD = "med_" + "0" * 32


@pytest.mark.parametrize(
    ("mimetype", "kind"),
    [
        ("image/jpeg", MediaKind.IMAGE),
        ("IMAGE/PNG", MediaKind.IMAGE),
        ("video/mp4", MediaKind.VIDEO),
        ("application/pdf", MediaKind.DOCUMENT),
    ],
)
def test_each_type_is_sent_as_its_kind(mimetype: str, kind: MediaKind) -> None:
    assert media_kind(mimetype) is kind


@pytest.mark.parametrize("mimetype", ["image/svg+xml", "application/x-msdownload", "text/html"])
def test_a_type_whatsapp_does_not_deliver_is_refused(mimetype: str) -> None:
    with pytest.raises(UnsupportedMedia, match="not a type Herald sends"):
        media_kind(mimetype)


def test_an_image_over_5_mb_is_refused_a_video_of_that_size_is_not() -> None:
    five_mb = 5 * 1024 * 1024
    check_size("image/jpeg", five_mb)
    with pytest.raises(UnsupportedMedia, match="5 MB"):
        check_size("image/jpeg", five_mb + 1)
    check_size("video/mp4", five_mb + 1)


def test_media_has_exactly_one_source_and_survives_its_document() -> None:
    with pytest.raises(ValidationError, match="exactly one of url and upload_id"):
        MediaRef(mimetype="image/png")
    with pytest.raises(ValidationError, match="exactly one of url and upload_id"):
        MediaRef(mimetype="image/png", url="https://cdn.example.com/a.png", upload_id=UPLOAD)
    media = MediaRef(mimetype="application/pdf", filename="offer.pdf", upload_id=UPLOAD)
    assert media_of(media_document(media)) == media
    assert media_of(None) is None


def test_a_caption_is_held_to_1024_characters_a_text_to_4096() -> None:
    assert (caption_limit(True), caption_limit(False)) == (WHATSAPP_MAX_CAPTION, WHATSAPP_MAX_BODY)
    body = "x" * (WHATSAPP_MAX_CAPTION + 1)
    check_message_body(body)
    with pytest.raises(BodyTooLong, match="at most 1024 in a media caption"):
        check_message_body(body, caption_limit(True))
    assert fits_whatsapp("Hi {{name}}", {"name": "a" * 1021}, WHATSAPP_MAX_CAPTION)
    assert not fits_whatsapp("Hi {{name}}", {"name": "a" * 1022}, WHATSAPP_MAX_CAPTION)
