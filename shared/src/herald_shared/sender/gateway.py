"""The interface every WhatsApp gateway adapter implements, and its error type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SendReceipt:
    gateway_message_id: str | None
    """The id the gateway gave the message; some engines answer without one."""


class GatewayError(Exception):
    """A send that did not happen, classified as retryable or permanent."""

    def __init__(self, reason: str, detail: str, *, retryable: bool) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retryable = retryable


class Gateway(Protocol):
    async def send_text(
        self, *, session: str, phone: str, text: str, message_id: str
    ) -> SendReceipt: ...

    async def session_status(self, session: str) -> str: ...

    async def close(self) -> None: ...
