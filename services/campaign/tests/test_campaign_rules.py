"""Campaign identifiers, contact screening and the API's field names for errors."""

from __future__ import annotations

import re

from herald_campaign.domain.campaigns import (
    campaign_id_for_command,
    contact_id,
    derived_event_id,
    new_campaign_id,
)
from herald_campaign.domain.contacts import SubmittedContact, screen_contacts
from herald_campaign.domain.phones import INVALID_NUMBER
from herald_campaign.entrypoints.rest.errors import field_path


def test_a_create_command_derives_the_same_campaign_id_every_time() -> None:
    assert campaign_id_for_command("evt-1") == campaign_id_for_command("evt-1")
    assert campaign_id_for_command("evt-1") != campaign_id_for_command("evt-2")
    assert re.fullmatch(r"cmp_[0-9a-f]{32}", campaign_id_for_command("evt-1"))


def test_new_campaign_ids_are_unique_and_shaped_alike() -> None:
    ids = {new_campaign_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"cmp_[0-9a-f]{32}", i) for i in ids)


def test_derived_event_ids_depend_on_kind_and_origin() -> None:
    launched = derived_event_id("campaign.launched", "cmd-1")
    assert launched == derived_event_id("campaign.launched", "cmd-1")
    assert launched != derived_event_id("campaign.created", "cmd-1")
    assert launched != derived_event_id("campaign.launched", "cmd-2")
    assert len(launched) <= 128


def test_a_contact_is_one_per_campaign_and_number() -> None:
    assert contact_id("cmp_1", "+919876543210") == "cmp_1:+919876543210"


def test_screening_normalises_rejects_and_drops_repeats() -> None:
    screening = screen_contacts(
        [
            SubmittedContact("+919876543210", "John", {"city": "Pune"}),
            SubmittedContact("+14155552671", "Jane"),
            SubmittedContact("98765 43210", "John again"),  # same number, national form
            SubmittedContact("12345", "Broken"),
            SubmittedContact("+44 7911 123456"),
        ],
        "IN",
    )
    assert [(c.index, c.phone, c.name) for c in screening.accepted] == [
        (0, "+919876543210", "John"),
        (1, "+14155552671", "Jane"),
        (4, "+447911123456", None),
    ]
    assert screening.accepted[0].fields == {"city": "Pune"}
    assert [(r.index, r.phone, r.reason) for r in screening.rejected] == [
        (3, "12345", INVALID_NUMBER)
    ]
    assert screening.repeated == 1


def test_screening_nothing_valid() -> None:
    screening = screen_contacts([SubmittedContact("abc"), SubmittedContact("")], None)
    assert screening.accepted == []
    assert [r.index for r in screening.rejected] == [0, 1]
    assert screening.repeated == 0


def test_error_fields_are_named_as_the_client_wrote_them() -> None:
    assert field_path(("body", "messageBody")) == "messageBody"
    assert field_path(("body", "contacts", 3, "phone")) == "contacts[3].phone"
    assert field_path(("body",)) == "body"
    assert field_path(("query", "limit")) == "limit"
    assert field_path(()) == "body"
