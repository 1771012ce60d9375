"""``herald admin`` with the executable, against Herald as real processes: an operator
creates a tenant, issues it a key the tenant then uses, lists, revokes, disables and enables;
the tenant token never passes for the operator's, nor the operator's for a tenant's."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.system import RunningStack

from .conftest import CliRun, Herald, run_herald

pytestmark = pytest.mark.e2e

BOUND = 2.0
"""How soon a revoked key, or a disabled tenant's, is refused (HERALD_API_KEY_CACHE_SECONDS)."""


class Operator:
    """Runs ``herald`` with the operator token in HERALD_ADMIN_TOKEN, from an empty folder."""

    def __init__(self, stack: RunningStack, cwd: Path) -> None:
        self.env = {"HERALD_API_URL": stack.api, "HERALD_ADMIN_TOKEN": stack.config.admin_token}
        self.cwd = cwd

    async def __call__(self, *args: str) -> CliRun:
        return await run_herald(*args, env=self.env, cwd=self.cwd)


@pytest.fixture
def operator(stack: RunningStack, tmp_path: Path) -> Operator:
    return Operator(stack, tmp_path)


async def refused_within(tenant: Herald, deadline: float) -> float:
    """When (seconds from now) the first ``herald campaigns list`` of the tenant that was
    refused with 401 started; a run started past ``deadline`` must not be accepted. (A run
    takes a second or more to start Python: what it was told is timed by when it began.)"""
    started = time.monotonic()
    while True:
        began = time.monotonic() - started
        run = await tenant("campaigns", "list")
        if run.code == 1 and run.stderr.startswith("herald: 401"):
            return began
        assert run.code == 0, run
        assert began <= deadline, f"a run begun {began:.2f} s after was still accepted"


async def test_an_operator_sets_up_a_tenant_and_its_key_then_takes_them_away(
    operator: Operator, stack: RunningStack, tmp_path: Path
) -> None:
    tenant_id = f"acme-{uuid.uuid4().hex[:8]}"
    created = await operator("admin", "tenants", "create", "--id", tenant_id, "--name", "Acme")
    assert created.code == 0, created
    assert created.stdout.startswith(f"Tenant {tenant_id} (Acme) is created.")

    listed = await operator("admin", "tenants", "list", "--limit", "500")
    row = next(line for line in listed.stdout.splitlines() if line.startswith(tenant_id))
    assert row.split()[:3] == [tenant_id, "Acme", "enabled"]
    shown = await operator("admin", "tenants", "show", tenant_id, "--json")
    assert shown.json()["status"] == "enabled"

    issued = await operator(
        "admin", "keys", "issue", "--tenant", tenant_id, "--name", "crm", "--json"
    )
    key = issued.json()
    assert key["token"].startswith("hrd_") and key["tenantId"] == tenant_id
    plain = await operator("admin", "keys", "issue", "--tenant", tenant_id, "--name", "spare")
    assert plain.code == 0, plain
    spare_token = plain.stdout.splitlines()[-1]
    assert spare_token.startswith("hrd_") and "shown this once" in plain.stdout

    tenant = Herald(stack, tmp_path, key["token"])
    campaign = await tenant("campaigns", "create", "--name", "Acme sale", "--body", "Hi", "--json")
    assert campaign.json()["name"] == "Acme sale"
    mine = await tenant("campaigns", "list", "--json")
    assert [c["id"] for c in mine.json()["campaigns"]] == [campaign.json()["id"]]

    keys = await operator("admin", "keys", "list", "--tenant", tenant_id)
    assert keys.code == 0, keys
    assert key["token"] not in keys.stdout and spare_token not in keys.stdout
    crm = next(line for line in keys.stdout.splitlines() if line.startswith(key["id"]))
    assert crm.split()[1:3] == ["crm", "active"]
    assert "never" not in crm.split()[5:7]  # LAST USED is set: the tenant used it

    revoked = await operator("admin", "keys", "revoke", key["id"], "--tenant", tenant_id)
    assert revoked.code == 0, revoked
    assert revoked.stdout.startswith(f"Key {key['id']} is revoked")
    took = await refused_within(tenant, BOUND + 1)
    print(f"revoked key refused to a CLI run begun {took:.2f} s after")
    refused = await tenant("campaigns", "list")
    assert "(the token came from HERALD_API_TOKEN)" in refused.stderr

    spare = Herald(stack, tmp_path, spare_token)
    assert (await spare("campaigns", "list")).code == 0
    disabled = await operator("admin", "tenants", "disable", tenant_id)
    assert disabled.code == 0, disabled
    assert disabled.stdout.startswith(f"Tenant {tenant_id} is disabled")
    await refused_within(spare, BOUND + 1)
    no_key = await operator("admin", "keys", "issue", "--tenant", tenant_id, "--name", "x")
    assert no_key.code == 1
    assert no_key.stderr.startswith(f"herald: 409 tenant {tenant_id} is disabled; enable it first")

    enabled = await operator("admin", "tenants", "enable", tenant_id)
    assert enabled.code == 0, enabled
    assert (await spare("campaigns", "list")).code == 0


