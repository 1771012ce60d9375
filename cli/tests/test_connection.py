"""Where the API and its token come from: flags, then environment, then defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald_cli.connection import NoToken, normalise_api_url, resolve_connection


def test_flags_win_over_the_environment(tmp_path: Path) -> None:
    connection = resolve_connection(
        api_flag="http://api:3000/",
        token_flag="flag-token",
        environ={"HERALD_API_URL": "http://env:1", "HERALD_API_TOKEN": "env-token"},
        cwd=tmp_path,
    )
    assert (connection.api_url, connection.token, connection.token_source) == (
        "http://api:3000",
        "flag-token",
        "--token",
    )


def test_the_environment_wins_over_the_token_file(tmp_path: Path) -> None:
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "api-token").write_text("file-token\n")
    connection = resolve_connection(
        api_flag=None,
        token_flag=None,
        environ={"HERALD_API_URL": "env:3000", "HERALD_API_TOKEN": "env-token"},
        cwd=tmp_path,
    )
    assert (connection.api_url, connection.token) == ("http://env:3000", "env-token")
    assert connection.token_source == "HERALD_API_TOKEN"


def test_make_ups_token_file_is_found_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / ".local").mkdir()
    token_file = tmp_path / ".local" / "api-token"
    token_file.write_text("file-token\n")
    below = tmp_path / "services" / "campaign"
    below.mkdir(parents=True)

    connection = resolve_connection(api_flag=None, token_flag=None, environ={}, cwd=below)

    assert (connection.api_url, connection.token) == ("http://localhost:3000", "file-token")
    assert connection.token_source == str(token_file)


def test_no_token_anywhere_says_where_to_put_one(tmp_path: Path) -> None:
    with pytest.raises(NoToken) as error:
        resolve_connection(api_flag=None, token_flag=None, environ={}, cwd=tmp_path)
    assert "--token" in str(error.value)
    assert "HERALD_API_TOKEN" in str(error.value)


def test_an_address_without_a_scheme_is_http() -> None:
    assert normalise_api_url("localhost:3000/") == "http://localhost:3000"
    assert normalise_api_url("https://herald.example.com") == "https://herald.example.com"
