"""How the simulated recipients answer, as set at startup (``--recipients``) or at runtime
(``PUT /_sim/recipients``). Pure.

One behaviour per phone number, whichever session or instance sends to it::

    {"phone": "+919876543210",
     "replies": [{"text": "thanks", "afterMs": 300}],
     "optOutAfterFirst": true, "optOutText": "STOP", "optOutAfterMs": 0,
     "pushName": "Asha", "addressing": "lid"}

Only ``phone`` is required. ``replies`` are sent once per session after the first message the
number receives from it, each ``afterMs`` after that message; with ``optOutAfterFirst`` it
sends ``optOutText`` (``STOP``) once as well, ``optOutAfterMs`` after it. ``addressing``
(``pn`` or ``lid``) overrides how the gateway names the sender (see ``inbound_shapes``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from herald_simulator.errors import SimError, bad_request

DEFAULT_OPT_OUT_TEXT = "STOP"
ADDRESSING_MODES = ("pn", "lid")
"""``pn``: the sender is named by its phone number; ``lid``: by its hidden ``@lid`` id."""
_PHONE = re.compile(r"\+?([0-9]{5,15})")
_FIELDS = frozenset(
    {
        "phone",
        "replies",
        "optOutAfterFirst",
        "optOutText",
        "optOutAfterMs",
        "pushName",
        "addressing",
    }
)
_REPLY_FIELDS = frozenset({"text", "afterMs"})


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    after_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "afterMs": self.after_ms}


@dataclass(frozen=True, slots=True)
class RecipientBehaviour:
    """What one number sends back to a session after the first message it gets from it."""

    digits: str
    """The phone number without ``+``, as the gateways' jids carry it."""
    replies: tuple[Reply, ...] = ()
    opt_out_after_first: bool = False
    opt_out_text: str = DEFAULT_OPT_OUT_TEXT
    opt_out_after_ms: float = 0.0
    push_name: str | None = None
    """The name the recipient chose (None: ``Recipient <last four digits>``)."""
    addressing: str | None = None
    """``pn`` or ``lid``; None: as the session's engine names senders."""

    @property
    def phone(self) -> str:
        return f"+{self.digits}"

    @property
    def name(self) -> str:
        return self.push_name or f"Recipient {self.digits[-4:]}"

    def answers(self) -> list[Reply]:
        """Everything it sends after a session's first message: the opt-out, then the replies."""
        opt_out = [Reply(self.opt_out_text, self.opt_out_after_ms)]
        return (opt_out if self.opt_out_after_first else []) + list(self.replies)

    def to_json(self) -> dict[str, Any]:
        return {
            "phone": self.phone,
            "replies": [reply.to_json() for reply in self.replies],
            "optOutAfterFirst": self.opt_out_after_first,
            "optOutText": self.opt_out_text,
            "optOutAfterMs": self.opt_out_after_ms,
            "pushName": self.name,
            "addressing": self.addressing,
        }


def phone_digits(text: Any) -> str | None:
    """The digits of an E.164 number (``+`` optional), or None when it is not one."""
    match = _PHONE.fullmatch(text.strip()) if isinstance(text, str) else None
    return match.group(1) if match else None


def _milliseconds(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_request(where, "must be a number of milliseconds")
    if value < 0:
        raise bad_request(where, "must be >= 0")
    return float(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(where, "must be a non-empty string")
    return value


def _reply(raw: Any, where: str) -> Reply:
    if not isinstance(raw, dict):
        raise bad_request(where, 'must be an object {"text", "afterMs"}')
    for key in raw:
        if key not in _REPLY_FIELDS:
            raise bad_request(f"{where}.{key}", "unknown field (known: text, afterMs)")
    after = _milliseconds(raw.get("afterMs", 0), f"{where}.afterMs")
    return Reply(_text(raw.get("text"), f"{where}.text"), after)


def parse_behaviour(raw: Any, where: str = "recipients[0]") -> RecipientBehaviour:
    """One behaviour from its JSON; raises SimError(400) naming the field."""
    if not isinstance(raw, dict):
        raise bad_request(where, "must be an object with a phone")
    for key in raw:
        if key not in _FIELDS:
            known = ", ".join(sorted(_FIELDS))
            raise bad_request(f"{where}.{key}", f"unknown field (known: {known})")
    digits = phone_digits(raw.get("phone"))
    if digits is None:
        raise bad_request(f"{where}.phone", "must be an E.164 number (+ and 5 to 15 digits)")
    replies = raw.get("replies", [])
    if not isinstance(replies, list):
        raise bad_request(f"{where}.replies", "must be a list")
    opt_out = raw.get("optOutAfterFirst", False)
    if not isinstance(opt_out, bool):
        raise bad_request(f"{where}.optOutAfterFirst", "must be true or false")
    name = raw.get("pushName")
    if name is not None:
        name = _text(name, f"{where}.pushName")
    addressing = raw.get("addressing")
    if addressing is not None and addressing not in ADDRESSING_MODES:
        raise bad_request(f"{where}.addressing", "must be pn or lid")
    return RecipientBehaviour(
        digits=digits,
        replies=tuple(_reply(r, f"{where}.replies[{i}]") for i, r in enumerate(replies)),
        opt_out_after_first=opt_out,
        opt_out_text=_text(raw.get("optOutText", DEFAULT_OPT_OUT_TEXT), f"{where}.optOutText"),
        opt_out_after_ms=_milliseconds(raw.get("optOutAfterMs", 0), f"{where}.optOutAfterMs"),
        push_name=name,
        addressing=addressing,
    )


def parse_behaviours(raw: Any) -> tuple[RecipientBehaviour, ...]:
    """A list of behaviours (a JSON array, or ``{"recipients": [...]}``); one per phone.
    Raises SimError(400) naming the field."""
    items = raw.get("recipients") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise bad_request("recipients", "must be a list of recipient behaviours")
    found = [parse_behaviour(item, f"recipients[{i}]") for i, item in enumerate(items)]
    seen: set[str] = set()
    for index, behaviour in enumerate(found):
        if behaviour.digits in seen:
            raise bad_request(f"recipients[{index}].phone", f"{behaviour.phone} is listed twice")
        seen.add(behaviour.digits)
    return tuple(found)


def behaviours_from_option(value: str) -> tuple[RecipientBehaviour, ...]:
    """``--recipients``: inline JSON (``[...]``) or the path of a JSON file holding it.
    Raises ValueError saying what is wrong."""
    text = value.strip()
    if not text:
        return ()
    if not text.startswith(("[", "{")):
        path = Path(text)
        try:
            text = path.read_text()
        except OSError as error:
            raise ValueError(f"--recipients: cannot read {path}: {error.strerror}") from None
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise ValueError(f"--recipients: not JSON ({error})") from None
    try:
        return parse_behaviours(raw)
    except SimError as error:
        raise ValueError(f"--recipients: {error.message}") from None


def behaviours_json(behaviours: Sequence[RecipientBehaviour]) -> list[dict[str, Any]]:
    return [behaviour.to_json() for behaviour in behaviours]
