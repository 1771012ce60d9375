import json
from datetime import UTC, datetime

from herald_core.messages.dead_letters import (
    dead_letter_document,
    dead_letter_headers,
    message_dead_letter_id,
    record_dead_letter_id,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_a_message_dead_letter_names_its_tenant_campaign_and_message() -> None:
    headers = dead_letter_headers(
        topic="message.send.fallback",
        partition=7,
        offset=120,
        error="herald_gateways.interface.GatewayError",
        error_message="attempt plan exhausted: gateway-error: HTTP 500",
        reason="gateway-error",
        attempts=3,
        first_failure=NOW,
        dead_letter_id=message_dead_letter_id("msg_1", 3),
    )
    payload = json.dumps({"tenant_id": "t1", "campaign_id": "c1", "message_id": "msg_1"}).encode()
    doc = dead_letter_document(
        payload=payload,
        headers=headers,
        key=b"acct",
        dlt_partition=2,
        dlt_offset=9,
        recorded_at=NOW,
    )
    assert doc["_id"] == "dlt_msg_1_3"
    assert (doc["tenantId"], doc["campaignId"], doc["messageId"]) == ("t1", "c1", "msg_1")
    assert (doc["originalTopic"], doc["originalPartition"], doc["originalOffset"]) == (
        "message.send.fallback",
        7,
        120,
    )
    assert doc["attempts"] == 3 and doc["firstFailureAt"] == NOW
    assert doc["reason"] == "gateway-error" and doc["status"] == "open"


def test_a_poison_record_is_kept_byte_for_byte_and_attributed_to_no_tenant() -> None:
    headers = dead_letter_headers(
        topic="campaign.commands",
        partition=1,
        offset=5,
        error=ValueError("x"),
        reason="undecodable",
    )
    doc = dead_letter_document(
        payload=b"\xff{not json",
        headers=headers,
        key=None,
        dlt_partition=0,
        dlt_offset=1,
        recorded_at=NOW,
    )
    assert doc["_id"] == record_dead_letter_id("campaign.commands", 1, 5)
    assert doc["tenantId"] is None and doc["messageId"] is None
    assert doc["rawPayload"] == b"\xff{not json"
    assert doc["exceptionType"] == "builtins.ValueError"


def test_a_record_without_herald_headers_is_identified_by_its_place_on_the_dead_letter_topic() -> (
    None
):
    first = dead_letter_document(
        payload=b"x", headers={}, key=None, dlt_partition=0, dlt_offset=1, recorded_at=NOW
    )
    second = dead_letter_document(
        payload=b"x", headers={}, key=None, dlt_partition=0, dlt_offset=2, recorded_at=NOW
    )
    assert first["_id"] != second["_id"] and first["originalTopic"] == "unknown"
