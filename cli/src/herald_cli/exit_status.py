"""The exit status of ``herald``, as ``herald --help`` lists them."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    REFUSED = 1
    """The API refused (the error names the field), or a watched campaign was cancelled."""
    USAGE = 2
    UNREACHABLE = 3
    TIMEOUT = 4
    """``campaigns watch --timeout`` passed."""
    INTERRUPTED = 130
