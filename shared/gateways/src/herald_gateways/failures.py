"""Classifying a gateway's answer as retryable or permanent, in one place. Pure.

Retryable: timeouts, connection errors, 5xx, session not connected, 429 (rate limited), and
what an operator fixes without touching the message (wrong API key, unknown session).
Permanent: body rejected, other 4xx that retrying cannot fix, and a gateway set up so that it
can never serve the session (``gateway-misconfigured``: the operator fixes it, then redrives).

Classified from what the gateways really answer (their sources, and the real gateways run in
``tests/real_gateways``; bodies in ``tests/real_gateways/fixtures``):

WAHA (``classify_http_failure``), NestJS answers:
- 422 ``{"error": "Session status is not as expected…", "session", "status", "expected"}``
  after waiting 5 s for the session to be WORKING: session not connected;
- 422 ``{"statusCode": 422, "message": "WAHA Core support only 'default' session…"}``: WAHA
  Core serves only the session ``default``: misconfigured, not transient;
- 422 ``"The feature is available only in Plus version…"`` (``AvailableInPlusVersion``: Core's
  sendImage and sendFile) and ``"The method is not implemented by the engine."`` (Core's
  sendVideo): this gateway cannot do it at all, on a WORKING session (a session that is not
  WORKING gets the 422 above first): ``not-supported-by-gateway``;
- 400 ``{"statusCode": 400, "message", "error": "Bad Request"}``: the body could not be parsed
  or validated (WAHA names no field, and does not check recipients: sendText answers 201 for a
  number not on WhatsApp, which ``Gateway.check_numbers`` catches before sending);
- 404 ``We didn't find a session with name 'x'. Please start it first…`` on sends and
  check-exists: the session exists but is STOPPED (not connected); any other 404 an unknown
  session (``Session not found``);
- 401 and 403 a wrong ``X-Api-Key`` (Plus only: Core does not check it), 429, 5xx
  ``{"statusCode": 500, "exception": …}``.

Evolution API (``classify_evolution_failure``): ``{"status", "error", "response": {"message"}}``;
400 with ``[{"jid", "exists": false, "number"}]`` is a number not on WhatsApp, 400 with a
validation message (``instance requires property "text"``, ``Text is required``, sendMedia's
``Owned media must be a url or base64``, ``For base64 the file name must be informed.``,
``mediatype is not one of enum values``) a rejected body, 500 with Baileys' ``Connection
Closed`` (sendText's, and sendMedia's ``["Error: Connection Closed"]``), 400 ``The "x" instance
is not connected`` (a logged-out instance) and a raw Boom object (``{"output": {"statusCode":
428}}``, Connection Closed: whatsappNumbers on a closed instance) a session that is not
connected, 400 with ``Timed Out`` a timeout; 401 wrong ``apikey``, 404 unknown instance; other
400s wrap a failure after the send may have happened, so they are permanent (a retry could
send twice). sendMedia's 500 for a media URL Evolution could not fetch (``getaddrinfo …``,
``fetch failed``, ``AxiosError …``) stays a retryable gateway error.
"""

from __future__ import annotations

import json
from typing import Any

from herald_gateways.interface import GatewayError

SESSION_NOT_CONNECTED = "session-not-connected"
RATE_LIMITED = "rate-limited"
GATEWAY_ERROR = "gateway-error"
GATEWAY_TIMEOUT = "gateway-timeout"
GATEWAY_UNREACHABLE = "gateway-unreachable"
GATEWAY_UNAUTHORIZED = "gateway-unauthorized"
SESSION_NOT_FOUND = "session-not-found"
INVALID_RECIPIENT = "invalid-recipient"
NOT_ON_WHATSAPP = "not-on-whatsapp"
"""Not a send's failure: the gateway's number check (``Gateway.check_numbers``) said the number
is not on WhatsApp, so it was never sent; permanent, and no other route would do better."""
BODY_TOO_LONG = "body-too-long"
BODY_REJECTED = "body-rejected"
REJECTED = "rejected"
NOT_SUPPORTED_BY_GATEWAY = "not-supported-by-gateway"
"""The gateway cannot do this at all (WAHA Core and media: a Plus feature; an engine without
sendVideo): permanent for this gateway (never repeated on it, no circuit counts it), but
``switches_route``: another route, on another gateway or engine, may do it."""
GATEWAY_MISCONFIGURED = "gateway-misconfigured"
"""The gateway can never serve this session as configured (WAHA Core and a session not named
``default``): permanent; the account's health shows it; fix the account, then redrive."""
WEBHOOK_SETUP_REFUSED = "webhook-setup-refused"
"""Not a send's failure: the gateway would not take the session's webhook settings (its tier or
version); the detail says what the operator must set up by hand."""
CIRCUIT_OPEN = "circuit-open"
"""Not a gateway answer: the engine's circuit for the account is open, so it was not called."""
OUTCOME_UNKNOWN = "outcome-unknown"
"""Not a gateway answer: a claim's lease ran out without an outcome (the sender died)."""
ACCOUNT_DISABLED = "account-disabled"
"""Not a gateway answer: the message's sender account was disabled after it was queued."""
ACCOUNT_NOT_FOUND = "account-not-found"
"""Not a gateway answer: the message names a sender account that does not exist (any more)."""

