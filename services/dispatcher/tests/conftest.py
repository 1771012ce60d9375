"""Helpers for the dispatcher's tests: sender accounts, running campaigns with contacts, a clock
the tests move."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from herald_core.accounts.model import (
    AccountStatus,
    GatewayAdapter,
    GatewaySession,
    SenderAccount,
    SessionEngine,
    account_document,
)
from herald_core.accounts.sending_limits import day_start
from herald_core.accounts.shared_gateway import SharedGateway

ROOMY_SHARED_GATEWAY = SharedGateway("default", hourly_cap=1_000_000, daily_cap=1_000_000)
"""A shared gateway whose caps a test's campaigns never reach (tests of other things)."""


def today_at(hours: float) -> datetime:
    """A moment of the current UTC day. Tests count caps at such moments rather than now: close
    enough to now that the usage documents' TTL keeps them, and never across a window edge."""
    return day_start(datetime.now(UTC)) + timedelta(hours=hours)


@dataclass
class MovableClock:
    """The time the dispatcher counts caps in; the test moves it."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def phones(count: int, start: int = 0) -> list[str]:
    return [f"+9198{n:08d}" for n in range(start, start + count)]


def sender_account(
    tenant_id: str,
    *,
    hourly_cap: int = 1_000,
    daily_cap: int = 10_000,
    warmup: tuple[int, ...] = (),
    activated_at: datetime | None = None,
    status: AccountStatus = AccountStatus.ENABLED,
) -> SenderAccount:
    account_id = f"acc_{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)

    def session(engine: SessionEngine) -> GatewaySession:
        return GatewaySession(
            engine=engine,
            gateway=GatewayAdapter.WAHA,
            base_url="http://127.0.0.1:3100",
            session=account_id,
            api_key=SecretStr("test-key"),
        )

    return SenderAccount(
        id=account_id,
        tenant_id=tenant_id,
        phone=f"+9199{uuid.uuid4().int % 10**8:08d}",
        status=status,
        primary=session(SessionEngine.BAILEYS),
        fallback=session(SessionEngine.WHATSAPP_WEB_JS),
        hourly_cap=hourly_cap,
        daily_cap=daily_cap,
        warmup_schedule=warmup,
        activated_at=activated_at or now - timedelta(days=365),
        created_at=now,
        updated_at=now,
    )


async def add_account(db: Any, tenant_id: str, **limits: Any) -> SenderAccount:
    account = sender_account(tenant_id, **limits)
    await db["accounts"].insert_one(account_document(account))
    return account


async def add_running_campaign(db: Any, tenant_id: str, recipients: Sequence[str]) -> str:
    """A running campaign with a contact per phone (as the campaign service leaves it)."""
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    await db["campaigns"].insert_one(
        {
            "_id": campaign_id,
            "tenantId": tenant_id,
            "messageBody": "Hi {{name}}",
            "status": "running",
            "counts": {"total": 0},
            "contactCount": len(recipients),
        }
    )
    await db["contacts"].insert_many(
        [
            {
                "_id": f"{campaign_id}:{phone}",
                "campaignId": campaign_id,
                "tenantId": tenant_id,
                "phone": phone,
                "name": f"N{n}",
                "fields": {},
            }
            for n, phone in enumerate(recipients)
        ]
    )
    return campaign_id


async def messages_of(db: Any, campaign_id: str) -> list[dict[str, Any]]:
    return [m async for m in db["messages"].find({"campaignId": campaign_id}).sort("phone", 1)]


async def counts_of(db: Any, campaign_id: str) -> dict[str, int]:
    campaign = await db["campaigns"].find_one({"_id": campaign_id})
    return {name: count for name, count in campaign.get("counts", {}).items() if count}
