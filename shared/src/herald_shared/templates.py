"""Message body templates: ``{{field}}`` and ``{{field|default}}``. Pure substitution.

Rendering looks up names in the contact's fields only; nothing is evaluated, so a hostile
template cannot reach anything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

WHATSAPP_MAX_BODY = 4096
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|([^}]*))?\}\}")


def render(template: str, fields: Mapping[str, object]) -> str:
    """Replace each placeholder by the contact's field, its default, or nothing."""

    def substitute(match: re.Match[str]) -> str:
        value = fields.get(match.group(1))
        if value is None or value == "":
            return (match.group(2) or "").strip()
        return str(value)

    return PLACEHOLDER.sub(substitute, template)


def placeholders(template: str) -> list[str]:
    """The field names a template refers to, in order of first use."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(template):
        seen.setdefault(match.group(1), None)
    return list(seen)
