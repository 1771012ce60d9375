"""Which commands are the system's own (the scheduler's) and so refused from tenants, and which
topic carries which commands. Pure."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from herald_core.contracts.commands import SystemCommand, TenantCommand, system_only

RUN = {
    "type": "campaign.run",
    "event_id": "e1",
    "tenant_id": "t",
    "campaign_id": "c",
    "schedule_id": "sch_c",
    "scheduled_for": "2026-06-01T09:00:00Z",
}


@pytest.mark.parametrize(
    "payload",
    [RUN, {"type": "campaign.pause", "campaign_id": "c", "by": "system", "reason": "x"}],
    ids=["campaign.run", "pause by the system"],
)
def test_the_schedulers_commands_are_system_only(payload: dict[str, Any]) -> None:
    reason = system_only(payload)
    assert reason is not None and "campaign.system-commands" in reason


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "campaign.pause", "campaign_id": "c"},
        {"type": "campaign.pause", "campaign_id": "c", "by": "user"},
        {"type": "campaign.create", "name": "n", "message_body": "b", "by": "system"},
        {"type": "campaign.cancel", "campaign_id": "c"},
        ["campaign.run"],
        "campaign.run",
    ],
)
def test_tenants_commands_and_non_objects_are_not(payload: object) -> None:
    assert system_only(payload) is None


def test_the_tenant_topic_does_not_carry_a_run_start_and_the_system_topic_only_the_schedulers() -> (
    None
):
    with pytest.raises(ValidationError):
        TypeAdapter(TenantCommand).validate_python(RUN)
    assert TypeAdapter(SystemCommand).validate_python(RUN).type == "campaign.run"
    create = {"type": "campaign.create", "event_id": "e", "tenant_id": "t", "name": "n"}
    with pytest.raises(ValidationError):
        TypeAdapter(SystemCommand).validate_python({**create, "message_body": "b"})
