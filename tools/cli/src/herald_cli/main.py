"""Entry point of the ``herald`` command."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from herald_cli.api import ApiError, ApiUnreachable, HeraldApi
from herald_cli.arguments import parse_arguments
from herald_cli.commands import (
    COMMANDS,
    EXIT_INTERRUPTED,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    UsageError,
)
from herald_cli.connection import NoToken, resolve_connection
from herald_cli.output import Output
from herald_cli.rendering import api_error_text


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (see ``herald --help``)."""
    args = parse_arguments(argv)
    output = Output(json=args.json)
    try:
        connection = resolve_connection(
            api_flag=args.api, token_flag=args.token, environ=os.environ, cwd=Path.cwd()
        )
    except NoToken as error:
        output.error(str(error))
        return EXIT_USAGE
    command = COMMANDS[(args.noun, args.verb)]
    with HeraldApi(connection) as api:
        try:
            return command(api, args, output)
        except ApiError as error:
            output.error(api_error_text(error, token_source=connection.token_source))
            return EXIT_REFUSED
        except ApiUnreachable as error:
            output.error(str(error))
            return EXIT_UNREACHABLE
        except UsageError as error:
            output.error(str(error))
            return EXIT_USAGE
        except KeyboardInterrupt:
            output.error("interrupted")
            return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
