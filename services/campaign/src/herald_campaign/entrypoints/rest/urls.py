"""The checks every URL a tenant gives Herald (gateways, webhook endpoints) must pass."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit


def checked_http_url(text: str, *, example: str, credentials_hint: str) -> SplitResult:
    """``text`` split, if it is an http(s) URL with a host, a valid port and no credentials;
    otherwise ValueError saying what is wrong (pydantic names the field)."""
    url = urlsplit(text)
    try:
        url.port  # noqa: B018 (reading it checks it)
    except ValueError:
        raise ValueError("has an invalid port") from None
    if url.scheme not in {"http", "https"} or not url.hostname:
        raise ValueError(f"must be an http or https URL with a host, like {example}")
    if url.username is not None or url.password is not None:
        raise ValueError(f"must not hold credentials; {credentials_hint}")
    return url
