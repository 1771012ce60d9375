"""The one id a WhatsApp message goes by, whichever shape a gateway gives it in. Pure.

WhatsApp names a message by its bare id (``3EB0C767D097B7C7C030``, ``BAE5F2A1C3D4E5F6``). The
gateways wrap it: WAHA's WEBJS and GOWS answer sends with the serialized id
``true_<chat>_<id>`` (``false_…`` for a message received, and a fourth part naming the sender
in a group), its receipts carry the same serialized form, Baileys (NOWEB, Evolution) gives the
bare id in ``key.id``. The chat part is not stable: GOWS may report a receipt by the chat's
``@lid`` jid while the send named the phone number's ``@c.us`` jid. So Herald stores and matches
the bare id only, and both the senders and the receipt handlers reduce every id with
:func:`bare_message_id`.
"""

from __future__ import annotations

_DIRECTIONS = ("true", "false")


def bare_message_id(reported: str) -> str:
    """The bare message id in any of the gateways' shapes:

    - ``true_<chat>_<id>`` and ``false_<chat>_<id>`` (WAHA serialized; WEBJS, GOWS, and every
      WAHA ``message.ack``), also with a trailing ``_<participant>`` in groups → ``<id>``;
    - ``<id>`` (Baileys ``key.id``: NOWEB, Evolution) → itself.

    Chat ids (``…@c.us``, ``…@lid``, ``…@g.us``, ``…@s.whatsapp.net``) never hold ``_``, and
    message ids never hold ``@``, which is how the parts are told apart.
    """
    text = reported.strip()
    direction, sep, rest = text.partition("_")
    if not sep or direction not in _DIRECTIONS:
        return text
    chat, sep, tail = rest.partition("_")
    if not sep or "@" not in chat or not tail:
        return text
    ident = tail.partition("_")[0]
    return ident or text
