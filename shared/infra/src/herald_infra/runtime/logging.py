"""Structured JSON logging with the campaign and message ids bound to each line."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import structlog

REPEAT_WINDOW_SECONDS = 10.0

bind_context = structlog.contextvars.bind_contextvars
"""Bind ``campaign_id=``, ``message_id=`` … to every log line of the current task."""
clear_context = structlog.contextvars.clear_contextvars


def configure_logging(service: str, level: str = "INFO") -> None:
    """One JSON object per line on stdout, for structlog and the stdlib loggers alike."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("msg"),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.EventRenamer("msg"),
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    handler.addFilter(RepeatLimiter(("aiokafka",), REPEAT_WINDOW_SECONDS))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries chat at INFO about every connection; their warnings still show.
    for noisy in ("aiokafka", "pymongo", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class RepeatLimiter(logging.Filter):
    """Lets a line of the given libraries through at most once per window for each logger and
    message template, and says how many like it were held back in the window before.

    While a Kafka broker is down, aiokafka retries in a tight loop and logs every try at ERROR:
    thousands of identical lines a second bury everything else.
    """

    def __init__(
        self,
        loggers: tuple[str, ...],
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._loggers = loggers
        self._window = window_seconds
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        """(logger, template) → (when its window began, lines held back since)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._loggers):
            return True
        key = (record.name, str(record.msg))
        now = self._clock()
        began, held_back = self._windows.get(key, (None, 0))
        if began is not None and now - began < self._window:
            self._windows[key] = (began, held_back + 1)
            return False
        self._windows[key] = (now, 0)
        if held_back:
            record.msg = f"{record.msg} [{held_back} more like it in the {self._window:g}s before]"
        return True


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
