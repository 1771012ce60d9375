"""Simulated recipients: numbers that write back to the sessions that write to them.

A number with a behaviour (``recipient_behaviours``) answers the first message each session or
instance sends it: its opt-out (``STOP``) and its replies, each after its delay. The answer
reaches the gateway as a recipient's message does, and the gateway posts it as it posts any:

- WAHA: a ``message`` event (``inbound_shapes.waha_message_event``, shaped by the session's
  engine) to the session's webhooks subscribed to ``message`` or ``*``, signed as receipts are
  (Plus with ``hmac.key``; Core signs nothing);
- Evolution: ``messages.upsert`` to the instance's webhook when it subscribes to
  ``MESSAGES_UPSERT`` (or to everything), unsigned, with its headers.

The global webhook (``--webhook-url``) stands for WAHA's ``WHATSAPP_HOOK_URL`` with
``WHATSAPP_HOOK_EVENTS=message.ack``: it gets receipts only. A session that is not WORKING when
an answer is due gets it once it is WORKING again, as WhatsApp holds messages for a phone that
is offline. ``GET /_sim/recipients`` lists every answer sent, with how many webhooks got it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from herald_simulator import evolution
from herald_simulator.config import SessionStatus
from herald_simulator.inbound_shapes import (
    InboundText,
    addressing_for,
    evolution_upsert_event,
    phone_message_id,
    waha_message_event,
)
from herald_simulator.receipts import AckTarget
from herald_simulator.recipient_behaviours import RecipientBehaviour, Reply, behaviours_json
from herald_simulator.session_webhooks import evolution_destinations, waha_destinations
from herald_simulator.waha_sessions import waha_serves

if TYPE_CHECKING:
    from herald_simulator.app import SimulatorState
    from herald_simulator.sessions import Session

EVOLUTION_ENGINE = "EVOLUTION"
SERVER_URL = "http://simulator"
POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One message a recipient sent, as the gateway posted it."""

    phone: str
    session: str
    engine: str
    """NOWEB, GOWS, WEBJS, or EVOLUTION."""
    text: str
    message_id: str
    """The bare id (what Herald stores)."""
    gateway_id: str
    """The id as the body carries it: WAHA's ``payload.id``, Evolution's ``key.id``."""
    sender: str
    """The jid the body names the sender by (``payload.from``, ``key.remoteJid``)."""
    at: float
    webhooks: int
    """How many webhooks it was posted to (0: none subscribed)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "phone": self.phone,
            "session": self.session,
            "gateway": "evolution" if self.engine == EVOLUTION_ENGINE else "waha",
            "engine": self.engine,
            "text": self.text,
            "id": self.message_id,
            "gatewayId": self.gateway_id,
            "from": self.sender,
            "at": self.at,
            "webhooks": self.webhooks,
        }


class RecipientPlayer:
    """The behaviours in force, who has answered which session, and what was sent."""

    def __init__(self, startup: Sequence[RecipientBehaviour], *, seed: int | None) -> None:
        self.startup = tuple(startup)
        # its own generator: answers do not shift the send ids a seed reproduces
        self._rng = random.Random(f"recipients:{seed}") if seed is not None else random.Random()
        self._tasks: set[asyncio.Task[None]] = set()
        self.behaviours: dict[str, RecipientBehaviour] = {}
        self._answered: set[tuple[str, str]] = set()
        self.inbound: list[InboundRecord] = []
        self.replace(self.startup)

    def replace(self, behaviours: Sequence[RecipientBehaviour]) -> None:
        """New behaviours (``PUT``): pending answers dropped, every number answers anew."""
        self.cancel_pending()
        self.behaviours = {b.digits: b for b in behaviours}
        self._answered.clear()

    def clear(self) -> None:
        """No behaviours and an empty log (``DELETE``)."""
        self.replace(())
        self.inbound.clear()

    def reset(self) -> None:
        """The startup behaviours and an empty log (``POST /_sim/reset``)."""
        self.replace(self.startup)
        self.inbound.clear()

    def first_message(self, session: str, digits: str) -> RecipientBehaviour | None:
        """The behaviour of a number getting a session's message, the first time only."""
        behaviour = self.behaviours.get(digits)
        if behaviour is None or (session, digits) in self._answered:
            return None
        self._answered.add((session, digits))
        return behaviour

    def next_message_id(self) -> str:
        return phone_message_id(self._rng)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_pending(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def sent_by(self, digits: str) -> list[InboundRecord]:
        return [record for record in self.inbound if record.phone == f"+{digits}"]

    def to_json(self) -> dict[str, Any]:
        return {
            "behaviours": behaviours_json(list(self.behaviours.values())),
            "inbound": [record.to_json() for record in self.inbound],
            "pending": len(self._tasks),
        }


def message_reached_phone(state: SimulatorState, target: AckTarget) -> None:
    """A send reached its number (the ones that get a delivered receipt): if the number has
    a behaviour and this is the first message it gets from the session, it answers."""
    digits = target.chat_id.partition("@")[0]
    behaviour = state.recipients.first_message(target.session, digits)
    if behaviour is None:
        return
    for reply in behaviour.answers():
        state.recipients.spawn(_answer(state, target, behaviour, reply))


async def _answer(
    state: SimulatorState, target: AckTarget, behaviour: RecipientBehaviour, reply: Reply
) -> None:
    await asyncio.sleep(reply.after_ms / 1000)
    session = await _when_working(state, target.session)
    if session is None:
        return
    engine = EVOLUTION_ENGINE if target.engine == EVOLUTION_ENGINE else session.engine.value
    message = InboundText(
        digits=behaviour.digits,
        text=reply.text,
        message_id=state.recipients.next_message_id(),
        timestamp=int(time.time()),
        push_name=behaviour.name,
        addressing=addressing_for(engine, behaviour.addressing),
    )
    if engine == EVOLUTION_ENGINE:
        gateway_id, sender, posted = _post_to_evolution(state, session, message)
    else:
        gateway_id, sender, posted = _post_to_waha(state, session, engine, message)
    state.recipients.inbound.append(
        InboundRecord(
            phone=behaviour.phone,
            session=session.name,
            engine=engine,
            text=reply.text,
            message_id=message.message_id,
            gateway_id=gateway_id,
            sender=sender,
            at=time.time(),
            webhooks=posted,
        )
    )


async def _when_working(state: SimulatorState, name: str) -> Session | None:
    """The session once it is WORKING (None: it is gone, or the simulator stops)."""
    while not state.stopping.is_set():
        session = state.sessions.get(name)
        if session is None:
            return None
        if session.status is SessionStatus.WORKING:
            return session
        await asyncio.sleep(POLL_SECONDS)
    return None


def _post_to_waha(
    state: SimulatorState, session: Session, engine: str, message: InboundText
) -> tuple[str, str, int]:
    """Post WAHA's ``message`` event; (payload.id, payload.from, webhooks posted to)."""
    tier = state.config.tier
    event = waha_message_event(
        message, session=session.name, engine=engine, me_id=session.me_id, tier=tier.value
    )
    if engine == "GOWS":
        state.lids.shown(message.digits)  # named by its lid, or with it in Info.SenderAlt
    hooks = waha_destinations(session.config, "message", tier)
    if not waha_serves(state.config, session.name):
        hooks = []
    if hooks:
        state.receipts.post_event(event, hooks)
    payload = event["payload"]
    return str(payload["id"]), str(payload["from"]), len(hooks)


def _post_to_evolution(
    state: SimulatorState, session: Session, message: InboundText
) -> tuple[str, str, int]:
    """Post Evolution's ``messages.upsert``; (key.id, key.remoteJid, webhooks posted to)."""
    if message.by_lid:
        state.lids.shown(message.digits)
    else:  # the lid came as remoteJidAlt: Evolution's on-WhatsApp cache keeps it
        state.lids.shown_as_alternate_on_evolution(message.digits)
    webhook = session.evolution_webhook
    hooks = evolution_destinations(webhook, "messages.upsert")
    sender = message.lid if message.by_lid else message.phone_jid
    for hook in hooks:
        event = evolution_upsert_event(
            message,
            instance=session.name,
            instance_id=evolution.instance_id(session.name),
            me_id=session.me_id,
            destination=str((webhook or {}).get("url", hook.url)),
            server_url=SERVER_URL,
            date_time=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        )
        state.receipts.post_event(event, [hook])
    return message.message_id, sender, len(hooks)