# Failures that say "this engine, not this message": the next attempt goes to the other engine
# at once (seed: "Rate limited → Move to Web.js fallback").
_ROUTE_TROUBLE = frozenset({RATE_LIMITED, SESSION_NOT_CONNECTED, CIRCUIT_OPEN})
# Failures that say "this gateway can never do it": permanent here, another route may.
_ROUTE_CANNOT = frozenset({NOT_SUPPORTED_BY_GATEWAY})


def switches_route(error: GatewayError) -> bool:
    """Whether the next attempt should skip to another engine rather than repeat this one.

    For a retryable error: go to the other route now rather than repeat this one. For a
    permanent one (``not-supported-by-gateway``): this route must never be tried again for
    the message, but another route may still do it; with no later step on another route, the
    message fails. Permanent errors that do not switch route fail the message at once."""
    return error.reason in _ROUTE_TROUBLE or error.reason in _ROUTE_CANNOT


def circuit_open(account_id: str, engine: str) -> GatewayError:
    return GatewayError(
        CIRCUIT_OPEN, f"the {engine} circuit of account {account_id} is open", retryable=True
    )


def session_not_connected(session: str, status: str, detail: str | None) -> GatewayError:
    """The error of a send not attempted because the last health check found the session not
    connected (seed: "Check Session Connected"): the same reason as the gateway's own refusal,
    so it is routed the same way (retryable; the circuit opens at once)."""
    known = f" ({detail})" if detail else ""
    return GatewayError(
        SESSION_NOT_CONNECTED,
        f"session {session} was {status} at its last health check{known}; gateway not called",
        retryable=True,
    )


def account_disabled(account_id: str) -> GatewayError:
    """A queued message of a disabled account: not sent on any engine, and not retried by the
    plan or the hourly redrive; an operator redrives it once the account is enabled again."""
    return GatewayError(
        ACCOUNT_DISABLED,
        f"sender account {account_id} is disabled; enable it and redrive the message",
        retryable=False,
    )


def account_not_found(account_id: str) -> GatewayError:
    """A message whose sender account does not exist: sending it from another number would
    surprise the recipient, so it fails (redrivable once the account exists again)."""
    return GatewayError(
        ACCOUNT_NOT_FOUND, f"sender account {account_id} does not exist", retryable=False
    )


WAHA_CORE_ONLY_DEFAULT = "support only 'default' session"
"""WAHA Core's words for a session name other than ``default`` (``OnlyDefaultSessionIsAllowed``)."""
WAHA_NOT_STARTED = "please start it first"
WAHA_PLUS_ONLY = "available only in plus"
"""WAHA Core's words for a Plus feature (``AvailableInPlusVersion``: sendImage, sendFile)."""
WAHA_NOT_IMPLEMENTED = "not implemented by the engine"
"""WAHA's words for a route its engine lacks (``NotImplementedByEngineError``: Core's sendVideo)."""
"""WAHA's 404 for a session that exists but is stopped (sends, check-exists, QR)."""


def classify_http_failure(status: int, detail: str) -> GatewayError:
    """The error for a non-2xx WAHA answer (the simulator's too); ``detail``: its body."""
    lowered = detail.lower()
    if status == 429:
        return GatewayError(RATE_LIMITED, detail, retryable=True)
    if status >= 500:
        return GatewayError(GATEWAY_ERROR, detail, retryable=True)
    if WAHA_CORE_ONLY_DEFAULT in lowered:
        return GatewayError(
            GATEWAY_MISCONFIGURED,
            "WAHA Core serves only the session named 'default': name the account's session "
            f"'default', or run WAHA Plus ({detail})",
            retryable=False,
        )
    if status == 422 and (WAHA_PLUS_ONLY in lowered or WAHA_NOT_IMPLEMENTED in lowered):
        return GatewayError(
            NOT_SUPPORTED_BY_GATEWAY,
            f"this WAHA cannot do it (its tier or engine): {detail}; WAHA Plus sends media",
            retryable=False,
        )
    if status == 422 or "session status" in lowered or "not connected" in lowered:
        return GatewayError(SESSION_NOT_CONNECTED, detail, retryable=True)
    if status in (401, 403):
        # A wrong API key is the operator's to fix; the message itself is fine.
        return GatewayError(GATEWAY_UNAUTHORIZED, detail, retryable=True)
    if status == 404 and WAHA_NOT_STARTED in lowered:
        return GatewayError(SESSION_NOT_CONNECTED, detail, retryable=True)
    if status == 404:
        return GatewayError(SESSION_NOT_FOUND, detail, retryable=True)
    if status == 413 or "too long" in lowered or "too large" in lowered:
        return GatewayError(BODY_TOO_LONG, detail, retryable=False)
    if status == 400:
        return GatewayError(BODY_REJECTED, detail, retryable=False)
    return GatewayError(REJECTED, f"HTTP {status}: {detail}", retryable=False)


