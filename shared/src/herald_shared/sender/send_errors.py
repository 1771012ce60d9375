"""Classifying a gateway's answer as retryable or permanent, in one place. Pure."""

from __future__ import annotations

from herald_shared.sender.gateway import GatewayError

SESSION_NOT_CONNECTED = "session-not-connected"
RATE_LIMITED = "rate-limited"


def classify_http_failure(status: int, detail: str) -> GatewayError:
    """The error for a non-2xx gateway answer."""
    lowered = detail.lower()
    if status == 429:
        return GatewayError(RATE_LIMITED, detail, retryable=True)
    if status >= 500:
        return GatewayError("gateway-error", detail, retryable=True)
    if status == 422 or "session status" in lowered or "not connected" in lowered:
        return GatewayError(SESSION_NOT_CONNECTED, detail, retryable=True)
    if status in (401, 403):
        # A wrong API key is the operator's to fix; the message itself is fine.
        return GatewayError("gateway-unauthorized", detail, retryable=True)
    if status == 404:
        return GatewayError("session-not-found", detail, retryable=True)
    if status == 413 or "too long" in lowered:
        return GatewayError("body-too-long", detail, retryable=False)
    if status == 400:
        return GatewayError("invalid-recipient", detail, retryable=False)
    return GatewayError("rejected", f"HTTP {status}: {detail}", retryable=False)


def classify_transport_failure(error: Exception) -> GatewayError:
    """The error for a request that got no answer (timeout, refused connection)."""
    name = type(error).__name__
    reason = "gateway-timeout" if "Timeout" in name else "gateway-unreachable"
    return GatewayError(reason, f"{name}: {error}", retryable=True)
