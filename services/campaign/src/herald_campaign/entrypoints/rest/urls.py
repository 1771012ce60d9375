"""The checks every URL a tenant gives Herald (gateways, webhook endpoints, media) must pass."""

from __future__ import annotations

import unicodedata
from urllib.parse import SplitResult, urlsplit

import httpx


def requestable_http_url(text: str, *, example: str) -> SplitResult:
    """``text`` split, if it is an http(s) URL with a host and a valid port that an HTTP client
    can send requests to; otherwise ValueError saying what is wrong (pydantic names the
    field)."""
    # urlsplit drops tabs and line breaks without a word, and the client then refuses the URL.
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in text):
        raise ValueError("must not contain spaces or control characters")
    try:
        url = urlsplit(text)
    except ValueError as error:  # an IPv6 address without its closing bracket
        raise ValueError(f"is not a URL: {error}") from None
    try:
        url.port  # noqa: B018 (reading it checks it)
    except ValueError:
        raise ValueError("has an invalid port") from None
    if url.scheme not in {"http", "https"} or not url.hostname:
        raise ValueError(f"must be an http or https URL with a host, like {example}")
    try:
        # The client's own parse (host decoded, as every request does) finds what is left: an
        # IPv4 address past 255, a host name IDNA refuses …
        httpx.URL(text).host  # noqa: B018
    except (httpx.InvalidURL, ValueError) as error:
        raise ValueError(f"cannot be requested: {error}") from None
    return url


def checked_http_url(text: str, *, example: str, credentials_hint: str) -> SplitResult:
    """:func:`requestable_http_url`, without credentials in it."""
    url = requestable_http_url(text, example=example)
    if url.username is not None or url.password is not None:
        raise ValueError(f"must not hold credentials; {credentials_hint}")
    return url
