"""A contact whose message would be too long for WhatsApp is refused when it is added, judged
by the very rendering the dispatcher will make."""

from __future__ import annotations

from datetime import UTC, datetime

from herald_campaign.domain.campaigns import contact_id
from herald_campaign.domain.contacts import SubmittedContact, screen_contacts
from herald_core.templates import WHATSAPP_MAX_BODY
from herald_dispatcher.message_plan import build_message

BODY = "x" * (WHATSAPP_MAX_BODY - 30) + "{{name|there}} {{city}} {{phone}}"


def test_contacts_whose_message_is_too_long_are_rejected_as_body_too_long() -> None:
    screening = screen_contacts(
        [
            SubmittedContact("+919876543210", "Jo", {"city": "Pune"}),
            SubmittedContact("+14155552671", "Jane", {"city": "c" * 40}),
            SubmittedContact("+447911123456", "n" * 30),
        ],
        None,
        message_body=BODY,
    )
    assert [c.phone for c in screening.accepted] == ["+919876543210"]
    assert [(r.index, r.phone, r.reason) for r in screening.rejected] == [
        (1, "+14155552671", "body-too-long"),
        (2, "+447911123456", "body-too-long"),
    ]


def test_a_rejected_long_entry_does_not_hide_a_later_entry_of_the_same_number() -> None:
    screening = screen_contacts(
        [
            SubmittedContact("+919876543210", None, {"city": "c" * 40}),
            SubmittedContact("+91 98765 43210", None, {"city": "Pune"}),
        ],
        None,
        message_body=BODY,
    )
    assert [c.fields for c in screening.accepted] == [{"city": "Pune"}]
    assert screening.repeated == 0


def test_without_a_body_nothing_is_measured() -> None:
    screening = screen_contacts([SubmittedContact("+919876543210", "n" * 5000)], None)
    assert len(screening.accepted) == 1


def test_the_check_agrees_with_the_dispatchers_rendering_at_the_limit() -> None:
    # Name and phone are the contact's own even when a custom field has the same name.
    campaign = {"_id": "cmp_1", "tenantId": "t", "messageBody": BODY}
    lengths: set[int] = set()
    for name, fields in [
        (None, {}),
        ("Jo", {"city": "Pune"}),
        ("J", {"city": "c" * 14, "name": "x" * 100}),  # 4096 characters
        ("J", {"city": "c" * 15}),  # 4097
        ("", {"city": "c" * 10, "phone": "p" * 100}),  # "there": 4096
        ("", {"city": "c" * 11}),  # 4097
    ]:
        screening = screen_contacts(
            [SubmittedContact("+919876543210", name, fields)], None, message_body=BODY
        )
        # The contact document as the service stores it, and the message the dispatcher makes.
        contact = {
            "_id": contact_id("cmp_1", "+919876543210"),
            "phone": "+919876543210",
            "name": name,
            "fields": fields,
        }
        message = build_message(campaign, contact, account_id=None, now=datetime.now(UTC))
        fits = len(message["body"]) <= WHATSAPP_MAX_BODY
        lengths.add(len(message["body"]))
        assert (len(screening.accepted) == 1) == fits, (name, fields, len(message["body"]))
    assert {WHATSAPP_MAX_BODY, WHATSAPP_MAX_BODY + 1} <= lengths
