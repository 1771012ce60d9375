"""WhatsApp's hidden user ids (``<digits>@lid``) the simulator gives its numbers.

WhatsApp names a user by a lid as well as by its phone number; GOWS (whatsmeow) and Baileys 7
report lid-addressed chats by it, with the number beside it when WhatsApp sends it. The
simulator derives one stable lid per number and remembers which lids it has shown:

- WAHA's lids API (``GET /api/{session}/lids/{lid}``) knows the number of every lid it showed;
- Evolution's on-WhatsApp cache (``src/utils/onWhatsappCache.ts``, with
  ``DATABASE_SAVE_IS_ON_WHATSAPP``) keeps a lid only when it came as the ``remoteJidAlt`` of a
  phone-addressed message; ``whatsappNumbers`` answers such a lid with the number.
"""

from __future__ import annotations

import hashlib

LID_DIGITS = 15


def lid_of_phone(digits: str) -> str:
    """The stable fake lid of a number (its digits, no ``+``): 15 digits, ``@lid``."""
    value = int.from_bytes(hashlib.sha256(f"lid:{digits}".encode()).digest()[:8], "big")
    first = 10 ** (LID_DIGITS - 1)
    return f"{first + value % (9 * first)}@lid"


class LidDirectory:
    """The lids the simulator has shown, and the number behind each."""

    def __init__(self) -> None:
        self._shown: dict[str, str] = {}
        self._evolution_cache: dict[str, str] = {}

    def shown(self, digits: str) -> str:
        """The number's lid, remembered as shown (WAHA's lids API knows it from now on)."""
        lid = lid_of_phone(digits)
        self._shown[lid] = digits
        return lid

    def shown_as_alternate_on_evolution(self, digits: str) -> None:
        """Evolution posted the lid as a phone-addressed message's ``remoteJidAlt``."""
        self._evolution_cache[self.shown(digits)] = digits

    def phone_of(self, lid: str) -> str | None:
        """The digits behind a lid WAHA has shown (None: never shown)."""
        return self._shown.get(lid)

    def evolution_cached_phone_of(self, lid: str) -> str | None:
        """The digits Evolution's on-WhatsApp cache holds for a lid (None: none)."""
        return self._evolution_cache.get(lid)

    def reset(self) -> None:
        self._shown.clear()
        self._evolution_cache.clear()
