"""Which submitted contacts a campaign takes: valid, normalised and new. Pure; no I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from herald_campaign.domain.phones import InvalidPhoneNumber, normalise_phone
from herald_core.templates import (
    BODY_TOO_LONG,
    FIELD_NAME,
    WHATSAPP_MAX_BODY,
    fits_whatsapp,
    template_fields,
)

ContactFieldValue = str | int | float | bool | None

SMALLEST_WHOLE_VALUE = -(2**63)
LARGEST_WHOLE_VALUE = 2**63 - 1
"""A whole-number field value is stored as MongoDB's 64-bit integer: it must fit one."""


def check_field_name(name: str) -> str:
    """``name`` if a contact's custom field may be called so: a template can use it
    (``{{city}}``), which also keeps ``$``, ``.`` and the empty name out of the stored document;
    ValueError naming it otherwise."""
    if not FIELD_NAME.fullmatch(name):
        raise ValueError(
            f"field name {name!r} cannot be used in a template: name it with letters, digits "
            "and _, not starting with a digit"
        )
    return name


def check_field_value(value: ContactFieldValue) -> ContactFieldValue:
    """``value`` if Herald can store and render it: a whole number within 64 bits, a finite
    number (no NaN or Infinity); ValueError saying which otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not SMALLEST_WHOLE_VALUE <= value <= LARGEST_WHOLE_VALUE:
        raise ValueError(
            f"a whole number must lie from {SMALLEST_WHOLE_VALUE} to {LARGEST_WHOLE_VALUE} "
            "(64 bits); send a longer one as text"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number, not NaN or Infinity")
    return value


@dataclass(frozen=True)
class SubmittedContact:
    """A contact as a client sent it."""

    phone: str
    name: str | None = None
    fields: Mapping[str, ContactFieldValue] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceptedContact:
    """A contact with its number in E.164 form; it still may exist in the campaign."""

    index: int
    phone: str
    name: str | None
    fields: Mapping[str, ContactFieldValue]


@dataclass(frozen=True)
class RejectedContact:
    index: int
    phone: str
    reason: str


@dataclass(frozen=True)
class ContactScreening:
    """The outcome of screening one request's contacts.

    ``accepted`` holds each number once; ``repeated`` counts the entries that repeat a number
    seen earlier in the same request.
    """

    accepted: list[AcceptedContact]
    rejected: list[RejectedContact]
    repeated: int


def screen_contacts(
    contacts: Iterable[SubmittedContact],
    default_region: str | None,
    *,
    message_body: str | None = None,
    body_limit: int = WHATSAPP_MAX_BODY,
) -> ContactScreening:
    """Normalise each number, reject the invalid ones and drop repeats within the request.

    With the campaign's ``message_body``, a contact whose own fields would render it longer
    than WhatsApp delivers (``body_limit``: a media caption's is shorter) is rejected too
    (``body-too-long``), rendered as the dispatcher will.
    """
    accepted: list[AcceptedContact] = []
    rejected: list[RejectedContact] = []
    seen: set[str] = set()
    repeated = 0
    for index, contact in enumerate(contacts):
        try:
            e164 = normalise_phone(contact.phone, default_region)
        except InvalidPhoneNumber as invalid:
            rejected.append(RejectedContact(index, contact.phone, invalid.reason))
            continue
        if message_body is not None and not fits_whatsapp(
            message_body, template_fields(e164, contact.name, contact.fields), body_limit
        ):
            rejected.append(RejectedContact(index, contact.phone, BODY_TOO_LONG))
            continue
        if e164 in seen:
            repeated += 1
            continue
        seen.add(e164)
        accepted.append(AcceptedContact(index, e164, contact.name, dict(contact.fields)))
    return ContactScreening(accepted, rejected, repeated)
