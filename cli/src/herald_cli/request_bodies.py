"""The request bodies and queries the commands send, from their flags. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from herald_cli.api import Json


def create_request(
    *,
    name: str,
    body: str,
    delay_type: str | None = None,
    min_delay: float | None = None,
    max_delay: float | None = None,
    expires_at: datetime | None = None,
    valid_for: int | None = None,
    media: Json | None = None,
) -> Json:
    """The body of ``POST /api/campaigns`` from ``herald campaigns create``'s flags."""
    request: Json = {"name": name, "messageBody": body}
    if media is not None:
        request["media"] = media
    if delay_type:
        request["delayType"] = delay_type
    if min_delay is not None and max_delay is not None:
        request["customDelay"] = {"minSeconds": min_delay, "maxSeconds": max_delay}
    if expires_at is not None:
        request["expiresAt"] = expires_at.isoformat()
    if valid_for is not None:
        request["validForSeconds"] = valid_for
    return request


def schedule_request(
    *, at: datetime | None = None, cron: str | None = None, timezone: str | None = None
) -> Json | None:
    """The body of ``POST /api/campaigns/{id}/send``: None sends now."""
    if at is not None:
        return {"sendAt": at.isoformat()}
    if cron:
        schedule: Json = {"cron": cron}
        if timezone:
            schedule["timezone"] = timezone
        return schedule
    return None


def listing_query(*, limit: int, offset: int, **filters: str | None) -> dict[str, str | int]:
    """A page of a listing, with the filters that were given."""
    query: dict[str, str | int] = {"limit": limit, "offset": offset}
    query.update({name: value for name, value in filters.items() if value})
    return query


def media_request(source: str, mimetype: str | None, upload_id: str | None) -> Json:
    """A campaign's ``media``: the upload just made, or the URL as given (with its type)."""
    if upload_id is not None:
        return {"uploadId": upload_id}
    return {"url": source, "mimetype": mimetype}


def keyword_settings_request(
    current: Json,
    *,
    languages: list[str] | None = None,
    extra: Mapping[str, list[str] | None] | None = None,
    removed: list[str] | None = None,
    replies: Mapping[str, str | None] | None = None,
) -> Json:
    """The body of ``PUT /api/suppressions/keywords``: the ``current`` settings (as ``GET``
    answers them) with what was given in their place; None keeps a setting as it is. A list
    given is the whole new list, an empty string in it dropped (``--opt-out ''`` empties
    it); a reply given as an empty string is no reply."""
    body_extra = {name: list(words) for name, words in (current.get("extra") or {}).items()}
    for name, words in (extra or {}).items():
        if words is not None:
            body_extra[name] = _given(words)
    body_replies = dict(current.get("replies") or {})
    for name, reply in (replies or {}).items():
        if reply == "":
            body_replies.pop(name, None)
        elif reply is not None:
            body_replies[name] = reply
    body: Json = {"extra": body_extra, "replies": body_replies}
    for name, given in (("languages", languages), ("removed", removed)):
        value = _given(given) if given is not None else current.get(name)
        if value is not None:  # absent from both: the API's default
            body[name] = value
    return body


def _given(words: list[str]) -> list[str]:
    return [word for word in words if word]
