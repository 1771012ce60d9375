"""Tenants and API keys, as operators see them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group

from herald_cli.views.tables import listing_table, page_note
from herald_cli.views.times import short_time

BOUND = "within 2 s (HERALD_API_KEY_CACHE_SECONDS)"
"""How soon a revoked key, or a disabled tenant's, is refused: the API's default cache."""


def tenants_table(listing: Mapping[str, Any]) -> Group:
    tenants = listing.get("tenants") or []
    table = listing_table("ID", "NAME", "STATUS", "CREATED", "DISABLED")
    for t in tenants:
        table.add_row(
            t["id"],
            t.get("name") or "",
            t["status"],
            short_time(t.get("createdAt")),
            short_time(t.get("disabledAt")) if t.get("disabledAt") else "",
        )
    return Group(table, page_note(len(tenants), listing))


def tenant_text(tenant: Mapping[str, Any]) -> str:
    """``Tenant acme (Acme Ltd): enabled, created 2026-11-29 21:06:03Z.``"""
    text = f"Tenant {tenant['id']} ({tenant.get('name', '')}): {tenant['status']}"
    text += f", created {short_time(tenant.get('createdAt'))}"
    if tenant.get("disabledAt"):
        text += f", disabled {short_time(tenant['disabledAt'])}"
    return text + "."


def tenant_created(tenant: Mapping[str, Any]) -> str:
    return (
        f"Tenant {tenant['id']} ({tenant.get('name', '')}) is created. Issue it a key: "
        f"herald admin keys issue --tenant {tenant['id']} --name NAME"
    )


def tenant_disabled(tenant: Mapping[str, Any]) -> str:
    paused = int(tenant.get("pausedCampaigns", 0))
    campaigns = f"{paused} running campaign{'' if paused == 1 else 's'} paused"
    return f"Tenant {tenant['id']} is disabled: its keys are refused {BOUND}; {campaigns}."


def tenant_enabled(tenant: Mapping[str, Any]) -> str:
    return (
        f"Tenant {tenant['id']} is enabled: its keys work again; its paused campaigns stay "
        "paused until it resumes them."
    )


def key_owner(key: Mapping[str, Any]) -> str:
    tenant = key.get("tenantId")
    return f"tenant {tenant}" if tenant else "operators"


def key_issued(key: Mapping[str, Any]) -> str:
    """The key and, on a line of its own, its token: shown this once."""
    expiry = f", expires {short_time(key['expiresAt'])}" if key.get("expiresAt") else ""
    return (
        f"Key {key['id']} ({key.get('name', '')}) for {key_owner(key)}{expiry}. Its token, "
        f"shown this once (Herald keeps only its hash):\n{key['token']}"
    )


def keys_table(listing: Mapping[str, Any]) -> Group:
    keys = listing.get("keys") or []
    table = listing_table("ID", "NAME", "STATUS", "CREATED", "LAST USED", "EXPIRES", "REVOKED")
    for k in keys:
        table.add_row(
            k["id"],
            k.get("name") or "",
            k["status"],
            short_time(k.get("createdAt")),
            short_time(k.get("lastUsedAt")) if k.get("lastUsedAt") else "never",
            short_time(k.get("expiresAt")) if k.get("expiresAt") else "never",
            short_time(k.get("revokedAt")) if k.get("revokedAt") else "",
        )
    return Group(table, page_note(len(keys), listing))


def key_revoked(key_id: str) -> str:
    return f"Key {key_id} is revoked: it is refused {BOUND}."
