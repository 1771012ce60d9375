"""Dead letters: whose a caller sees, and which can be redriven and where to. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from herald_core.messages.dead_letters import UNATTRIBUTED_TENANT
from herald_core.messages.states import MessageStatus


@dataclass(frozen=True)
class DeadLetterScope:
    """Whose dead letters a caller sees. A tenant: its own, nothing else. An operator: every
    tenant's (``everyone``), one tenant's, or the poison records that named no tenant
    (``unattributed``)."""

    tenant_id: str | None = None
    """Only this tenant's."""
    unattributed: bool = False
    """Only those of no tenant (``tenantId`` null)."""

    def __post_init__(self) -> None:
        if self.tenant_id is not None and self.unattributed:
            raise ValueError("a tenant's dead letters or the unattributed ones, not both")

    @classmethod
    def of_tenant(cls, tenant_id: str) -> DeadLetterScope:
        return cls(tenant_id=tenant_id)

    @classmethod
    def everyone(cls) -> DeadLetterScope:
        return cls()

    def selector(self) -> dict[str, Any]:
        """The MongoDB filter on ``dead_letters`` for this scope."""
        if self.tenant_id is not None:
            return {"tenantId": self.tenant_id}
        if self.unattributed:
            return {"tenantId": UNATTRIBUTED_TENANT}
        return {}


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
