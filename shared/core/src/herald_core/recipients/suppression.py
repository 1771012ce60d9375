"""The suppression list: numbers a tenant sends nothing to. Pure; no I/O.

A number is put on a tenant's list by an opt-out keyword the recipient sent, by the tenant
(one by one, or a CSV import), or, where the tenant chooses so, because the gateway said the
number is not on WhatsApp. An opt-in keyword lifts only a keyword opt-out: a number the tenant
put on the list itself stays there until the tenant removes it.

By default each tenant's list is its own: a STOP sent to tenant B's account does not stop
tenant A's messages to that number. The operator may make the lists apply to every tenant
(``HERALD_SUPPRESSION_SCOPE=global``); each tenant still sees and edits only its own entries.
"""

from __future__ import annotations

from enum import StrEnum


class SuppressionReason(StrEnum):
    KEYWORD = "keyword"
    """The recipient sent an opt-out keyword."""
    MANUAL = "manual"
    """The tenant added the number through the API or the CLI."""
    IMPORT = "import"
    """The tenant imported the number in a CSV file."""
    NOT_ON_WHATSAPP = "not-on-whatsapp"
    """The tenant chose to suppress numbers the gateway said are not on WhatsApp."""


class SuppressionScope(StrEnum):
    TENANT = "tenant"
    GLOBAL = "global"


def suppression_id(tenant_id: str, phone: str) -> str:
    """A suppression entry's ``_id``: one entry per tenant and number."""
    return f"{tenant_id}|{phone}"


def tenant_id_range(tenant_id: str) -> tuple[str, str]:
    """The ``_id`` bounds of a tenant's entries (``[low, high)``), so that its list is read in
    number order by the ``_id`` index alone. ``}`` is the character after ``|``."""
    return (f"{tenant_id}|", f"{tenant_id}}}")
