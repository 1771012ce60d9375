"""Gateway message ids: WhatsApp-Web-like, unique within a run, reproducible with a seed."""

from __future__ import annotations

import random


class MessageIdGenerator:
    """Makes ids like ``3EB0`` + 20 upper-case hex digits (the shape WhatsApp Web uses).

    48 random bits from the (seedable) generator plus a 32-bit counter, so ids never repeat
    within a run, and the same seed gives the same ids for the same sequence of sends.
    """

    PREFIX = "3EB0"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._counter = 0

    def next_id(self) -> str:
        self._counter = (self._counter + 1) & 0xFFFFFFFF
        return f"{self.PREFIX}{self._rng.getrandbits(48):012X}{self._counter:08X}"
