"""Classifying a gateway's answer as retryable or permanent, in one place. Pure."""

from __future__ import annotations

from herald_shared.sender.gateway import GatewayError

SESSION_NOT_CONNECTED = "session-not-connected"
RATE_LIMITED = "rate-limited"
CIRCUIT_OPEN = "circuit-open"
"""Not a gateway answer: the engine's circuit for the account is open, so it was not called."""
OUTCOME_UNKNOWN = "outcome-unknown"
"""Not a gateway answer: a claim's lease ran out without an outcome (the sender died)."""

# Failures that say "this engine, not this message": the next attempt goes to the other engine
# at once (seed: "Rate limited → Move to Web.js fallback").
_ENGINE_TROUBLE = frozenset({RATE_LIMITED, SESSION_NOT_CONNECTED, CIRCUIT_OPEN})


def switches_engine(error: GatewayError) -> bool:
    """Whether the next attempt should skip to another engine rather than repeat this one."""
    return error.reason in _ENGINE_TROUBLE


def circuit_open(account_id: str, engine: str) -> GatewayError:
    return GatewayError(
        CIRCUIT_OPEN, f"the {engine} circuit of account {account_id} is open", retryable=True
    )


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
