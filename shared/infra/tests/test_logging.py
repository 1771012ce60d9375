import logging

from herald_infra.runtime.logging import RepeatLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_library_line_repeated_in_a_tight_loop_shows_once_per_window_with_a_count() -> None:
    clock = Clock()
    limiter = RepeatLimiter(("aiokafka",), 10.0, clock)
    template = "Unable connect to node with id %s: %s"

    shown = []
    for tick in range(25):
        clock.now = tick * 0.5
        line = record("aiokafka.client", template, 1, "refused")
        if limiter.filter(line):
            shown.append((clock.now, line.getMessage()))

    assert shown == [
        (0.0, "Unable connect to node with id 1: refused"),
        (10.0, "Unable connect to node with id 1: refused [19 more like it in the 10s before]"),
    ]


def test_other_templates_and_other_loggers_are_not_held_back() -> None:
    limiter = RepeatLimiter(("aiokafka",), 10.0, Clock())

    assert limiter.filter(record("aiokafka.client", "Unable to update metadata from %s", [1]))
    assert limiter.filter(record("aiokafka.client", "Unable connect to node with id %s", 1))
    assert limiter.filter(record("aiokafka.conn", "Unable to update metadata from %s", [1]))
    for _ in range(3):
        assert limiter.filter(record("uvicorn.error", "Started server process [%d]", 7))
