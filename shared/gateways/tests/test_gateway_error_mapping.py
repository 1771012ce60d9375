"""Every error each gateway documents, mapped to a reason and whether a retry may help."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from herald_gateways.failures import (
    classify_evolution_failure,
    classify_http_failure,
    classify_transport_failure,
    switches_route,
)

NOT_WORKING = "Session status is not as expected. Try again later or restart the session"


def evolution(status: int, message: Any) -> str:
    """Evolution's error body: ``{"status", "error", "response": {"message"}}``."""
    return json.dumps({"status": status, "error": "x", "response": {"message": message}})


CORE_ONLY = (
    "WAHA Core support only 'default' session. If you want to run more then one WhatsApp "
    "account - please get WAHA PLUS version. Check this out: https://waha.devlike.pro/"
)

WAHA_ANSWERS = [
    (  # WAHA validates nothing of sendText's body: only unparseable JSON is a 400
        400,
        {"statusCode": 400, "message": "Unexpected token b in JSON", "error": "Bad Request"},
        "body-rejected",
        False,
    ),
    (
        400,
        {"statusCode": 400, "message": ["url must be a URL address"], "error": "Bad Request"},
        "body-rejected",
        False,
    ),
    (
        422,
        {"statusCode": 422, "message": CORE_ONLY, "error": "Unprocessable Entity"},
        "gateway-misconfigured",
        False,
    ),
    (
        404,
        {
            "statusCode": 404,
            "message": "We didn't find a session with name 'default'.\nPlease start it first "
            "by using POST /api/sessions/default/start request",
            "error": "Not Found",
        },
        "session-not-connected",
        True,
    ),
    (
        400,
        {"statusCode": 400, "error": "text: is too long (70000 > 65536)"},
        "body-too-long",
        False,
    ),
    (401, {"message": "Unauthorized", "statusCode": 401}, "gateway-unauthorized", True),
    (403, {"message": "Forbidden", "statusCode": 403}, "gateway-unauthorized", True),
    (404, {"message": "Session not found", "error": "Not Found"}, "session-not-found", True),
    (413, {"message": "request entity too large"}, "body-too-long", False),
    (
        422,
        {"error": NOT_WORKING, "session": "default", "status": "STOPPED", "expected": ["WORKING"]},
        "session-not-connected",
        True,
    ),
    (429, {"statusCode": 429, "error": "Too Many Requests"}, "rate-limited", True),
    (500, {"statusCode": 500, "exception": {"message": "No LID for user"}}, "gateway-error", True),
    (502, "<html>Bad Gateway</html>", "gateway-error", True),
    (503, {"statusCode": 503}, "gateway-error", True),
    (504, {"statusCode": 504, "error": "Gateway timeout"}, "gateway-error", True),
    (409, {"statusCode": 409, "error": "Conflict"}, "rejected", False),
]


@pytest.mark.parametrize(("status", "body", "reason", "retryable"), WAHA_ANSWERS)
def test_waha_answers(status: int, body: Any, reason: str, retryable: bool) -> None:
    detail = body if isinstance(body, str) else json.dumps(body)
    error = classify_http_failure(status, detail)
    assert (error.reason, error.retryable) == (reason, retryable)


EVOLUTION_ANSWERS = [
    (
        400,
        [{"jid": "919876543210@s.whatsapp.net", "exists": False, "number": "919876543210"}],
        "invalid-recipient",
        False,
    ),
    (400, ['instance requires property "text"'], "body-rejected", False),
    (400, [['instance requires property "text"']], "body-rejected", False),  # nested, as seen
    (400, ["text is not of a type(s) string"], "body-rejected", False),
    (400, ["Text is required"], "body-rejected", False),
    (400, ["Error: Connection Closed"], "session-not-connected", True),
    (400, ['The "acc1" instance is not connected'], "session-not-connected", True),
    (400, ["Error: Timed Out"], "gateway-timeout", True),
    # Evolution wraps any failure after the send as 400: the message may be out, do not resend.
    (400, ["PrismaClientKnownRequestError: Invalid invocation"], "rejected", False),
    (401, "Unauthorized", "gateway-unauthorized", True),
    (403, ["Missing global api key"], "gateway-unauthorized", True),
    (404, ['The "primary" instance does not exist'], "session-not-found", True),
    (413, "request entity too large", "body-too-long", False),
    (429, "Too Many Requests", "rate-limited", True),
    (500, "Connection Closed", "session-not-connected", True),
    (500, "Cannot read properties of undefined (reading 'id')", "gateway-error", True),
    (503, None, "gateway-error", True),
]


@pytest.mark.parametrize(("status", "message", "reason", "retryable"), EVOLUTION_ANSWERS)
def test_evolution_answers(status: int, message: Any, reason: str, retryable: bool) -> None:
    error = classify_evolution_failure(status, evolution(status, message))
    assert (error.reason, error.retryable) == (reason, retryable)


@pytest.mark.parametrize(
    ("status", "body", "reason", "retryable"),
    [
        (502, "<html>Bad Gateway</html>", "gateway-error", True),  # a proxy in front
        (400, "Bad Request", "rejected", False),
        (401, "", "gateway-unauthorized", True),
        (  # whatsappNumbers on a closed instance: Baileys' Boom error as it is
            400,
            json.dumps(
                {
                    "data": None,
                    "isBoom": True,
                    "isServer": False,
                    "output": {
                        "statusCode": 428,
                        "payload": {
                            "statusCode": 428,
                            "error": "Precondition Required",
                            "message": "Connection Closed",
                        },
                        "headers": {},
                    },
                }
            ),
            "session-not-connected",
            True,
        ),
    ],
)
def test_evolution_answers_without_its_json(
    status: int, body: str, reason: str, retryable: bool
) -> None:
    error = classify_evolution_failure(status, body)
    assert (error.reason, error.retryable) == (reason, retryable)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (httpx.ConnectTimeout("connect"), "gateway-timeout"),
        (httpx.ReadTimeout("read"), "gateway-timeout"),
        (httpx.WriteTimeout("write"), "gateway-timeout"),
        (httpx.PoolTimeout("pool"), "gateway-timeout"),
        (httpx.ConnectError("refused"), "gateway-unreachable"),
        (httpx.ReadError("reset"), "gateway-unreachable"),
        (httpx.RemoteProtocolError("closed mid-answer"), "gateway-unreachable"),
    ],
)
def test_transport_failures_of_either_gateway(failure: Exception, reason: str) -> None:
    error = classify_transport_failure(failure)
    assert (error.reason, error.retryable) == (reason, True)


def test_a_misconfigured_gateway_is_neither_retried_nor_routed_around_as_if_transient() -> None:
    error = classify_http_failure(422, json.dumps({"statusCode": 422, "message": CORE_ONLY}))
    assert (error.reason, error.retryable, switches_route(error)) == (
        "gateway-misconfigured",
        False,
        False,
    )
    assert "name the account's session 'default'" in error.detail


def test_disconnected_evolution_instance_switches_engine_like_waha_422() -> None:
    assert switches_route(classify_evolution_failure(500, evolution(500, "Connection Closed")))
    assert switches_route(classify_http_failure(422, NOT_WORKING))
    assert switches_route(classify_evolution_failure(429, evolution(429, "slow down")))
