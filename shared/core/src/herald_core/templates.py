"""Message body templates: ``{{field}}`` and ``{{field|default}}``. Plain substitution.

A placeholder names one of the contact's fields (letters, digits and ``_``, not starting with a
digit), optionally followed by ``|`` and a default used when the field is missing or empty. It
may hold spaces around the name (``{{ name | there }}``). Rendering looks names up in the
contact's fields only and evaluates nothing: text that is not a well-formed placeholder
(``{% ... %}``, ``{{ name.__class__ }}``) is left as it is, and a default is never rendered
again.

:func:`check_message_body` is the rule for a new campaign's body: every ``{{`` opens a
well-formed placeholder, and the body rendered with every placeholder at its default fits
WhatsApp's limit. A contact whose own fields would make the message too long is refused when it
is added (:func:`fits_whatsapp`), so no message fails for its length when it is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

WHATSAPP_MAX_BODY = 4096
"""The longest text message WhatsApp delivers, in characters."""

MAX_TEMPLATE_LENGTH = 4 * WHATSAPP_MAX_BODY
"""How long a body may be as written: its placeholders may make it longer than the message it
renders, which is what must fit WhatsApp's limit; this only bounds what is stored."""

FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What a field must be called to be usable in a placeholder."""

_INSIDE = r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|([^{}]*))?"
_PLACEHOLDER = re.compile(r"\{\{" + _INSIDE + r"\}\}")
_PLACEHOLDER_INSIDE = re.compile(_INSIDE)

INVALID_TEMPLATE = "invalid-template"
BODY_TOO_LONG = "body-too-long"


class TemplateError(ValueError):
    """A message body a campaign cannot have; ``reason`` is a short code, the message says
    what and where."""

    reason = INVALID_TEMPLATE

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        """Offset of the offending placeholder in the body (0-based), when there is one."""


class MalformedPlaceholder(TemplateError):
    """A ``{{`` that does not open a well-formed placeholder."""

    reason = INVALID_TEMPLATE


class BodyTooLong(TemplateError):
    """The body renders longer than WhatsApp delivers."""

    reason = BODY_TOO_LONG


def render(template: str, fields: Mapping[str, object]) -> str:
    """Replace each placeholder by the contact's field, its default, or nothing.

    Only ``fields`` are looked up, by exact name; the result is not rendered again.
    """

    def substitute(match: re.Match[str]) -> str:
        value = fields.get(match.group(1))
        if value is None or value == "":
            return (match.group(2) or "").strip()
        return str(value)

    return _PLACEHOLDER.sub(substitute, template)


def placeholders(template: str) -> list[str]:
    """The field names a template refers to, in order of first use."""
    seen: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(template):
        seen.setdefault(match.group(1), None)
    return list(seen)


def template_fields(
    phone: str, name: str | None, fields: Mapping[str, object]
) -> dict[str, object]:
    """The names a contact's message may use: its custom fields, its name and its phone (the
    last two win over custom fields of the same name). The dispatcher renders with these."""
    return {**fields, "name": name, "phone": phone}


def fits_whatsapp(
    template: str, fields: Mapping[str, object], limit: int = WHATSAPP_MAX_BODY
) -> bool:
    """Whether the message rendered for ``fields`` is short enough for WhatsApp (``limit``: a
    text's 4,096 characters, or a media caption's 1,024)."""
    return len(render(template, fields)) <= limit


def check_placeholders(template: str) -> None:
    """Raise :class:`MalformedPlaceholder` (with its position) at the first ``{{`` that does
    not open a placeholder: unclosed, nested, or not a field name with an optional default."""
    start = template.find("{{")
    while start != -1:
        end = template.find("}}", start + 2)
        if end == -1:
            raise MalformedPlaceholder(
                f"unclosed placeholder {_excerpt(template[start:])} at {_where(template, start)}:"
                " close it with }}",
                start,
            )
        inside = template[start + 2 : end]
        if "{{" in inside:
            raise MalformedPlaceholder(
                f"placeholder at {_where(template, start)} holds another '{{{{': placeholders"
                " cannot be nested",
                start,
            )
        if not _PLACEHOLDER_INSIDE.fullmatch(inside):
            raise MalformedPlaceholder(
                f"{_excerpt(template[start : end + 2])} at {_where(template, start)} is not a"
                " placeholder: write {{field}} or {{field|default}} (a field name is letters,"
                " digits and _, not starting with a digit; a default has no braces)",
                start,
            )
        start = template.find("{{", end + 2)


def check_message_body(template: str, limit: int = WHATSAPP_MAX_BODY) -> None:
    """The rule for a campaign's body: well-formed placeholders (:func:`check_placeholders`),
    and rendered with every placeholder at its default (empty without one) it fits WhatsApp's
    ``limit`` (a caption's is 1,024); raises :class:`TemplateError` otherwise."""
    check_placeholders(template)
    length = len(render(template, {}))
    if length > limit:
        what = "a media caption" if limit < WHATSAPP_MAX_BODY else "a message"
        raise BodyTooLong(
            f"renders to {length} characters with every placeholder at its default; WhatsApp"
            f" delivers at most {limit} in {what}"
        )


def _where(template: str, offset: int) -> str:
    line = template.count("\n", 0, offset) + 1
    column = offset - (template.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def _excerpt(text: str, limit: int = 30) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
