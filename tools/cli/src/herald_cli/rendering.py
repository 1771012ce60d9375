"""What the CLI prints for people: errors, tables, summaries, the progress line. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from herald_cli.api import ApiError
from herald_cli.progress import Progress, Verdict

FIELD_FLAGS: Mapping[str, str] = {
    "name": "--name",
    "messageBody": "--body",
    "delayType": "--delay-type",
    "customDelay": "--min-delay/--max-delay",
    "customDelay.minSeconds": "--min-delay",
    "customDelay.maxSeconds": "--max-delay",
    "expiresAt": "--expires-at",
    "validForSeconds": "--valid-for",
    "sendAt": "--at",
    "cron": "--cron",
    "timezone": "--timezone",
    "reason": "--reason",
    "campaignId": "--campaign",
    "limit": "--limit",
    "offset": "--offset",
}
"""The request fields the CLI fills from its flags: an error naming a field names the flag."""

MAX_LISTED_REJECTIONS = 20


def field_label(field: str) -> str:
    flag = FIELD_FLAGS.get(field)
    return f"{field} ({flag})" if flag else field


def api_error_text(error: ApiError, *, token_source: str) -> str:
    """``422 validation failed`` and a line per field the API names (and the flag that set
    it), plus what helps with a 401 or an import that stopped."""
    lines = [f"{error.status} {error.message}"]
    lines += [f"  {field_label(f.field)}: {f.message}" for f in error.fields]
    if error.status == 401:
        lines.append(f"  (the token came from {token_source})")
    if isinstance(error.body.get("line"), int):
        body = error.body
        lines.append(
            f"  the rows before line {body['line']} were imported: {body.get('accepted')} added, "
            f"the campaign has {body.get('total')} contacts"
        )
    if isinstance(error.body.get("reason"), str) and error.body["reason"] not in error.message:
        lines.append(f"  reason: {error.body['reason']}")
    return "\n".join(lines)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; numbers aligned right."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(isinstance(r[i], int | float) for r in rows) if rows else False
        for i in range(len(headers))
    ]

    def line(row: list[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join(line(row) for row in cells)


def short_time(value: object) -> str:
    """An API time (ISO 8601) as ``2026-11-29 21:06:03``, in the offset it came in."""
    if not isinstance(value, str) or not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    offset = moment.strftime("%z")
    return f"{text}Z" if offset in ("+0000", "") else f"{text}{offset[:3]}:{offset[3:]}"


def ago(value: object, now: datetime) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``; ``never`` when there is no time."""
    if not isinstance(value, str) or not value:
        return "never"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    seconds = max((now - moment).total_seconds(), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


# Campaigns


def campaign_created(campaign: Mapping[str, Any]) -> str:
    return (
        f'Created campaign {campaign["id"]} "{campaign["name"]}" '
        f"({campaign['status']}, delay {delay_text(campaign)}).\n"
        f"Next: herald contacts import {campaign['id']} FILE.csv"
    )


def delay_text(campaign: Mapping[str, Any]) -> str:
    custom = campaign.get("customDelay")
    if isinstance(custom, Mapping):
        return f"{custom.get('minSeconds'):g}-{custom.get('maxSeconds'):g} s"
    return str(campaign.get("delayType", "balanced"))


def campaigns_table(listing: Mapping[str, Any]) -> str:
    campaigns = listing.get("campaigns") or []
    rows = [
        [c["id"], c["name"], c["status"], c.get("contactCount", 0), short_time(c["createdAt"])]
        for c in campaigns
    ]
    body = table(["ID", "NAME", "STATUS", "CONTACTS", "CREATED"], rows)
    return f"{body}\n{_page_note(len(campaigns), listing)}"


def _page_note(shown: int, listing: Mapping[str, Any]) -> str:
    total, offset = listing.get("total", shown), listing.get("offset", 0)
    if shown == 0:
        return f"none of {total}" if total else "none"
    return f"{offset + 1}-{offset + shown} of {total}"


def campaign_details(campaign: Mapping[str, Any], progress: Progress) -> str:
    rows: list[tuple[str, str]] = [
        ("status", _status_text(campaign)),
        ("contacts", str(campaign.get("contactCount", 0))),
        ("delay", delay_text(campaign)),
        ("messages", counts_text(progress)),
        ("created", short_time(campaign.get("createdAt"))),
    ]
    if campaign.get("launchedAt"):
        rows.append(("launched", short_time(campaign["launchedAt"])))
    if campaign.get("expiresAt"):
        rows.append(("expires", short_time(campaign["expiresAt"])))
    width = max(len(label) for label, _ in rows)
    lines = [f"{campaign['id']}  {campaign['name']}"]
    lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join(lines)


def _status_text(campaign: Mapping[str, Any]) -> str:
    status = str(campaign.get("status"))
    run = campaign.get("run") or 0
    text = f"{status} (run {run})" if run and run > 1 else status
    if status == "paused":
        by = campaign.get("pausedBy") or "user"
        reason = campaign.get("pauseReason")
        text += f" by {by}" + (f": {reason}" if reason else "")
    if status == "cancelled" and campaign.get("cancelReason"):
        text += f": {campaign['cancelReason']}"
    return text


def counts_text(progress: Progress) -> str:
    parts = [
        f"{progress.sent} sent",
        f"{progress.delivered} delivered",
        f"{progress.failed} failed",
        f"{progress.pending} pending",
    ]
    if progress.cancelled:
        parts.append(f"{progress.cancelled} cancelled")
    return f"{', '.join(parts)} of {progress.expected}; success {progress.success_rate}%"


def send_result(result: Mapping[str, Any]) -> str:
    campaign_id = result.get("campaignId")
    if result.get("status") == "scheduled":
        return (
            f"Campaign {campaign_id} is scheduled (schedule {result.get('scheduleId')}); "
            f"next run at {short_time(result.get('nextRunAt'))}.\n"
            f"Watch it: herald campaigns watch {campaign_id}"
        )
    return (
        f"Campaign {campaign_id} is running: the dispatcher is making its messages.\n"
        f"Watch it: herald campaigns watch {campaign_id}"
    )


def lifecycle_result(campaign: Mapping[str, Any]) -> str:
    text = f"Campaign {campaign['id']} is {_status_text(campaign)}."
    if campaign.get("status") == "cancelled" and campaign.get("cancelledMessages") is not None:
        text += f" {campaign['cancelledMessages']} unsent messages cancelled."
    return text


# Contacts


def import_summary(campaign_id: str, source: str, result: Mapping[str, Any]) -> str:
    rejected = result.get("rejected") or []
    rejected_count = result.get("rejectedCount", len(rejected))
    duplicates = result.get("duplicates", 0)
    lines = [
        f"Imported {source} into {campaign_id}: {result.get('accepted', 0)} added, "
        f"{duplicates} duplicate{'' if duplicates == 1 else 's'}, {rejected_count} rejected; "
        f"the campaign has {result.get('total', 0)} contacts."
    ]
    if rejected:
        listed = rejected[:MAX_LISTED_REJECTIONS]
        rows = [
            [r.get("line", r.get("index")), r.get("phone", ""), r.get("reason", "")] for r in listed
        ]
        lines += ["Rejected:", _indent(table(["LINE", "PHONE", "REASON"], rows))]
        if rejected_count > len(listed):
            lines.append(
                f"  … and {rejected_count - len(listed)} more (--json lists the first 1000)"
            )
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


# Dead letters


def dead_letters_table(listing: Mapping[str, Any]) -> str:
    letters = listing.get("deadLetters") or []
    rows = [
        [
            d["id"],
            d.get("campaignId") or "-",
            d.get("messageId") or "(poison record)",
            d.get("reason", ""),
            d.get("attempts", 0),
            d.get("status", ""),
            short_time(d.get("lastFailureAt") or d.get("recordedAt")),
        ]
        for d in letters
    ]
    headers = ["ID", "CAMPAIGN", "MESSAGE", "REASON", "ATTEMPTS", "STATUS", "LAST FAILURE"]
    return f"{table(headers, rows)}\n{_page_note(len(letters), listing)}"


def redrive_result(result: Mapping[str, Any]) -> str:
    letter = result.get("deadLetter") or {}
    message = result.get("message")
    if isinstance(message, Mapping):
        return (
            f"{letter.get('id')}: message {message.get('id')} is {message.get('status')} again, "
            f"attempt {message.get('attempt')} on {result.get('topic')}"
        )
    return f"{letter.get('id')}: the record is back on {result.get('topic')}"


def campaign_redrive_result(campaign_id: str, result: Mapping[str, Any]) -> str:
    skipped = result.get("skipped", 0)
    text = f"{campaign_id}: {result.get('redriven', 0)} dead letters redriven"
    if skipped:
        text += f", {skipped} left open (their message is no longer failed)"
    return text


# Accounts


def session_health(session: Mapping[str, Any], now: datetime) -> str:
    health = session.get("health") or {}
    status = str(health.get("status", "UNKNOWN"))
    if status == "UNKNOWN":
        return status
    text = f"{status} ({ago(health.get('checkedAt'), now)})"
    detail = health.get("detail")
    return f"{text}: {detail}" if detail and status != "WORKING" else text


def accounts_table(listing: Mapping[str, Any], now: datetime) -> str:
    accounts = listing.get("accounts") or []
    rows = [
        [
            a["id"],
            a["phone"],
            a.get("name") or "",
            a["status"],
            session_health(a.get("primary") or {}, now),
            session_health(a.get("fallback") or {}, now),
            a.get("dailyAllowance", ""),
        ]
        for a in accounts
    ]
    headers = ["ID", "PHONE", "NAME", "STATUS", "PRIMARY", "FALLBACK", "TODAY"]
    return f"{table(headers, rows)}\n{_page_note(len(accounts), listing)}"


# Queue stats


def queue_stats_text(stats: Mapping[str, Any]) -> str:
    by_status: Mapping[str, int] = stats.get("byStatus") or {}
    lines = ["Messages by status"]
    if by_status:
        lines.append(_indent(table(list(by_status), [list(by_status.values())])))
    else:
        lines.append("  none")
    consumers = stats.get("consumers") or []
    lines.append("Consumer lag")
    rows = [[c["group"], c["topic"], c["lag"], c["committed"], c["endOffset"]] for c in consumers]
    lines.append(_indent(table(["GROUP", "TOPIC", "LAG", "COMMITTED", "END"], rows)))
    circuits = stats.get("circuits") or []
    lines.append("Circuit breakers")
    if circuits:
        rows = [
            [
                c["accountId"],
                c["engine"],
                c["state"],
                c.get("consecutiveFailures", 0),
                short_time(c.get("openUntil")) if c.get("openUntil") else "-",
                c.get("reason") or "",
            ]
            for c in circuits
        ]
        headers = ["ACCOUNT", "ENGINE", "STATE", "FAILURES", "OPEN UNTIL", "REASON"]
        lines.append(_indent(table(headers, rows)))
    else:
        lines.append("  none (every circuit closed)")
    return "\n".join(lines)


# Progress

BAR_UNICODE = ("█", "░")
BAR_ASCII = ("#", "-")
BAR_MIN, BAR_MAX = 10, 40
RATE_ROOM = len("  12.3/s  ETA 12:34")


def bar(fraction: float, width: int, *, unicode: bool = True) -> str:
    full, empty = BAR_UNICODE if unicode else BAR_ASCII
    filled = round(max(0.0, min(fraction, 1.0)) * width)
    return f"[{full * filled}{empty * (width - filled)}]"


def duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


VERDICT_WORDS: Mapping[Verdict, str] = {
    Verdict.ALL_ENDED: "completing",
    Verdict.WAITING: "scheduled",
    Verdict.RUN_OVER: "run over",
}


def progress_line(
    progress: Progress,
    state: Verdict,
    *,
    rate: float | None,
    seconds_left: float | None,
    columns: int,
    unicode: bool = True,
) -> str:
    """One line for a terminal: name, status, bar, counts, then rate and time left if they
    fit in ``columns`` (a line that wraps cannot be redrawn in place)."""
    head = f"{progress.name[:24]}  {VERDICT_WORDS.get(state, progress.status)}  "
    counts = [
        f"{progress.fraction * 100:.0f}%",
        f"{progress.ended}/{progress.expected}",
        f"sent {progress.sent}",
        f"failed {progress.failed}",
        f"pending {progress.pending}",
    ]
    if progress.cancelled:
        counts.append(f"cancelled {progress.cancelled}")
    extras = []
    if rate and state is Verdict.SENDING:
        extras.append(f"{rate:.1f}/s")
        if seconds_left is not None:
            extras.append(f"ETA {duration(seconds_left)}")
    limit = max(columns - 1, 1)
    # The bar takes what the rest leaves (its cells and two brackets), within bounds, keeping
    # room for the rate and time left so that it does not jump when they come and go; on a
    # narrow terminal they go first, then the last counts.
    tail_length = sum(len(part) + 2 for part in counts) + RATE_ROOM
    width = max(BAR_MIN, min(BAR_MAX, limit - len(head) - tail_length - 2))
    line = head + bar(progress.fraction, width, unicode=unicode)
    for part in [*counts, *extras]:
        if len(line) + 2 + len(part) > limit:
            break
        line += f"  {part}"
    return line[:limit]


def progress_log_line(progress: Progress, state: Verdict, at: datetime) -> str:
    """One line per change, for a log or a pipe."""
    status = VERDICT_WORDS.get(state, progress.status)
    return (
        f"{at.strftime('%H:%M:%S')}  {status}  {progress.ended}/{progress.expected} "
        f"({progress.fraction * 100:.0f}%)  sent {progress.sent}  delivered {progress.delivered}"
        f"  failed {progress.failed}  pending {progress.pending}"
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
