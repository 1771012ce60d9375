"""``herald admin`` against an API answered in memory: the requests each command makes with
the operator token, what it prints, and where the operator token comes from."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from .running_herald import Herald

ADMIN = "--api http://herald.test --admin-token op-secret"
TENANT = {
    "id": "acme",
    "name": "Acme Ltd",
    "status": "enabled",
    "createdAt": "2026-11-29T21:06:03Z",
    "disabledAt": None,
}
KEY = {
    "id": "key_4f2a9c1d0e3b",
    "name": "crm",
    "role": "tenant",
    "tenantId": "acme",
    "status": "active",
    "createdAt": "2026-11-29T21:06:03Z",
    "lastUsedAt": None,
    "expiresAt": "2027-06-30T00:00:00Z",
    "revokedAt": None,
}


@pytest.fixture(autouse=True)
def no_tokens_around(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HERALD_ADMIN_TOKEN", "HERALD_API_TOKEN", "HERALD_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_create_a_tenant_with_the_operator_token(herald: Herald) -> None:
    herald.answer = lambda _: httpx.Response(201, json=TENANT)
    assert herald(f"admin tenants create --id acme --name 'Acme Ltd' {ADMIN}", connected=False) == 0
    request = herald.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/api/admin/tenants")
    assert request.headers["authorization"] == "Bearer op-secret"
    assert herald.body == {"id": "acme", "name": "Acme Ltd"}
    assert herald.out.startswith("Tenant acme (Acme Ltd) is created.")


def test_issue_a_tenant_key_prints_its_token_once_on_a_line_of_its_own(herald: Herald) -> None:
    herald.answer = lambda _: httpx.Response(201, json={**KEY, "token": "hrd_abc"})
    command = "admin keys issue --tenant acme --name crm --expires-at 2027-06-30T00:00:00+00:00"
    assert herald(f"{command} {ADMIN}", connected=False) == 0
    assert herald.requests[-1].url.path == "/api/admin/tenants/acme/keys"
    assert herald.body == {"name": "crm", "expiresAt": "2027-06-30T00:00:00+00:00"}
    lines = herald.out.splitlines()
    assert lines[0].startswith("Key key_4f2a9c1d0e3b (crm) for tenant acme, expires 2027-06-30")
    assert lines[-1] == "hrd_abc"


def test_without_a_tenant_keys_are_the_operators(herald: Herald) -> None:
    herald.answer = lambda _: httpx.Response(200, json={"keys": [], "total": 0})
    assert herald(f"admin keys list {ADMIN}", connected=False) == 0
    assert herald.requests[-1].url.path == "/api/admin/keys"
    herald.answer = lambda _: httpx.Response(204)
    assert herald(f"admin keys revoke key_4f2a9c1d0e3b {ADMIN}", connected=False) == 0
    request = herald.requests[-1]
    assert (request.method, request.url.path) == ("DELETE", "/api/admin/keys/key_4f2a9c1d0e3b")
    assert herald.out.startswith("Key key_4f2a9c1d0e3b is revoked: it is refused within 2 s")


def test_a_tenants_keys_are_listed_without_tokens(herald: Herald) -> None:
    herald.answer = lambda _: httpx.Response(
        200, json={"keys": [KEY], "total": 1, "limit": 50, "offset": 0}
    )
    assert herald(f"admin keys list --tenant acme {ADMIN}", connected=False) == 0
    assert herald.requests[-1].url.path == "/api/admin/tenants/acme/keys"
    row = herald.out.splitlines()[2].split()
    assert row[:3] == ["key_4f2a9c1d0e3b", "crm", "active"]
    assert row[5] == "never"  # never used


def test_a_refused_expiry_names_its_flag(herald: Herald) -> None:
    herald.answer = lambda _: httpx.Response(
        422,
        json={
            "error": "validation failed",
            "fields": [{"field": "expiresAt", "message": "must be in the future"}],
        },
    )
    command = "admin keys issue --name ci --expires-at 2020-01-01T00:00:00+00:00"
    assert herald(f"{command} {ADMIN}", connected=False) == 1
    assert herald.err.splitlines() == [
        "herald: 422 validation failed",
        "  expiresAt (--expires-at): must be in the future",
    ]


def test_a_tenant_token_given_as_the_operators_is_403_and_says_where_it_came_from(
    herald: Herald,
) -> None:
    herald.answer = lambda _: httpx.Response(
        403, json={"error": "this route is for operators; a tenant key cannot use it"}
    )
    assert herald(f"admin tenants list {ADMIN}", connected=False) == 1
    assert herald.err.splitlines()[-1] == "  (the token came from --admin-token)"


def test_the_operator_token_comes_from_the_environment_then_the_local_file(
    herald: Herald, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    herald.answer = lambda _: httpx.Response(200, json=TENANT)
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "admin-token").write_text("from-file\n")
    (tmp_path / ".local" / "api-token").write_text("tenant-token\n")
    assert herald("admin tenants show acme --api http://herald.test", connected=False) == 0
    assert herald.requests[-1].headers["authorization"] == "Bearer from-file"
    monkeypatch.setenv("HERALD_ADMIN_TOKEN", "from-env")
    assert herald("admin tenants show acme --api http://herald.test --json", connected=False) == 0
    assert herald.requests[-1].headers["authorization"] == "Bearer from-env"
    assert json.loads(herald.out) == TENANT


def test_no_operator_token_is_a_usage_error(herald: Herald, tmp_path: Path) -> None:
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "api-token").write_text("tenant-token\n")
    code = herald(
        "--token tenant-token admin tenants list --api http://herald.test", connected=False
    )
    assert code == 2
    assert herald.err.startswith("herald: no operator token: give --admin-token")
    assert herald.requests == []
