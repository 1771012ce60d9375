"""The primary sender as the pacing benchmark runs it: unchanged, except that it writes down the
gap drawn for each slot it takes.

    python -m herald_bench.pacing_sender GAPS_FILE [PROFILE_FILE]

The profile draws every gap at random (``fast``: 2-5 s), and nothing records it: without it, a
send's reserved slot (the account's previous send plus that gap) is unknown, and so is its
lateness. Each slot the sender's pacer hands out appends ``<message id> <gap seconds>`` to
``GAPS_FILE`` (line-buffered: a stopped sender loses nothing). With ``PROFILE_FILE``, the sender
runs under cProfile and writes its profile there on a clean exit.

The pacer is wrapped, not changed: whatever ``SendPacer.wait_turn`` does to take a slot, the
bench reads the ``gap_seconds`` of what it returns. A pacer whose slots carry no gap leaves the
file empty, and the bench says so (its lateness by ``sentAt`` is then unknown).
"""

from __future__ import annotations

import cProfile
import signal
import sys
from typing import IO, Any

from herald_primary_sender.main import main as sender_main
from herald_sender.pacer import SendPacer


def record_drawn_gaps(ledger: IO[str]) -> None:
    """Make every slot the sender takes append its message id and drawn gap to ``ledger``."""
    take_slot = SendPacer.wait_turn

    async def wait_turn(self: SendPacer, event: Any) -> Any:
        slot = await take_slot(self, event)
        gap = getattr(slot, "gap_seconds", None)
        if gap is not None:
            ledger.write(f"{event.message_id} {gap:.6f}\n")
        return slot

    SendPacer.wait_turn = wait_turn  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    gaps_path, *profile = argv
    with open(gaps_path, "a", buffering=1, encoding="utf-8") as ledger:
        record_drawn_gaps(ledger)
        sys.argv = [sys.argv[0]]  # the sender reads its own options from the command line
        if not profile:
            sender_main()
            return
        # uvicorn raises SIGTERM again once it shut down; the profile is written only on a
        # clean exit.
        signal.signal(signal.SIGTERM, lambda *_: None)
        cProfile.runctx("sender_main()", globals(), {"sender_main": sender_main}, profile[0])


if __name__ == "__main__":
    main(sys.argv[1:])
