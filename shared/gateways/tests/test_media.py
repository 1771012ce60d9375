"""Media sends: the file's kind, the bodies each gateway takes, and how their refusals
classify. Pure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from herald_gateways.evolution import evolution_media_body
from herald_gateways.failures import (
    classify_evolution_failure,
    classify_http_failure,
    switches_route,
)
from herald_gateways.interface import MediaFile
from herald_gateways.waha import WAHA_MEDIA_ROUTES, waha_media_body


@pytest.mark.parametrize(
    ("mimetype", "kind"),
    [
        ("image/jpeg", "image"),
        ("Image/PNG", "image"),
        ("video/mp4", "video"),
        ("application/pdf", "document"),
        ("audio/ogg", "document"),  # no voice notes: sent as a file
        ("text/csv", "document"),
        ("imagery", "document"),
    ],
)
def test_kind_from_the_mimetype(mimetype: str, kind: str) -> None:
    assert MediaFile(mimetype, url="https://cdn.example.com/f").kind == kind


def test_exactly_one_of_url_and_data() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        MediaFile("image/png")
    with pytest.raises(ValueError, match="exactly one"):
        MediaFile("image/png", url="https://cdn.example.com/a.png", data_base64="aGk=")


def test_waha_body_per_route() -> None:
    by_url = MediaFile("image/jpeg", "a.jpg", url="https://cdn.example.com/a.jpg")
    by_data = MediaFile("application/pdf", data_base64="JVBERi0xLjQK")
    assert WAHA_MEDIA_ROUTES[by_url.kind] == "/api/sendImage"
    assert WAHA_MEDIA_ROUTES[by_data.kind] == "/api/sendFile"
    assert waha_media_body("default", "+919876543210", by_url, "Hi") == {
        "session": "default",
        "chatId": "919876543210@c.us",
        "file": {
            "mimetype": "image/jpeg",
            "filename": "a.jpg",
            "url": "https://cdn.example.com/a.jpg",
        },
        "caption": "Hi",
    }
    assert waha_media_body("default", "+919876543210", by_data, "")["file"] == {
        "mimetype": "application/pdf",
        "data": "JVBERi0xLjQK",
    }


def test_evolution_body_names_every_document() -> None:
    video = MediaFile("video/mp4", url="https://cdn.example.com/v.mp4")
    document = MediaFile("application/pdf", data_base64="JVBERi0xLjQK")
    assert evolution_media_body("+919876543210", video, "Hi") == {
        "number": "919876543210",
        "mediatype": "video",
        "mimetype": "video/mp4",
        "media": "https://cdn.example.com/v.mp4",
        "caption": "Hi",
    }
    assert evolution_media_body("+919876543210", document, "")["fileName"] == "document.pdf"
    named = MediaFile("application/pdf", "offer.pdf", data_base64="JVBERi0xLjQK")
    assert evolution_media_body("+919876543210", named, "")["fileName"] == "offer.pdf"


PLUS_ONLY = (
    "The feature is available only in Plus version. Check this out: https://waha.devlike.pro/"
)


@pytest.mark.parametrize("message", [PLUS_ONLY, "The method is not implemented by the engine."])
def test_waha_core_cannot_send_media_permanent_here_other_route_may(message: str) -> None:
    body = {"statusCode": 422, "message": message, "error": "Unprocessable Entity"}
    error = classify_http_failure(422, json.dumps(body))
    assert (error.reason, error.retryable, switches_route(error)) == (
        "not-supported-by-gateway",
        False,
        True,
    )


def evolution(status: int, message: Any) -> str:
    return json.dumps({"status": status, "error": "x", "response": {"message": message}})


@pytest.mark.parametrize(
    ("status", "message", "reason", "retryable"),
    [
        (500, ["Error: Connection Closed"], "session-not-connected", True),
        (400, ["Owned media must be a url or base64"], "body-rejected", False),
        (400, ["For base64 the file name must be informed."], "body-rejected", False),
        (
            400,
            [["mediatype is not one of enum values: image,document,video,audio"]],
            "body-rejected",
            False,
        ),
        (400, [["Invalid format"]], "body-rejected", False),
        # a media URL Evolution could not fetch: may work later, not this route's trouble
        (500, ["Error: getaddrinfo EAI_AGAIN example.com"], "gateway-error", True),
        (500, ["TypeError: fetch failed"], "gateway-error", True),
        (500, ["AxiosError: Request failed with status code 404"], "gateway-error", True),
    ],
)
def test_evolution_send_media_answers(
    status: int, message: Any, reason: str, retryable: bool
) -> None:
    error = classify_evolution_failure(status, evolution(status, message))
    assert (error.reason, error.retryable) == (reason, retryable)
    assert switches_route(error) is (reason == "session-not-connected")
