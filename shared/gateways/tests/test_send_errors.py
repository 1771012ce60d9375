import httpx
import pytest

from herald_gateways.failures import classify_http_failure, classify_transport_failure
from herald_gateways.waha import chat_id, gateway_message_id


@pytest.mark.parametrize(
    ("status", "detail", "reason", "retryable"),
    [
        (429, "slow down", "rate-limited", True),
        (500, "boom", "gateway-error", True),
        (503, "unavailable", "gateway-error", True),
        (422, "Session status is not as expected", "session-not-connected", True),
        (401, "bad key", "gateway-unauthorized", True),
        (404, "session not found", "session-not-found", True),
        (400, '{"statusCode": 400, "error": "Bad Request"}', "body-rejected", False),
        (400, "text: too long", "body-too-long", False),
        (413, "payload", "body-too-long", False),
        (409, "conflict", "rejected", False),
    ],
)
def test_http_failures_are_classified(
    status: int, detail: str, reason: str, retryable: bool
) -> None:
    error = classify_http_failure(status, detail)
    assert (error.reason, error.retryable) == (reason, retryable)


def test_transport_failures_are_retryable() -> None:
    timeout = classify_transport_failure(httpx.ReadTimeout("slow"))
    refused = classify_transport_failure(httpx.ConnectError("refused"))
    assert (timeout.reason, timeout.retryable) == ("gateway-timeout", True)
    assert (refused.reason, refused.retryable) == ("gateway-unreachable", True)


def test_message_id_from_each_engine_shape() -> None:
    noweb = {"key": {"remoteJid": "1@c.us", "fromMe": True, "id": "3EB0ABC"}}
    webjs = {"id": {"fromMe": True, "id": "3EB0DEF", "_serialized": "true_1@c.us_3EB0DEF"}}
    gows = {"id": "true_1@c.us_3EB0F00", "_data": {"Info": {"ID": "3EB0F00"}}}
    assert gateway_message_id(noweb) == "3EB0ABC"
    assert gateway_message_id(webjs) == "3EB0DEF"
    assert gateway_message_id(gows) == "3EB0F00"
    assert gateway_message_id({"id": "plain"}) == "plain"
    assert gateway_message_id({}) is None
    assert gateway_message_id(None) is None


def test_chat_id_of_an_e164_number() -> None:
    assert chat_id("+919876543210") == "919876543210@c.us"


def test_engine_trouble_switches_engine_and_message_trouble_does_not() -> None:
    from herald_gateways.failures import circuit_open, switches_route

    assert switches_route(classify_http_failure(429, "slow down"))
    assert switches_route(classify_http_failure(422, "session status is not WORKING"))
    assert switches_route(circuit_open("acct", "baileys"))
    assert not switches_route(classify_http_failure(500, "boom"))
    assert not switches_route(classify_http_failure(400, "Bad Request"))
