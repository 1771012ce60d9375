"""Times and durations as people read them."""

from __future__ import annotations

from datetime import datetime


def short_time(value: object) -> str:
    """An API time (ISO 8601) as ``2026-11-29 21:06:03``, in the offset it came in."""
    if not isinstance(value, str) or not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    offset = moment.strftime("%z")
    return f"{text}Z" if offset in ("+0000", "") else f"{text}{offset[:3]}:{offset[3:]}"


def ago(value: object, now: datetime) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``; ``never`` when there is no time."""
    if not isinstance(value, str) or not value:
        return "never"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    seconds = max((now - moment).total_seconds(), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def duration(seconds: float) -> str:
    """``0:42``, ``12:05``, ``1:02:03``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
