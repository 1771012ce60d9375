"""Webhook notifications, the pure parts: the signature a receiver checks, the back-off
schedule, which events notify, the body's shape, and what an attempt leads to."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from herald_campaign.domain.notifications.attempts import (
    AttemptResult,
    DeliveryStatus,
    outcome_of_attempt,
)
from herald_campaign.domain.notifications.backoff import RetrySchedule
from herald_campaign.domain.notifications.payloads import (
    NotificationType,
    delivery_id,
    notification_body,
    notification_of,
    notification_type_of,
    ping_notification,
)
from herald_campaign.domain.notifications.signing import (
    new_signing_secret,
    signature,
    signature_matches,
)
from herald_campaign.entrypoints.rest.notification_schemas import CreateNotificationEndpointRequest
from herald_core.contracts.events import (
    CampaignCancelled,
    CampaignCompleted,
    CampaignFailed,
    CampaignLaunched,
    CampaignPaused,
    CampaignResumed,
)

AT = datetime(2026, 5, 20, 10, 0, 0, 123456, tzinfo=UTC)

# The signature


def receiver_accepts(body: bytes, secret: str, header: str) -> bool:
    """What docs/lifecycle-and-schedules.md tells a receiver to do, without Herald's code."""
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def test_signature_is_the_hmac_sha256_of_the_exact_body_with_the_secret() -> None:
    body = b'{"id":"ntd_1","type":"campaign.completed"}'
    secret = "3f1c9a"
    header = signature(body, secret)
    assert header == ("sha256=" + hmac.new(b"3f1c9a", body, hashlib.sha256).hexdigest())
    assert receiver_accepts(body, secret, header)
    assert signature_matches(body, secret, header)


def test_signature_does_not_verify_a_changed_body_another_secret_or_a_bare_digest() -> None:
    body = b'{"id":"ntd_1","data":{"counts":{"sent":10}}}'
    header = signature(body, "right-secret")
    assert not signature_matches(body.replace(b"10", b"11"), "right-secret", header)
    assert not signature_matches(body, "wrong-secret", header)
    assert not signature_matches(body, "right-secret", header.removeprefix("sha256="))
    assert not signature_matches(body, "right-secret", None)
    assert not receiver_accepts(body + b" ", "right-secret", header)


def test_each_endpoint_gets_its_own_long_random_secret() -> None:
    secrets = {new_signing_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(s) == 64 and int(s, 16) >= 0 for s in secrets)


# The back-off schedule


def test_backoff_doubles_from_the_configured_first_delay() -> None:
    schedule = RetrySchedule(first_delay_seconds=2.0, max_attempts=8)
    assert schedule.nominal_delays() == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
    assert [schedule.retries_after(n) for n in range(1, 9)] == [True] * 7 + [False]


def test_backoff_jitter_only_lengthens_a_delay_by_at_most_a_tenth() -> None:
    schedule = RetrySchedule(first_delay_seconds=2.0, max_attempts=8)
    assert schedule.delay_after(3, 0.0) == 8.0
    assert schedule.delay_after(3, 0.5) == pytest.approx(8.4)
    assert 8.0 <= schedule.delay_after(3, 0.999999) < 8.8
    with pytest.raises(ValueError):
        schedule.delay_after(3, 1.0)


def test_backoff_is_capped_and_never_overflows() -> None:
    schedule = RetrySchedule(first_delay_seconds=30.0, max_attempts=1000, max_delay_seconds=3600)
    assert schedule.nominal_delay(7) == 1920.0
    assert schedule.nominal_delay(8) == 3600.0
    assert schedule.nominal_delay(999) == 3600.0


def test_one_attempt_means_no_retry() -> None:
    assert RetrySchedule(first_delay_seconds=1.0, max_attempts=1).nominal_delays() == []


@pytest.mark.parametrize(("first", "attempts"), [(0.0, 3), (-1.0, 3), (1.0, 0)])
def test_a_schedule_that_cannot_work_is_refused(first: float, attempts: int) -> None:
    with pytest.raises(ValueError):
        RetrySchedule(first_delay_seconds=first, max_attempts=attempts)


# What an attempt leads to

SCHEDULE = RetrySchedule(first_delay_seconds=2.0, max_attempts=3)


@pytest.mark.parametrize("code", [200, 201, 202, 204, 299])
def test_a_2xx_answer_delivers(code: int) -> None:
    outcome = outcome_of_attempt(AttemptResult.answered(code, "OK"), 2, SCHEDULE, AT, 0.5)
    assert outcome.status is DeliveryStatus.DELIVERED
    assert (outcome.attempt, outcome.status_code, outcome.error) == (2, code, None)
    assert outcome.next_attempt_at is None


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (AttemptResult.answered(500, "Internal Server Error"), "HTTP 500 Internal Server Error"),
        (AttemptResult.answered(302, "Found"), "HTTP 302 Found"),
        (AttemptResult.answered(404, "Not Found"), "HTTP 404 Not Found"),
        (AttemptResult.no_answer("no answer within 10s"), "no answer within 10s"),
        (AttemptResult.no_answer("request failed: connection refused"), None),
    ],
)
def test_anything_else_is_retried_after_the_backoff(result: AttemptResult, error: str) -> None:
    outcome = outcome_of_attempt(result, 2, SCHEDULE, AT, 0.0)
    assert outcome.status is DeliveryStatus.RETRYING
    assert outcome.next_attempt_at == AT + timedelta(seconds=4)
    assert outcome.status_code == result.status_code
    assert outcome.error == (error or result.error)


