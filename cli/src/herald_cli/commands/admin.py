"""``herald admin``: what operators run: tenants (create, list, show, disable, enable) and
API keys (issue, list, revoke), a tenant's with ``--tenant``, the operators' own without.

These commands send the operator token: ``--admin-token``, else ``HERALD_ADMIN_TOKEN``, else
``.local/admin-token`` (written by ``make up``); never the tenant token.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated, Literal

import typer

from herald_cli.api import Json
from herald_cli.commands.admin_schedules import schedules
from herald_cli.flags import (
    AdminTokenFlag,
    ApiFlag,
    ConnectionFlags,
    JsonFlag,
    Limit,
    Offset,
    time_option,
)
from herald_cli.request_bodies import listing_query
from herald_cli.session import Session, command_session
from herald_cli.views import admin as views

admin = typer.Typer(
    help="For operators: tenants and their API keys (needs the operator token).",
    no_args_is_help=True,
)
tenants = typer.Typer(help="Create, list, show, disable, enable tenants.", no_args_is_help=True)
keys = typer.Typer(
    help="Issue, list, revoke API keys: a tenant's (--tenant) or the operators'.",
    no_args_is_help=True,
)
admin.add_typer(tenants, name="tenants")
admin.add_typer(keys, name="keys")
admin.add_typer(schedules, name="schedules")

TenantId = Annotated[str, typer.Argument(metavar="TENANT", help="the tenant's id")]
TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", metavar="TENANT", help="the tenant's keys (without: operator keys)"),
]


@tenants.command("create")
def create_tenant(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="what the tenant is called")],
    tenant_id: Annotated[
        str | None,
        typer.Option(
            "--id",
            metavar="ID",
            help="its id: lowercase letters, digits, _ and - (without: Herald makes one)",
        ),
    ] = None,
    api_url: ApiFlag = None,
    admin_token: AdminTokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a tenant."""
    body: Json = {"name": name}
    if tenant_id is not None:
        body["id"] = tenant_id
    with _session(ctx, api_url, admin_token, as_json) as session:
        tenant = session.api.create_tenant(body)
        session.output.result(tenant, views.tenant_created(tenant))


@tenants.command("list")
def list_tenants(
    ctx: typer.Context,
    status: Annotated[Literal["enabled", "disabled"] | None, typer.Option("--status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    api_url: ApiFlag = None,
    admin_token: AdminTokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """The tenants, in id order."""
    query = listing_query(limit=limit, offset=offset, status=status)
    with _session(ctx, api_url, admin_token, as_json) as session:
        listing = session.api.tenants(query)
        session.output.result(listing, views.tenants_table(listing))


@tenants.command("show")
def show_tenant(
    ctx: typer.Context,
    tenant_id: TenantId,
    api_url: ApiFlag = None,
    admin_token: AdminTokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """A tenant."""
    with _session(ctx, api_url, admin_token, as_json) as session:
        tenant = session.api.tenant(tenant_id)
        session.output.result(tenant, views.tenant_text(tenant))


@tenants.command("disable")
def disable_tenant(
    ctx: typer.Context,
    tenant_id: TenantId,
    api_url: ApiFlag = None,
    admin_token: AdminTokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Disable a tenant: its keys are refused within 2 s, its running campaigns paused."""
    with _session(ctx, api_url, admin_token, as_json) as session:
        tenant = session.api.disable_tenant(tenant_id)
        session.output.result(tenant, views.tenant_disabled(tenant))


@tenants.command("enable")
def enable_tenant(
    ctx: typer.Context,
    tenant_id: TenantId,
    api_url: ApiFlag = None,
    admin_token: AdminTokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Enable a tenant again: its keys work again."""
    with _session(ctx, api_url, admin_token, as_json) as session:
        tenant = session.api.enable_tenant(tenant_id)
        session.output.result(tenant, views.tenant_enabled(tenant))


@keys.command("issue")
def issue_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="what the key is for")],
    tenant_id: TenantOption = None,
    expires_at: Annotated[
        datetime | None, time_option("--expires-at", help="when it stops working (never)")
    ] = None,
    api_url: ApiFlag = None,
    admin_token: AdminTokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue an API key; its token is printed this once."""
    body: Json = {"name": name}
    if expires_at is not None:
        body["expiresAt"] = expires_at.isoformat()
    with _session(ctx, api_url, admin_token, as_json) as session:
        key = session.api.issue_key(tenant_id, body)
        session.output.result(key, views.key_issued(key))


@keys.command("list")
def list_keys(
    ctx: typer.Context,
    tenant_id: TenantOption = None,
    limit: Limit = 50,
    offset: Offset = 0,
    api_url: ApiFlag = None,
    admin_token: AdminTokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """API keys, oldest first, revoked and expired ones included; never a token."""
    query = listing_query(limit=limit, offset=offset)
    with _session(ctx, api_url, admin_token, as_json) as session:
        listing = session.api.keys(tenant_id, query)
        session.output.result(listing, views.keys_table(listing))


@keys.command("revoke")
def revoke_key(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(metavar="KEY", help="the key's id (key_…)")],
    tenant_id: TenantOption = None,
    api_url: ApiFlag = None,
    admin_token: AdminTokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke an API key: it is refused within 2 s."""
    with _session(ctx, api_url, admin_token, as_json) as session:
        session.api.revoke_key(tenant_id, key_id)
        session.output.result({"id": key_id, "revoked": True}, views.key_revoked(key_id))


def _session(
    ctx: typer.Context, api_url: str | None, admin_token: str | None, as_json: bool
) -> AbstractContextManager[Session]:
    return command_session(
        ctx, ConnectionFlags(api_url, None, as_json), operator=True, admin_token=admin_token
    )
