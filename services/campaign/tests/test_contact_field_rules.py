"""A contact's custom fields are what Herald can store and a template can use: names a
placeholder can hold (never ``$x``, ``a.b`` or empty), whole numbers within MongoDB's 64 bits,
finite numbers."""

from __future__ import annotations

import math

import pytest

from herald_campaign.domain.contacts import (
    LARGEST_WHOLE_VALUE,
    SMALLEST_WHOLE_VALUE,
    ContactFieldValue,
    check_field_name,
    check_field_value,
)


@pytest.mark.parametrize("name", ["city", "first_name", "_x", "Order2", "a" * 64])
def test_a_name_a_template_can_use_is_taken(name: str) -> None:
    assert check_field_name(name) == name


@pytest.mark.parametrize("name", ["$x", "a.b", "", "2nd", "first name", "a-b", "a\x00b", "é"])
def test_a_name_no_template_can_use_is_refused_naming_it(name: str) -> None:
    with pytest.raises(ValueError, match="cannot be used in a template") as refused:
        check_field_name(name)
    assert repr(name) in str(refused.value)


@pytest.mark.parametrize(
    "value",
    ["Pune", "", 0, -1, SMALLEST_WHOLE_VALUE, LARGEST_WHOLE_VALUE, 1.5, -0.0, 1e308, True, None],
)
def test_values_mongodb_stores_are_taken_as_they_are(value: ContactFieldValue) -> None:
    assert check_field_value(value) is value


@pytest.mark.parametrize(
    "value", [LARGEST_WHOLE_VALUE + 1, SMALLEST_WHOLE_VALUE - 1, 99999999999999999999]
)
def test_a_whole_number_past_64_bits_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match="64 bits"):
        check_field_value(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        check_field_value(value)


def test_the_bounds_are_mongodbs_64_bit_integer() -> None:
    assert (SMALLEST_WHOLE_VALUE, LARGEST_WHOLE_VALUE) == (-(2**63), 2**63 - 1)
