"""What a session health check found, as the senders keep it and the accounts store it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from herald_core.accounts.model import HealthStatus
from herald_core.attempt_plan import Route
from herald_gateways.failures import classify_transport_failure
from herald_gateways.interface import GatewayError, SessionHealth, SessionStatus
from herald_sender.gateway_directory import SessionAddress
from herald_sender.session_polling import (
    account_health,
    check_timeout,
    failed_check,
    health_status,
    health_writes,
    observed_health,
    stored_time,
)

CHECKED = datetime(2026, 5, 20, 12, 0, 0, 123000, tzinfo=UTC)


def test_every_gateway_status_has_its_account_health_status() -> None:
    for status in SessionStatus:
        assert health_status(status).value == status.value
    assert {health_status(s) for s in SessionStatus} == set(HealthStatus) - {HealthStatus.UNKNOWN}


def test_a_working_session_tells_the_paired_number() -> None:
    found = observed_health(SessionHealth(SessionStatus.WORKING, "WORKING", me_id="1555@c.us"))
    assert (found.status, found.detail, found.connected) == (
        SessionStatus.WORKING,
        "paired as 1555@c.us",
        True,
    )
    assert observed_health(SessionHealth(SessionStatus.WORKING, "open")).detail is None


def test_a_session_waiting_for_a_scan_says_so() -> None:
    found = observed_health(SessionHealth(SessionStatus.SCAN_QR_CODE, "SCAN_QR_CODE"))
    assert not found.connected
    assert found.detail is not None and "QR code" in found.detail


def test_the_gateways_own_word_is_kept_when_it_says_more() -> None:
    starting = observed_health(SessionHealth(SessionStatus.STARTING, "connecting"))
    assert (starting.status, starting.detail) == (
        SessionStatus.STARTING,
        "the gateway says connecting",
    )
    stopped = observed_health(SessionHealth(SessionStatus.STOPPED, "STOPPED"))
    assert (stopped.status, stopped.detail) == (SessionStatus.STOPPED, None)


def test_a_check_that_got_no_answer_is_failed_with_the_reason() -> None:
    unreachable = failed_check(classify_transport_failure(httpx.ConnectError("refused")))
    assert unreachable.status is SessionStatus.FAILED
    assert not unreachable.connected
    assert unreachable.detail is not None
    assert unreachable.detail.startswith("health check failed: gateway-unreachable")
    unauthorized = failed_check(GatewayError("gateway-unauthorized", "bad key", retryable=True))
    assert unauthorized.detail == "health check failed: gateway-unauthorized"
    assert failed_check(ValueError("no scheme")).status is SessionStatus.FAILED


def test_what_the_gateways_address_answered_is_not_in_the_detail() -> None:
    """The tenant reads the detail, and a base URL may point at anything: its answer's words
    stay out (the HTTP status says enough)."""
    answered = GatewayError("gateway-error", "root:x:0:0:secret", retryable=True, status_code=500)
    assert failed_check(answered).detail == (
        "health check failed: gateway-error: the gateway answered 500"
    )
    banner = classify_transport_failure(httpx.RemoteProtocolError("illegal status: SSH-2.0"))
    assert failed_check(banner).detail == (
        "health check failed: gateway-unreachable: no HTTP answer from the gateway"
    )


def test_a_gateway_that_cannot_serve_the_session_is_failed_with_what_to_fix() -> None:
    core = failed_check(
        GatewayError(
            "gateway-misconfigured",
            "WAHA Core (2024.10.8) serves only the session named 'default', not 'primary'",
            retryable=False,
        )
    )
    assert (core.status, core.misconfigured) == (SessionStatus.FAILED, True)
    assert core.detail is not None and "serves only the session named 'default'" in core.detail


def test_account_health_as_the_api_shows_it() -> None:
    found = observed_health(SessionHealth(SessionStatus.SCAN_QR_CODE, "SCAN_QR_CODE"))
    health = account_health(found, CHECKED)
    assert (health.status, health.checked_at) == (HealthStatus.SCAN_QR_CODE, CHECKED)


def test_stored_time_is_at_millisecond_precision() -> None:
    at = datetime(2026, 5, 20, 12, 0, 0, 123456, tzinfo=UTC)
    assert stored_time(at) == datetime(2026, 5, 20, 12, 0, 0, 123000, tzinfo=UTC)


def test_a_health_write_applies_only_to_the_checked_session_and_only_forward() -> None:
    address = SessionAddress("waha", "http://waha:3000", "sales", "sk")
    found = observed_health(SessionHealth(SessionStatus.WORKING, "WORKING"))
    selectors, update = health_writes(
        "acc_1",
        Route.FALLBACK,
        address,
        account_health(found, CHECKED),
        refresh_after=timedelta(seconds=15),
    )
    assert update == {
        "$set": {
            "sessions.fallback.health": {"status": "WORKING", "checkedAt": CHECKED, "detail": None}
        }
    }
    session = {
        "_id": "acc_1",
        "sessions.fallback.gateway": "waha",
        "sessions.fallback.baseUrl": "http://waha:3000",
        "sessions.fallback.session": "sales",
        "sessions.fallback.apiKey": "sk",
    }
    checked = "sessions.fallback.health.checkedAt"
    for selector in selectors:
        assert {k: v for k, v in selector.items() if k in session} == session
        # Plain conjunctions: SecantusDB scans the whole collection for any $or.
        assert not [key for key in selector if key.startswith("$")]
    stale, never_checked, changed_status, changed_detail = selectors
    assert stale[checked] == {"$lt": CHECKED, "$lte": CHECKED - timedelta(seconds=15)}
    assert never_checked[checked] is None
    assert changed_status[checked] == changed_detail[checked] == {"$lt": CHECKED}
    assert changed_status["sessions.fallback.health.status"] == {"$ne": "WORKING"}
    assert changed_detail["sessions.fallback.health.detail"] == {"$ne": None}


def test_a_check_waits_for_the_gateway_no_longer_than_a_poll_interval() -> None:
    assert check_timeout(gateway_timeout=30, interval=30) == 30
    assert check_timeout(gateway_timeout=30, interval=10) == 10
    assert check_timeout(gateway_timeout=30, interval=1) == 5
    assert check_timeout(gateway_timeout=2, interval=30) == 2
