"""What ``herald campaigns watch`` shows: the live bar's texts, a log line per change, and how
the watch ended."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from herald_cli.progress import Progress, Verdict
from herald_cli.views.campaigns import counts_text
from herald_cli.views.times import duration

VERDICT_WORDS: Mapping[Verdict, str] = {
    Verdict.ALL_ENDED: "completing",
    Verdict.WAITING: "scheduled",
    Verdict.RUN_OVER: "run over",
}
"""Where the watch's word differs from the campaign's status."""

MAX_NAME_LENGTH = 24


def state_word(progress: Progress, state: Verdict) -> str:
    return VERDICT_WORDS.get(state, progress.status)


def bar_label(progress: Progress, state: Verdict) -> str:
    """Left of the bar: ``Summer Sale  running``."""
    return f"{progress.name[:MAX_NAME_LENGTH]}  {state_word(progress, state)}"


def bar_counts(progress: Progress) -> str:
    """Right of the bar: ``60%  6/10  sent 6  failed 0  pending 4``."""
    parts = [
        f"{progress.fraction * 100:.0f}%",
        f"{progress.ended}/{progress.expected}",
        f"sent {progress.sent}",
        f"failed {progress.failed}",
        f"pending {progress.pending}",
    ]
    if progress.cancelled:
        parts.append(f"cancelled {progress.cancelled}")
    return "  ".join(parts)


def rate_text(per_second: float | None, seconds_left: float | None) -> str:
    """``2.0/s  ETA 0:05``: messages ended per second and the time left at that rate; nothing
    until there is a rate."""
    if not per_second:
        return ""
    if seconds_left is None:
        return f"{per_second:.1f}/s"
    return f"{per_second:.1f}/s  ETA {duration(seconds_left)}"


def progress_log_line(progress: Progress, state: Verdict, at: datetime) -> str:
    """One line per change, for a log or a pipe."""
    return (
        f"{at.strftime('%H:%M:%S')}  {state_word(progress, state)}  "
        f"{progress.ended}/{progress.expected} ({progress.fraction * 100:.0f}%)  "
        f"sent {progress.sent}  delivered {progress.delivered}  failed {progress.failed}  "
        f"pending {progress.pending}"
        + (f"  cancelled {progress.cancelled}" if progress.cancelled else "")
    )


def watch_outcome(progress: Progress, state: Verdict) -> str:
    summary = counts_text(progress)
    if state is Verdict.COMPLETED:
        return f"Campaign {progress.campaign_id} completed: {summary}."
    if state is Verdict.RUN_OVER:
        return (
            f"Campaign {progress.campaign_id}: run {progress.run} is over ({summary}); "
            "it is scheduled for its next run."
        )
    if state is Verdict.CANCELLED:
        return f"Campaign {progress.campaign_id} was cancelled: {summary}."
    return (
        f"Campaign {progress.campaign_id} is a draft: nothing is sent until "
        f"`herald campaigns send {progress.campaign_id}`."
    )


def watch_gave_up(progress: Progress, after_seconds: float) -> str:
    """Why ``--timeout`` ended the watch (exit 4)."""
    return (
        f"gave up after {after_seconds:g} s: campaign {progress.campaign_id} is "
        f"{progress.status}, {progress.ended} of {progress.expected} messages ended"
    )
