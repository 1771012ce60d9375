"""Message ids. Pure.

A campaign message's id is deterministic per campaign, run and recipient: re-dispatching
creates nothing new, and the campaign service finds the message a recipient answered by the
ids of the campaigns' latest runs, with no index on the number."""

from __future__ import annotations

import hashlib


def message_id(campaign_id: str, phone: str, run: int = 1) -> str:
    """The id of the message of ``campaign_id``'s run ``run`` to ``phone``."""
    digest = hashlib.sha256(f"{campaign_id}|{run}|{phone}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def keyword_reply_id(account_id: str, gateway_message_id: str) -> str:
    """The id of Herald's confirmation of one keyword a recipient sent: one reply per inbound
    message, however often the gateway delivers it."""
    digest = hashlib.sha256(f"reply|{account_id}|{gateway_message_id}".encode()).hexdigest()
    return f"rpl_{digest[:32]}"
