from datetime import UTC, datetime

from herald_dispatcher.message_plan import build_message, message_id
from herald_infra.messages.queueing import send_event_from_document

CAMPAIGN = {
    "_id": "c1",
    "tenantId": "t1",
    "messageBody": "Hi {{name|there}}, your code is {{code}}",
    "delayType": "safe",
}
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def test_message_id_is_deterministic_per_campaign_and_recipient() -> None:
    assert message_id("c1", "+919876543210") == message_id("c1", "+919876543210")
    assert message_id("c1", "+919876543210") != message_id("c2", "+919876543210")
    assert message_id("c1", "+919876543210") != message_id("c1", "+919876543211")
    assert message_id("c1", "+919876543210", run=2) != message_id("c1", "+919876543210")


def test_a_message_is_rendered_for_its_contact_and_starts_pending() -> None:
    contact = {"_id": "c1:+9198", "phone": "+919876543210", "name": None, "fields": {"code": "X1"}}
    doc = build_message(CAMPAIGN, contact, account_id="acc", now=NOW)
    assert doc["body"] == "Hi there, your code is X1"
    assert doc["status"] == "pending"
    assert doc["attempt"] == 1
    assert doc["accountId"] == "acc"
    assert doc["delayType"] == "safe"
    assert doc["tenantId"] == "t1"
    assert doc["_id"] == message_id("c1", "+919876543210")
    assert "customDelay" not in doc


def test_a_campaign_s_custom_delay_goes_with_its_messages_into_their_send_events() -> None:
    campaign = {**CAMPAIGN, "customDelay": {"minSeconds": 3, "maxSeconds": 8}}
    contact = {"_id": "c1:+9198", "phone": "+919876543210", "name": "Ravi", "fields": {}}
    doc = build_message(campaign, contact, account_id="acc", now=NOW)
    event = send_event_from_document(doc)
    assert event.custom_delay is not None
    assert event.custom_delay.bounds() == (3, 8)
    assert event.delay_type == "safe"
