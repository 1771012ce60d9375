"""Which submitted contacts a campaign takes: valid, normalised and new. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from herald_campaign.domain.phones import InvalidPhoneNumber, normalise_phone
from herald_core.templates import (
    BODY_TOO_LONG,
    WHATSAPP_MAX_BODY,
    fits_whatsapp,
    template_fields,
)

ContactFieldValue = str | int | float | bool | None


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
