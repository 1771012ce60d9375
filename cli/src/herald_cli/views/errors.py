"""What ``herald`` says when the API refused: the status, each field it names and the flag
that set it, and what helps with a 401 or an import that stopped."""

from __future__ import annotations

from collections.abc import Mapping

from herald_cli.api import ApiError

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
