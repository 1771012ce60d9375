"""Which dead letters a tenant sees, and which can be redriven."""

from __future__ import annotations

from herald_campaign.domain.dead_letters import message_refusal, poison_refusal, visible_tenants
from herald_core.contracts.topics import CAMPAIGN_COMMANDS, MESSAGE_DLT


def test_a_tenant_sees_its_own_dead_letters() -> None:
    assert visible_tenants("tenant-b", operator_tenant="tenant-a") == ["tenant-b"]


def test_the_operator_also_sees_poison_records_that_named_no_tenant() -> None:
    assert visible_tenants("ops", operator_tenant="ops") == ["ops", "default"]
    assert visible_tenants("default", operator_tenant="default") == ["default"]


def test_only_a_failed_message_can_be_redriven() -> None:
    assert message_refusal("m-1", "failed") is None
    assert message_refusal("m-1", "queued") == (
        "message m-1 is queued; only a failed message can be redriven"
    )
    assert "is sent" in (message_refusal("m-1", "sent") or "")
    assert message_refusal("m-1", None) == "message m-1 no longer exists"


def test_a_poison_record_goes_back_only_to_a_herald_topic() -> None:
    topics = {CAMPAIGN_COMMANDS}
    record = {"originalTopic": CAMPAIGN_COMMANDS, "rawPayload": b"{}"}
    assert poison_refusal(record, topics) is None
    assert "'unknown'" in (poison_refusal({**record, "originalTopic": "unknown"}, topics) or "")
    assert poison_refusal({**record, "originalTopic": MESSAGE_DLT}, topics) is not None
    assert poison_refusal({"originalTopic": CAMPAIGN_COMMANDS}, topics) == (
        "the dead letter kept no payload to publish again"
    )