# Baileys' words for a socket that is not (or no longer) connected to WhatsApp.
_DISCONNECTED = (
    "connection closed",
    "connection terminated",
    "connection lost",
    "instance is not connected",  # Evolution's own check, on a logged-out instance
)
# Evolution's validation messages (its JSON schema and its own checks) for a bad body.
_BODY_INVALID = (
    "requires property",
    "is not of a type",
    "is not one of enum values",
    "invalid format",
    "text is required",
    "cannot be empty",
    "must be a url or base64",  # sendMedia: neither (Evolution's isURL wants a TLD or an IP)
    "file name must be informed",  # sendMedia: a base64 document without fileName
)


def classify_evolution_failure(status: int, detail: str) -> GatewayError:
    """The error for a non-2xx Evolution API answer; ``detail``: its body."""
    messages = _evolution_messages(detail)
    lowered = " ".join(m for m in messages if isinstance(m, str)).lower() or detail.lower()
    boom = _json_field(detail, "output")  # a raw Boom error Evolution passed through as it was
    if isinstance(boom, dict) and boom.get("statusCode") == 428:  # Baileys: Connection Closed
        return GatewayError(SESSION_NOT_CONNECTED, detail, retryable=True)
    if status == 429:  # Evolution has no limiter of its own; a proxy in front may
        return GatewayError(RATE_LIMITED, detail, retryable=True)
    if any(isinstance(m, dict) and m.get("exists") is False for m in messages):
        return GatewayError(INVALID_RECIPIENT, detail, retryable=False)
    if any(words in lowered for words in _DISCONNECTED):
        return GatewayError(SESSION_NOT_CONNECTED, detail, retryable=True)
    if status >= 500:
        return GatewayError(GATEWAY_ERROR, detail, retryable=True)
    if "timed out" in lowered:
        return GatewayError(GATEWAY_TIMEOUT, detail, retryable=True)
    if status in (401, 403):
        return GatewayError(GATEWAY_UNAUTHORIZED, detail, retryable=True)
    if status == 404:
        return GatewayError(SESSION_NOT_FOUND, detail, retryable=True)
    if status == 413 or "too long" in lowered or "too large" in lowered:
        return GatewayError(BODY_TOO_LONG, detail, retryable=False)
    if any(words in lowered for words in _BODY_INVALID):
        return GatewayError(BODY_REJECTED, detail, retryable=False)
    return GatewayError(REJECTED, f"HTTP {status}: {detail}", retryable=False)


def classify_transport_failure(error: Exception) -> GatewayError:
    """The error for a request that got no answer (timeout, refused connection)."""
    name = type(error).__name__
    reason = GATEWAY_TIMEOUT if "Timeout" in name else GATEWAY_UNREACHABLE
    return GatewayError(reason, f"{name}: {error}", retryable=True)


_WITHOUT_ANSWER = {
    GATEWAY_UNREACHABLE: "no HTTP answer from the gateway",
    GATEWAY_TIMEOUT: "the gateway did not answer in time",
}
_ANSWER_HINTS = {
    GATEWAY_MISCONFIGURED: " (WAHA Core serves only the session named 'default')",
}
# Errors Herald words itself, never with what a gateway answered.
_HERALD_WORDED = frozenset(
    {GATEWAY_MISCONFIGURED, CIRCUIT_OPEN, OUTCOME_UNKNOWN, ACCOUNT_DISABLED, ACCOUNT_NOT_FOUND}
)


def fixed_form(error: GatewayError) -> str:
    """What a tenant may be shown of a gateway failure: its reason and a fixed-form cause (the
    HTTP status the gateway answered, or that it gave none), never the gateway's own words. A
    tenant's gateway URL may point anywhere, so its answer, or a transport error quoting the
    bytes that came back, could be anything (a banner, another service's page)."""
    if error.status_code is not None:
        hint = _ANSWER_HINTS.get(error.reason, "")
        return f"{error.reason}: the gateway answered {error.status_code}{hint}"
    if error.reason in _WITHOUT_ANSWER:
        return f"{error.reason}: {_WITHOUT_ANSWER[error.reason]}"
    if error.reason in _HERALD_WORDED:
        return f"{error.reason}: {error.detail}"
    return error.reason


def _json_field(detail: str, key: str) -> Any:
    try:
        body = json.loads(detail)
    except ValueError:
        return None
    return body.get(key) if isinstance(body, dict) else None


def _evolution_messages(detail: str) -> list[Any]:
    """The items of ``response.message`` (a string, a list, or lists of lists), flattened."""
    response = _json_field(detail, "response")
    pending: list[Any] = [response.get("message")] if isinstance(response, dict) else []
    flat: list[Any] = []
    while pending:
        item = pending.pop(0)
        if isinstance(item, list):
            pending[:0] = item
        elif item is not None:
            flat.append(item)
    return flat
