"""Whose dead letters a caller sees, and which can be redriven."""

from __future__ import annotations

import pytest

from herald_campaign.domain.dead_letters import DeadLetterScope, message_refusal, poison_refusal
from herald_core.contracts.topics import CAMPAIGN_COMMANDS, MESSAGE_DLT


def test_a_tenant_sees_its_own_dead_letters_and_nothing_else() -> None:
    assert DeadLetterScope.of_tenant("tenant-b").selector() == {"tenantId": "tenant-b"}
    # The default tenant is a tenant like any other: no records that named no tenant.
    assert DeadLetterScope.of_tenant("default").selector() == {"tenantId": "default"}


def test_an_operator_sees_every_tenants_one_tenants_or_the_unattributed() -> None:
    assert DeadLetterScope.everyone().selector() == {}
    assert DeadLetterScope(tenant_id="tenant-a").selector() == {"tenantId": "tenant-a"}
    assert DeadLetterScope(unattributed=True).selector() == {"tenantId": None}
    with pytest.raises(ValueError, match="not both"):
        DeadLetterScope(tenant_id="tenant-a", unattributed=True)


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
