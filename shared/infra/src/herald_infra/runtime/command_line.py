"""The command line every Herald service takes: none but ``--help`` and ``--version``.

A service is configured by its environment (``HERALD_*``), so ``--help`` lists those variables
with their defaults; anything else on the command line is an error (exit 2) rather than a
service started with an option it silently ignored.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from pydantic_settings import BaseSettings

_DEFAULT_UNSHOWN = "(none)"


def settings_help(settings_class: type[BaseSettings]) -> str:
    """One line per environment variable ``settings_class`` reads, with its default."""
    prefix = str(settings_class.model_config.get("env_prefix") or "")
    lines = []
    for name, field in sorted(settings_class.model_fields.items()):
        default = field.get_default(call_default_factory=True)
        shown = _DEFAULT_UNSHOWN if default is None or default == "" else repr(default)
        if "token" in name or "key" in name or "secret" in name:
            shown = "(secret)" if default else _DEFAULT_UNSHOWN
        lines.append(f"  {(prefix + name).upper():<44} {shown}")
    return "\n".join(lines)


def parse_service_arguments(
    command: str,
    description: str,
    settings_class: type[BaseSettings],
    *,
    default_port: int,
    default_metrics_port: int,
    argv: Sequence[str] | None = None,
) -> None:
    """Answer ``--help``/``--version`` and exit, refuse any other argument (exit 2), or return
    so the caller starts the service."""
    parser = argparse.ArgumentParser(
        prog=command,
        description=(
            f"{description}\n\nServes HTTP on HERALD_HTTP_PORT (default {default_port}): "
            "/healthz, /readyz; and Prometheus metrics on HERALD_METRICS_PORT (default "
            f"{default_metrics_port}): /metrics. Stops gracefully on SIGTERM or SIGINT."
        ),
        epilog="Configured by the environment:\n" + settings_help(settings_class),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{command} {_version()}")
    parser.parse_args(argv)


def _version() -> str:
    try:
        return version("herald-infra")
    except PackageNotFoundError:
        return "unknown"
