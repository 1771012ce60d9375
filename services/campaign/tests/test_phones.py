"""Phone numbers: what a campaign accepts, and the E.164 form it stores."""

from __future__ import annotations

import pytest

from herald_campaign.domain.phones import (
    INVALID_NUMBER,
    MISSING_COUNTRY_CODE,
    NOT_MOBILE_CAPABLE,
    InvalidPhoneNumber,
    normalise_phone,
)


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("+919876543210", "+919876543210"),
        ("+91 98765 43210", "+919876543210"),
        ("+91-98765-43210", "+919876543210"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("+1.650.253.0000", "+16502530000"),
        ("+44 7911 123456", "+447911123456"),
        ("  +919876543210  ", "+919876543210"),
    ],
)
def test_international_numbers_are_normalised_to_e164(written: str, e164: str) -> None:
    assert normalise_phone(written) == e164


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("9876543210", "+919876543210"),
        ("098765 43210", "+919876543210"),
        ("0091 98765 43210", "+919876543210"),
    ],
)
def test_national_numbers_take_the_default_region(written: str, e164: str) -> None:
    assert normalise_phone(written, "IN") == e164


def test_national_number_of_another_region() -> None:
    assert normalise_phone("(415) 555-2671", "US") == "+14155552671"


def test_a_national_number_without_default_region_needs_its_country_code() -> None:
    with pytest.raises(InvalidPhoneNumber) as rejected:
        normalise_phone("9876543210", None)
    assert rejected.value.reason == MISSING_COUNTRY_CODE


@pytest.mark.parametrize(
    "written",
    [
        "",
        "   ",
        "not-a-phone",
        "garbage!!",
        "12345",  # too short
        "+91 98765",  # too short
        "+91987654321098765",  # too long
        "+919876543210x",  # phonenumbers alone would drop the letter
        "+1 800 FLOWERS",  # and this one it would read as a vanity number
        "+0 123 456 7890",  # no country code 0
        "++919876543210",
        "+91 0000000000",
    ],
)
def test_invalid_numbers_are_rejected(written: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as rejected:
        normalise_phone(written, "IN")
    assert rejected.value.reason == INVALID_NUMBER


@pytest.mark.parametrize("written", ["+1 800 234 5678", "+44 900 123 4567"])
def test_numbers_that_cannot_receive_messages_are_rejected(written: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as rejected:
        normalise_phone(written)
    assert rejected.value.reason == NOT_MOBILE_CAPABLE


def test_a_fixed_line_is_accepted_since_whatsapp_business_runs_on_landlines() -> None:
    assert normalise_phone("+91 22 2345 6789") == "+912223456789"