async def test_operator_keys_and_where_the_operator_token_comes_from(
    operator: Operator, stack: RunningStack, tmp_path: Path
) -> None:
    name = f"ops-{uuid.uuid4().hex[:6]}"
    issued = await operator("admin", "keys", "issue", "--name", name, "--json")
    key = issued.json()
    assert key["role"] == "operator"

    by_flag = await run_herald(
        "admin", "keys", "list", "--admin-token", key["token"],
        env={"HERALD_API_URL": stack.api}, cwd=tmp_path,
    )  # fmt: skip
    assert by_flag.code == 0, by_flag
    assert any(line.startswith(key["id"]) for line in by_flag.stdout.splitlines())

    local = tmp_path / "repo"
    (local / ".local").mkdir(parents=True)
    (local / ".local" / "admin-token").write_text(key["token"] + "\n")
    by_file = await run_herald(
        "admin", "tenants", "list", env={"HERALD_API_URL": stack.api}, cwd=local
    )
    assert by_file.code == 0, by_file

    nowhere = await run_herald(
        "admin", "tenants", "list", env={"HERALD_API_URL": stack.api}, cwd=tmp_path
    )
    assert nowhere.code == 2
    assert nowhere.stderr.startswith("herald: no operator token: give --admin-token")

    assert (await operator("admin", "keys", "revoke", key["id"])).code == 0
    started = time.monotonic()
    while True:
        began = time.monotonic() - started
        run = await run_herald(
            "admin", "tenants", "list", env={"HERALD_API_URL": stack.api}, cwd=local
        )
        if run.code == 1 and run.stderr.startswith("herald: 401"):
            break
        assert run.code == 0 and began <= BOUND + 1, (began, run)


async def test_tenant_and_operator_tokens_do_not_stand_in_for_each_other(
    operator: Operator, herald: Herald, stack: RunningStack, tmp_path: Path
) -> None:
    as_operator = await run_herald(
        "admin", "tenants", "list", "--admin-token", stack.token,
        env={"HERALD_API_URL": stack.api}, cwd=tmp_path,
    )  # fmt: skip
    assert as_operator.code == 1
    assert as_operator.stderr.splitlines() == [
        "herald: 403 this route is for operators; a tenant key cannot use it",
        "  (the token came from --admin-token)",
    ]
    as_tenant = await run_herald(
        "campaigns", "list", env={"HERALD_API_URL": stack.api,
        "HERALD_API_TOKEN": stack.config.admin_token}, cwd=tmp_path,
    )  # fmt: skip
    assert as_tenant.code == 1
    assert as_tenant.stderr.startswith("herald: 403 this route acts for a tenant")
    assert (await herald("campaigns", "list")).code == 0
