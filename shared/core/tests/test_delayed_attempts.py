from datetime import UTC, datetime, timedelta

import pytest

from herald_core.messages.delayed_attempts import (
    DUE_TIMESTAMP,
    TARGET_TOPIC,
    InvalidDelayHeaders,
    delayed_attempt_headers,
    read_delayed_attempt,
)


def test_headers_round_trip_target_and_due_time() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    headers = delayed_attempt_headers(
        target_topic="message.send.fallback", due_at=now + timedelta(seconds=60), attempt=3
    )
    encoded = {k: v.encode() for k, v in headers.items()}
    delayed = read_delayed_attempt(encoded)
    assert delayed.target_topic == "message.send.fallback"
    assert delayed.wait_seconds(now) == pytest.approx(60)
    assert delayed.wait_seconds(now + timedelta(seconds=61)) < 0


@pytest.mark.parametrize(
    ("headers", "complaint"),
    [
        ({DUE_TIMESTAMP: b"1"}, "herald-retry-target-topic is missing"),
        ({TARGET_TOPIC: b"campaign.commands", DUE_TIMESTAMP: b"1"}, "names no send topic"),
        ({TARGET_TOPIC: b"message.send.primary", DUE_TIMESTAMP: b"soon"}, "epoch milliseconds"),
    ],
)
def test_bad_headers_are_refused(headers: dict[str, bytes], complaint: str) -> None:
    with pytest.raises(InvalidDelayHeaders, match=complaint):
        read_delayed_attempt(headers)
