"""``herald campaigns watch``: poll a campaign until it completes, showing its progress.

When every message has ended but the campaign is still ``running``, the watch asks the
scheduler to run its sweep now (the sweep is what marks a campaign completed; it otherwise runs
every five minutes), unless ``--no-sweep``. The sweep is a system job, an operator's: the watch
asks for it only with the operator token (``--admin-token``, ``HERALD_ADMIN_TOKEN`` or
``.local/admin-token``, which ``make up`` writes); with a tenant's token alone it says so and
waits for the next sweep. How the progress is shown is the display's business
(watch_displays.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from herald_cli.api import ApiError, HeraldApi
from herald_cli.progress import FINAL_VERDICTS, Progress, Verdict, progress_of, verdict
from herald_cli.views.times import short_time

SWEEP_KIND = "sweep"
SWEEP_AGAIN_SECONDS = 15.0
"""A sweep asked for that did not complete the campaign (a message still moving) is asked for
again after this long."""


@dataclass(frozen=True)
class WatchOptions:
    interval: float = 1.0
    timeout: float | None = None
    request_sweep: bool = True


@dataclass(frozen=True)
class WatchResult:
    progress: Progress
    verdict: Verdict
    timed_out: bool = False


class Display(Protocol):
    """How the watch shows what it sees: watch_displays.py has one for a terminal, a log and
    scripts."""

    def show(self, progress: Progress, state: Verdict) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self, result: WatchResult | None) -> None:
        """The watch ended: with a result, or None when interrupted or failed."""


NO_OPERATOR_TOKEN = (
    "every message ended; the scheduler's next sweep marks the campaign completed (the sweep "
    "is an operator's job: with --admin-token or HERALD_ADMIN_TOKEN the watch asks for it now)"
)

SWEEPING_NOW = (
    "every message ended: the scheduler is sweeping now, which marks the campaign completed"
)


class SweepRequests:
    """Asks the scheduler for its sweep now (an operator's request: ``api`` carries the
    operator token): at most every :data:`SWEEP_AGAIN_SECONDS`. Without ``api``, says once
    that the next sweep completes the campaign."""

    def __init__(self, api: HeraldApi | None, clock: Callable[[], float]) -> None:
        self._api = api
        self._clock = clock
        self._sweep_id: str | None = None
        self._asked_at: float | None = None
        self.refused: str | None = None
        """Why the API would not run the sweep; then the watch waits for its next turn."""

    def ask(self) -> str | None:
        """Ask now if due; returns a note for the first request or a refusal."""
        if self.refused is not None:
            return None
        if self._api is None:
            self.refused = "no operator token"
            return NO_OPERATOR_TOKEN
        now = self._clock()
        if self._asked_at is not None and now - self._asked_at < SWEEP_AGAIN_SECONDS:
            return None
        first = self._asked_at is None
        self._asked_at = now
        try:
            if self._sweep_id is None:
                self._sweep_id = self._find_sweep()
            next_run = self._api.run_system_job(self._sweep_id).get("nextRunAt")
        except ApiError as error:
            if error.status == 409:  # a sweep is under way already: it completes the campaign
                return SWEEPING_NOW if first else None
            return self._refusal(error)
        except LookupError as error:
            return self._refusal(error)
        if first:
            return (
                "every message ended: asked the scheduler to sweep now, which marks the "
                f"campaign completed (its next sweep otherwise: {short_time(next_run)})"
            )
        return None

    def _refusal(self, error: Exception) -> str:
        self.refused = str(error)
        return (
            f"cannot ask for the sweep ({error}); the campaign is marked completed at "
            "the scheduler's next sweep"
        )

    def _find_sweep(self) -> str:
        assert self._api is not None
        for schedule in self._api.system_jobs().get("schedules") or []:
            if schedule.get("system") and schedule.get("kind") == SWEEP_KIND:
                return str(schedule["id"])
        raise LookupError("the scheduler lists no sweep job")


def watch_campaign(
    api: HeraldApi,
    campaign_id: str,
    options: WatchOptions,
    display: Display,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    operator_api: HeraldApi | None = None,
) -> WatchResult:
    """Poll until the campaign is completed, cancelled, between runs, or a draft; or until
    ``options.timeout``. API errors propagate (the caller says them). ``operator_api`` (the
    operator token) is what asks for the sweep; without it the watch waits for the next one."""
    started = clock()
    sweeps = SweepRequests(operator_api, clock)
    result: WatchResult | None = None
    try:
        while True:
            progress = progress_of(api.campaign(campaign_id), api.campaign_stats(campaign_id))
            state = verdict(progress)
            display.show(progress, state)
            if state in FINAL_VERDICTS:
                result = WatchResult(progress, state)
                return result
            if state is Verdict.ALL_ENDED and options.request_sweep:
                note = sweeps.ask()
                if note:
                    display.note(note)
            if options.timeout is not None and clock() - started >= options.timeout:
                result = WatchResult(progress, state, timed_out=True)
                return result
            sleep(options.interval)
    finally:
        display.close(result)
