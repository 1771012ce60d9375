"""Where the API is and which token to send: flags, then environment, then defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API = "http://localhost:3000"
API_ENV = "HERALD_API_URL"
TOKEN_ENV = "HERALD_API_TOKEN"
TOKEN_FILE = Path(".local") / "api-token"
"""Where ``make up`` keeps the token it generated, relative to the repository."""
ADMIN_TOKEN_ENV = "HERALD_ADMIN_TOKEN"
ADMIN_TOKEN_FILE = Path(".local") / "admin-token"
"""Where ``make up`` keeps the operator token it generated, relative to the repository."""


class NoToken(Exception):
    """No token in the flags, the environment, or a ``.local/api-token`` file."""

    def __str__(self) -> str:
        return (
            f"no API token: give --token, set {TOKEN_ENV}, or run herald in the repository "
            f"where `make up` wrote {TOKEN_FILE}"
        )


class NoAdminToken(NoToken):
    """No operator token in the flags, the environment, or a ``.local/admin-token`` file."""

    def __str__(self) -> str:
        return (
            f"no operator token: give --admin-token, set {ADMIN_TOKEN_ENV}, or run herald in "
            f"the repository where `make up` wrote {ADMIN_TOKEN_FILE}"
        )


@dataclass(frozen=True)
class Connection:
    api_url: str
    token: str
    token_source: str
    """Where the token came from (``--token``, ``HERALD_API_TOKEN``, a file): a 401 says it."""


def normalise_api_url(url: str) -> str:
    """``localhost:3000/`` -> ``http://localhost:3000``."""
    url = url.strip().rstrip("/")
    return url if "://" in url else f"http://{url}"


def find_token_file(start: Path, name: Path = TOKEN_FILE) -> Path | None:
    """``.local/api-token`` (or ``name``) in ``start`` or the nearest of its parents that has
    one."""
    for folder in (start, *start.parents):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def resolve_connection(
    *,
    api_flag: str | None,
    token_flag: str | None,
    environ: Mapping[str, str],
    cwd: Path,
) -> Connection:
    """The API address and token; raises :class:`NoToken` when there is no token anywhere."""
    api_url = normalise_api_url(api_flag or environ.get(API_ENV) or DEFAULT_API)
    if token_flag:
        return Connection(api_url, token_flag.strip(), "--token")
    if environ.get(TOKEN_ENV):
        return Connection(api_url, environ[TOKEN_ENV].strip(), TOKEN_ENV)
    token_file = find_token_file(cwd)
    if token_file is not None and (token := token_file.read_text(encoding="utf-8").strip()):
        return Connection(api_url, token, str(token_file))
    raise NoToken


def resolve_admin_connection(
    *,
    api_flag: str | None,
    token_flag: str | None,
    environ: Mapping[str, str],
    cwd: Path,
) -> Connection:
    """The API address and the operator token (``--admin-token``, ``HERALD_ADMIN_TOKEN``,
    ``.local/admin-token``); raises :class:`NoAdminToken` when there is none anywhere."""
    api_url = normalise_api_url(api_flag or environ.get(API_ENV) or DEFAULT_API)
    if token_flag:
        return Connection(api_url, token_flag.strip(), "--admin-token")
    if environ.get(ADMIN_TOKEN_ENV):
        return Connection(api_url, environ[ADMIN_TOKEN_ENV].strip(), ADMIN_TOKEN_ENV)
    token_file = find_token_file(cwd, ADMIN_TOKEN_FILE)
    if token_file is not None and (token := token_file.read_text(encoding="utf-8").strip()):
        return Connection(api_url, token, str(token_file))
    raise NoAdminToken
