"""The request bodies and queries the commands send, from their flags. Pure."""

from __future__ import annotations

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