def test_the_last_attempt_fails_for_good() -> None:
    result = AttemptResult.answered(503, "Service Unavailable")
    outcome = outcome_of_attempt(result, 3, SCHEDULE, AT, 0.0)
    assert outcome.status is DeliveryStatus.FAILED
    assert outcome.next_attempt_at is None
    assert outcome.error == "HTTP 503 Service Unavailable"


def test_a_long_error_is_cut() -> None:
    assert len(AttemptResult.no_answer("x" * 5000).error or "") == 300


# Which events notify


def completed() -> CampaignCompleted:
    return CampaignCompleted(
        event_id="evt-1",
        occurred_at=AT,
        tenant_id="tenant-a",
        campaign_id="cmp_1",
        run=2,
        counts={"total": 3, "sent": 2, "failed": 1},
    )


def test_completed_failed_and_system_pauses_notify() -> None:
    failed = CampaignFailed(
        tenant_id="t", campaign_id="c", counts={"failed": 3}, reason="every message failed"
    )
    system_pause = CampaignPaused(tenant_id="t", campaign_id="c", by="system", reason="80% failed")
    assert notification_type_of(completed()) is NotificationType.CAMPAIGN_COMPLETED
    assert notification_type_of(failed) is NotificationType.CAMPAIGN_FAILED
    assert notification_type_of(system_pause) is NotificationType.CAMPAIGN_PAUSED


def test_a_users_own_pause_and_other_events_do_not_notify() -> None:
    for event in (
        CampaignPaused(tenant_id="t", campaign_id="c", by="user"),
        CampaignResumed(tenant_id="t", campaign_id="c"),
        CampaignCancelled(tenant_id="t", campaign_id="c", cancelled_messages=4),
        CampaignLaunched(tenant_id="t", campaign_id="c"),
    ):
        assert notification_of(event) is None, event.type


# The body


def test_body_shape_is_the_documented_envelope_with_the_events_own_fields() -> None:
    notification = notification_of(completed())
    assert notification is not None
    body = notification_body(notification, "ntd_abc")
    assert json.loads(body) == {
        "id": "ntd_abc",
        "type": "campaign.completed",
        "occurredAt": "2026-05-20T10:00:00.123Z",
        "tenantId": "tenant-a",
        "campaignId": "cmp_1",
        "data": {"run": 2, "counts": {"total": 3, "sent": 2, "failed": 1}},
    }
    assert body == notification_body(notification, "ntd_abc"), "the same bytes every time"
    assert b" " not in body and body.isascii()


def test_body_data_is_camel_case_and_keeps_the_pause_reason() -> None:
    paused = CampaignPaused(
        tenant_id="t", campaign_id="c", by="system", reason="déjà 80% failed", occurred_at=AT
    )
    notification = notification_of(paused)
    assert notification is not None
    decoded = json.loads(notification_body(notification, "ntd_x"))
    assert decoded["type"] == "campaign.paused"
    assert decoded["data"] == {"by": "system", "reason": "déjà 80% failed"}

    failed = CampaignFailed(
        tenant_id="t", campaign_id="c", counts={"expired": 2}, reason="all expired"
    )
    failed_notification = notification_of(failed)
    assert failed_notification is not None
    assert failed_notification.data == {"run": 1, "counts": {"expired": 2}, "reason": "all expired"}


def test_ping_body_names_the_endpoint_and_no_campaign() -> None:
    ping = ping_notification("tenant-a", "ne_1", "ping_1", AT)
    decoded = json.loads(notification_body(ping, delivery_id(ping.event_id, "ne_1")))
    assert decoded["type"] == "ping"
    assert decoded["campaignId"] is None
    assert decoded["data"]["endpointId"] == "ne_1"


def test_delivery_ids_are_stable_per_event_and_endpoint() -> None:
    assert delivery_id("evt-1", "ne_1") == delivery_id("evt-1", "ne_1")
    assert delivery_id("evt-1", "ne_1") != delivery_id("evt-1", "ne_2")
    assert delivery_id("evt-1", "ne_1") != delivery_id("evt-2", "ne_1")
    assert delivery_id("evt-1", "ne_1").startswith("ntd_")


# The endpoint request


def request(**fields: object) -> CreateNotificationEndpointRequest:
    body = {"url": "https://hooks.example.com/herald", "events": ["campaign.completed"], **fields}
    return CreateNotificationEndpointRequest.model_validate(body)


def field_of(error: ValidationError) -> str:
    return ".".join(str(p) for p in error.errors()[0]["loc"])


def test_a_valid_endpoint_request_keeps_each_event_once() -> None:
    draft = request(
        url=" http://127.0.0.1:8080/hook?source=herald ",
        events=["campaign.failed", "campaign.paused", "campaign.failed"],
        description="ops",
    ).draft()
    assert draft.url == "http://127.0.0.1:8080/hook?source=herald"
    assert draft.events == (NotificationType.CAMPAIGN_FAILED, NotificationType.CAMPAIGN_PAUSED)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "https://"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://user:pw@example.com/hook"}, "url"),
        ({"url": "https://example.com:99999/hook"}, "url"),
        ({"events": []}, "events"),
        ({"events": ["campaign.launched"]}, "events.0"),
        ({"description": "   "}, "description"),
        ({"secret": "mine"}, "secret"),
    ],
)
def test_a_bad_endpoint_request_names_the_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        request(**fields)
    assert field_of(refused.value) == field
