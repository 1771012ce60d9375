"""What ``herald`` says when the API refused: the status, each field it names and the flag
that set it, and what helps with a 401 or an import that stopped."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

from herald_cli.api import ApiError, FieldError

FIELD_FLAGS: Mapping[str, str] = {
    "name": "--name",
    "id": "--id",
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
    "after": "--after",
    "languages": "--language",
    "extra.opt-out": "--opt-out",
    "extra.opt-in": "--opt-in",
    "extra.help": "--help-word",
    "removed": "--remove",
    "replies.opt-out": "--reply-opt-out",
    "replies.opt-in": "--reply-opt-in",
    "replies.help": "--reply-help",
}
"""The request fields the CLI fills from its flags: an error naming a field names the flag
(``languages[1]`` is one of the ``languages``)."""

INDEXED_FIELD = re.compile(r"^(?P<name>.+)\[(?P<index>\d+)\]$")
SUPPRESSION_IMPORT = "/api/suppressions/import"


def field_label(field: str) -> str:
    indexed = INDEXED_FIELD.match(field)
    flag = FIELD_FLAGS.get(field) or (FIELD_FLAGS.get(indexed["name"]) if indexed else None)
    return f"{field} ({flag})" if flag else field


def naming_given_values(error: ApiError, name: str, values: Sequence[str]) -> ApiError:
    """The error with each field ``name[i]`` it names followed by the i-th value given, so that
    ``numbers[2]: invalid phone number`` says which number: ``numbers[2] (12345)``."""
    fields = []
    for f in error.fields:
        indexed = INDEXED_FIELD.match(f.field)
        if indexed and indexed["name"] == name and int(indexed["index"]) < len(values):
            f = FieldError(f"{f.field} ({values[int(indexed['index'])]})", f.message)
        fields.append(f)
    return replace(error, fields=fields)


def api_error_text(error: ApiError, *, token_source: str) -> str:
    """``422 validation failed`` and a line per field the API names (and the flag that set
    it), plus what helps with a 401 or an import that stopped."""
    lines = [f"{error.status} {error.message}"]
    lines += [f"  {field_label(f.field)}: {f.message}" for f in error.fields]
    if error.status in (401, 403):
        lines.append(f"  (the token came from {token_source})")
    if isinstance(error.body.get("line"), int):
        body = error.body
        lines.append(
            f"  the rows before line {body['line']} were imported: {body.get('accepted')} added, "
            f"the campaign has {body.get('total')} contacts"
        )
    if error.status == 400 and error.path == SUPPRESSION_IMPORT:
        lines.append(
            "  numbers of the lines before it may be on the list already: importing the file "
            "again once fixed is safe"
        )
    if isinstance(error.body.get("reason"), str) and error.body["reason"] not in error.message:
        lines.append(f"  reason: {error.body['reason']}")
    return "\n".join(lines)
