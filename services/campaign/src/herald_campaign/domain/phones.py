"""Phone number validation and E.164 normalisation. Pure; no I/O."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

INVALID_NUMBER = "invalid phone number"
MISSING_COUNTRY_CODE = "missing country code (use the +<country code> form)"
NOT_MOBILE_CAPABLE = "not a mobile-capable number"

# Digits and the punctuation people write numbers with. phonenumbers itself would read letters
# as a vanity number ("1-800-FLOWERS") or drop trailing garbage; a contact list should not.
_WRITTEN_NUMBER = re.compile(r"^\+?[0-9 ()./-]*[0-9][0-9 ()./-]*$")

# Numbers that cannot receive a WhatsApp message. Fixed lines stay allowed: WhatsApp Business
# runs on landlines too, and the gateway reports a non-WhatsApp number as a permanent failure.
_UNREACHABLE_TYPES = frozenset(
    {
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.PAGER,
        PhoneNumberType.UAN,
        PhoneNumberType.VOICEMAIL,
    }
)


class InvalidPhoneNumber(ValueError):
    """A phone number a campaign cannot send to; ``reason`` is what the API reports."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise_phone(raw: str, default_region: str | None = None) -> str:
    """The E.164 form (``+919876543210``) of a written phone number.

    A number without ``+`` is read as a national number of ``default_region`` (ISO 3166 code,
    e.g. "IN"); without a default region it needs its country code.
    Raises :class:`InvalidPhoneNumber` with the reason otherwise.
    """
    written = raw.strip()
    if not _WRITTEN_NUMBER.match(written):
        raise InvalidPhoneNumber(INVALID_NUMBER)
    if not written.startswith("+") and not default_region:
        raise InvalidPhoneNumber(MISSING_COUNTRY_CODE)
    try:
        number = phonenumbers.parse(written, None if written.startswith("+") else default_region)
    except NumberParseException as error:
        raise InvalidPhoneNumber(INVALID_NUMBER) from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(INVALID_NUMBER)
    if phonenumbers.number_type(number) in _UNREACHABLE_TYPES:
        raise InvalidPhoneNumber(NOT_MOBILE_CAPABLE)
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))
