"""A service's command line: ``--help`` lists its environment and exits; other arguments fail."""

from __future__ import annotations

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from herald_infra.runtime.command_line import parse_service_arguments, settings_help


class ExampleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HERALD_")

    http_port: int = 0
    gateway_api_key: str | None = None
    mongodb_url: str = "mongodb://127.0.0.1:27017"
    batch: int = Field(default=2000, ge=1)


def test_help_lists_every_variable_with_its_default_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stop:
        parse_service_arguments(
            "herald-example",
            "An example.",
            ExampleSettings,
            default_port=9999,
            default_metrics_port=9998,
            argv=["--help"],
        )
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: herald-example")
    assert "HERALD_HTTP_PORT (default 9999)" in out
    assert "HERALD_METRICS_PORT (default 9998): /metrics" in out
    assert "HERALD_MONGODB_URL" in out and "'mongodb://127.0.0.1:27017'" in out
    assert "HERALD_BATCH" in out and "2000" in out


def test_an_unknown_argument_is_refused_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        parse_service_arguments(
            "herald-example",
            "An example.",
            ExampleSettings,
            default_port=1,
            default_metrics_port=2,
            argv=["--port=1"],
        )
    assert stop.value.code == 2
    assert "unrecognized arguments: --port=1" in capsys.readouterr().err


def test_no_argument_returns_so_the_service_starts() -> None:
    parse_service_arguments(
        "herald-example",
        "An example.",
        ExampleSettings,
        default_port=1,
        default_metrics_port=2,
        argv=[],
    )


def test_secrets_are_not_printed_even_when_defaulted() -> None:
    class WithSecret(ExampleSettings):
        api_token: str = "s3cr3t"

    text = settings_help(WithSecret)
    assert "s3cr3t" not in text
    assert "HERALD_API_TOKEN" in text and "(secret)" in text
