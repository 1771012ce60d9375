"""The one error type the pure modules raise; the routes turn it into a JSON response."""

from __future__ import annotations

from typing import Any


class SimError(Exception):
    """An error answered as ``{"statusCode": status, "error": message, ...extra}``."""

    def __init__(self, status: int, message: str, /, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"statusCode": self.status, "error": self.message, **self.extra}


def bad_request(field: str, message: str) -> SimError:
    """A 400 naming the offending field."""
    return SimError(400, f"{field}: {message}", field=field)
