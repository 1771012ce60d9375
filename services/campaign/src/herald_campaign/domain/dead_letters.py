"""Dead letters as a tenant sees them: which ones are its own, and which can be redriven and
where to. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from herald_core.messages.dead_letters import UNATTRIBUTED_TENANT
from herald_core.messages.states import MessageStatus


def visible_tenants(tenant_id: str, operator_tenant: str) -> list[str]:
    """The ``tenantId`` values of the dead letters ``tenant_id`` sees: its own, and for the
    operator's tenant also the poison records that named no tenant (recorded as "default",
    whatever the operator's tenant is called)."""
    if tenant_id == operator_tenant and tenant_id != UNATTRIBUTED_TENANT:
        return [tenant_id, UNATTRIBUTED_TENANT]
    return [tenant_id]


def message_refusal(message_id: str, status: str | None) -> str | None:
    """Why the message of a dead letter cannot be redriven (None: it can). Only a ``failed``
    message gets a fresh plan; any other status means it moved on (redriven already, sent)."""
    if status is None:
        return f"message {message_id} no longer exists"
    if status != MessageStatus.FAILED:
        return f"message {message_id} is {status}; only a failed message can be redriven"
    return None


def poison_refusal(
    dead_letter: Mapping[str, Any], redrivable_topics: Collection[str]
) -> str | None:
    """Why a poison record cannot be published again (None: it can). It goes back to the Herald
    topic it came from, never anywhere else (a record of unknown origin stays where it is)."""
    topic = dead_letter.get("originalTopic")
    if dead_letter.get("rawPayload") is None:
        return "the dead letter kept no payload to publish again"
    if topic not in redrivable_topics:
        return f"the record came from {topic!r}, not a Herald topic it can be published to again"
    return None
