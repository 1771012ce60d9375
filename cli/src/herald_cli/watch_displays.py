"""The three ways ``herald campaigns watch`` shows a campaign's progress.

On a terminal, Rich's live progress bar with the rate and the time left; in a pipe or a log, a
line per change; with ``--json``, a JSON object per change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from rich.console import Console
from rich.progress import BarColumn, ProgressColumn, Task, TaskID, TextColumn
from rich.progress import Progress as LiveBar
from rich.text import Text

from herald_cli.output import Output, print_line
from herald_cli.progress import Progress, Verdict
from herald_cli.views.watching import (
    bar_counts,
    bar_label,
    progress_log_line,
    rate_text,
    watch_outcome,
)
from herald_cli.watch import Display, WatchResult

RATE_WINDOW_SECONDS = 10.0
"""The rate is the messages ended over about this long: recent enough to follow a pause or a
change of pace, long enough to smooth the gaps between two sends."""


class RateColumn(ProgressColumn):
    """``2.0/s  ETA 0:05`` from Rich's estimate of the task's speed, while messages are sent."""

    def render(self, task: Task) -> Text:
        if not task.fields.get("sending"):
            return Text("")
        return Text(rate_text(task.speed, task.time_remaining))


class LiveDisplay:
    """A Rich progress bar, redrawn at each poll (no refresh thread: nothing changes between
    two polls)."""

    def __init__(self, console: Console, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._console = console
        self._bar = LiveBar(
            TextColumn("{task.description}", markup=False),
            # Colours every terminal has: Rich's default pink and green turn grey on some.
            BarColumn(complete_style="magenta", finished_style="green"),
            TextColumn("{task.fields[counts]}", markup=False),
            RateColumn(),
            console=console,
            auto_refresh=False,
            speed_estimate_period=RATE_WINDOW_SECONDS,
            get_time=clock,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task: TaskID | None = None

    def show(self, progress: Progress, state: Verdict) -> None:
        # A campaign without messages has a total of 0: Rich draws that as an empty bar.
        total = max(progress.expected, 1)
        completed = progress.ended if progress.expected else round(progress.fraction)
        label, counts = bar_label(progress, state), bar_counts(progress)
        sending = state is Verdict.SENDING
        if self._task is None:
            self._bar.start()
            self._task = self._bar.add_task(
                label, total=total, completed=completed, counts=counts, sending=sending
            )
        else:
            self._bar.update(
                self._task,
                description=label,
                total=total,
                completed=completed,
                counts=counts,
                sending=sending,
            )
        self._bar.refresh()

    def note(self, text: str) -> None:
        # Printed above the bar, which stays at the bottom.
        print_line(self._console, text)

    def close(self, result: WatchResult | None) -> None:
        self._bar.stop()
        if result is not None and not result.timed_out:
            print_line(self._console, watch_outcome(result.progress, result.verdict))


class LogDisplay:
    """A line whenever the status or a count changed."""

    def __init__(self, output: Output, clock: Callable[[], datetime] = datetime.now) -> None:
        self._output = output
        self._clock = clock
        self._last: tuple[object, ...] | None = None

    def show(self, progress: Progress, state: Verdict) -> None:
        seen = (
            state,
            progress.status,
            progress.ended,
            progress.sent,
            progress.failed,
            progress.delivered,
            progress.expected,
        )
        if seen != self._last:
            self._last = seen
            print_line(self._output.out, progress_log_line(progress, state, self._clock()))

    def note(self, text: str) -> None:
        print_line(self._output.out, text)

    def close(self, result: WatchResult | None) -> None:
        if result is not None and not result.timed_out:
            print_line(self._output.out, watch_outcome(result.progress, result.verdict))


class JsonDisplay:
    """A JSON object per change; the last one says how the watch ended (``outcome``)."""

    def __init__(self, output: Output) -> None:
        self._output = output
        self._last: dict[str, object] | None = None

    def show(self, progress: Progress, state: Verdict) -> None:
        snapshot = {**progress.as_json(), "state": state.value}
        if snapshot != self._last:
            self._last = snapshot
            self._output.json_line(snapshot)

    def note(self, text: str) -> None:
        self._output.note(text)

    def close(self, result: WatchResult | None) -> None:
        if result is None:
            return
        outcome = "timeout" if result.timed_out else result.verdict.value
        self._output.json_line(
            {**result.progress.as_json(), "state": result.verdict.value, "outcome": outcome}
        )


def display_for(output: Output) -> Display:
    """JSON with ``--json``; the live bar where it can be redrawn; else log lines."""
    if output.json:
        return JsonDisplay(output)
    if output.out.is_interactive:
        return LiveDisplay(output.out)
    return LogDisplay(output)
