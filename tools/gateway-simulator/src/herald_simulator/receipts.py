"""Delivery receipts: WAHA ``message.ack`` and Evolution ``messages.update`` webhooks for the
sends the simulator accepted, and the other events it posts (``session.status``,
``connection.update``).

Receipts go to the global webhook (``--webhook-url``, as WAHA's ``WHATSAPP_HOOK_URL``) and to
the session's own webhooks (WAHA ``PUT /api/sessions/{s}`` ``config.webhooks``, Evolution
``POST /webhook/set/{instance}``) that subscribe to them. A number not on WhatsApp gets a
SERVER acknowledgement only.

With a webhook configured (and receipts on), every accepted send gets a DEVICE ack
(delivered) ``receipt_delay_ms`` after it, and, when ``read_receipt_delay_ms`` is set, a READ
ack that much later again. Each is POSTed as WAHA posts webhooks: the envelope ``{event:
"message.ack", session, engine, me, payload: {id, from, to, fromMe, ack, ackName}}`` whose
``payload.id`` is WAHA's serialized id ``true_<chatId>_<id>``, and, when an HMAC key is
configured (globally, or by a session's webhook on WAHA Plus: Core ignores it),
``X-Webhook-Hmac`` (hex HMAC-SHA512 of the raw body) with ``X-Webhook-Hmac-Algorithm:
sha512``; Evolution never signs. A receipt the receiver answers 5xx (or cannot be reached
for) is tried again a few times; 4xx answers are final.

Without any webhook receipts are off. ``PUT /_sim/config`` changes them at runtime (``receipts``,
``webhookUrl``, ``webhookHmacKey``, ``receiptDelayMs``, ``readReceiptDelayMs``); a change applies
to the sends accepted after it. ``GET /_sim/receipts`` counts what was posted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from herald_simulator.errors import bad_request
from herald_simulator.lids import lid_of_phone

log = logging.getLogger("herald_simulator.receipts")

ACK_SERVER = 1
ACK_DEVICE = 2
ACK_READ = 3
ACK_NAMES = {ACK_SERVER: "SERVER", ACK_DEVICE: "DEVICE", ACK_READ: "READ"}
EVOLUTION_USER_AGENT = "axios/1.12.2"
SIGNATURE_HEADER = "X-Webhook-Hmac"
ALGORITHM_HEADER = "X-Webhook-Hmac-Algorithm"
POST_ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 0.25
POST_TIMEOUT_SECONDS = 10.0

RECEIPT_FIELDS = frozenset(
    {"receipts", "webhookUrl", "webhookHmacKey", "receiptDelayMs", "readReceiptDelayMs"}
)
"""The ``PUT /_sim/config`` fields this module owns."""


def _url_error(url: str) -> str | None:
    if not url.startswith(("http://", "https://")):
        return "must be an http:// or https:// URL"
    return None


@dataclass(frozen=True, slots=True)
class ReceiptConfig:
    """Where and when receipts go; the startup values, and each runtime state."""

    webhook_url: str | None = None
    hmac_key: str | None = None
    enabled: bool = True
    """Receipts on (they still need a URL)."""
    delay_ms: float = 1000.0
    """From the accepted send to its DEVICE (delivered) ack."""
    read_delay_ms: float | None = None
    """From the DEVICE ack to a READ ack; None: no read receipts."""

    def __post_init__(self) -> None:
        if self.webhook_url == "":
            object.__setattr__(self, "webhook_url", None)
        if self.hmac_key == "":
            object.__setattr__(self, "hmac_key", None)
        if self.webhook_url is not None and (error := _url_error(self.webhook_url)):
            raise ValueError(f"webhook URL {error}")
        for delay in (self.delay_ms, self.read_delay_ms):
            if delay is not None and not (math.isfinite(delay) and delay >= 0):
                raise ValueError("receipt delays must be >= 0")

    @property
    def active(self) -> bool:
        return self.enabled and self.webhook_url is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "receipts": self.enabled,
            "receiptsActive": self.active,
            "webhookUrl": self.webhook_url,
            "webhookHmacKeySet": self.hmac_key is not None,
            "receiptDelayMs": self.delay_ms,
            "readReceiptDelayMs": self.read_delay_ms,
        }


def split_receipt_fields(body: Any) -> tuple[dict[str, Any], Any]:
    """``PUT /_sim/config``'s body as (the receipt fields, everything else)."""
    if not isinstance(body, dict):
        return {}, body
    mine = {k: v for k, v in body.items() if k in RECEIPT_FIELDS}
    return mine, {k: v for k, v in body.items() if k not in RECEIPT_FIELDS}


def _delay(body: dict[str, Any], key: str, *, nullable: bool) -> float | None:
    value = body[key]
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_request(key, "must be a number" + (" or null" if nullable else ""))
    if value < 0:
        raise bad_request(key, "must be >= 0")
    return float(value)


def _optional_string(body: dict[str, Any], key: str) -> str | None:
    value = body[key]
    if value is not None and not isinstance(value, str):
        raise bad_request(key, "must be a string or null")
    return value or None


def updated_config(current: ReceiptConfig, fields: dict[str, Any]) -> ReceiptConfig:
    """``current`` with the receipt fields of a ``PUT /_sim/config`` applied; every field is
    validated before anything changes. Raises SimError (400, naming the field)."""
    changes: dict[str, Any] = {}
    if "receipts" in fields:
        if not isinstance(fields["receipts"], bool):
            raise bad_request("receipts", "must be true or false")
        changes["enabled"] = fields["receipts"]
    if "webhookUrl" in fields:
        url = _optional_string(fields, "webhookUrl")
        if url is not None and (error := _url_error(url)):
            raise bad_request("webhookUrl", error)
        changes["webhook_url"] = url
    if "webhookHmacKey" in fields:
        changes["hmac_key"] = _optional_string(fields, "webhookHmacKey")
    if "receiptDelayMs" in fields:
        changes["delay_ms"] = _delay(fields, "receiptDelayMs", nullable=False)
    if "readReceiptDelayMs" in fields:
        changes["read_delay_ms"] = _delay(fields, "readReceiptDelayMs", nullable=True)
    return dataclasses.replace(current, **changes)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one gateway posts an event: a URL, the key it signs with (WAHA Plus; None:
    unsigned), and fixed headers (WAHA Plus ``customHeaders``, Evolution ``headers``)."""

    url: str
    hmac_key: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AckTarget:
    """The accepted send a receipt is about."""

    session: str
    engine: str
    """NOWEB, GOWS or WEBJS (WAHA), or EVOLUTION: who says what in the receipt."""
    me_id: str
    chat_id: str
    gateway_message_id: str
    reachable: bool = True
    """False for a number not on WhatsApp: the message never gets past SERVER."""
    instance_id: str = ""
    """Evolution's instance id (its ``messages.update`` names it)."""

    @property
    def receipt_chat(self) -> str:
        """The chat a receipt names: GOWS may name it by an ``@lid`` jid rather than the
        ``@c.us`` jid the send used (the number's stable fake lid, ``lids.lid_of_phone``)."""
        if self.engine == "GOWS":
            return lid_of_phone(self.chat_id.partition("@")[0])
        return self.chat_id

    @property
    def serialized_id(self) -> str:
        return f"true_{self.receipt_chat}_{self.gateway_message_id}"


WAHA_ENVIRONMENT = {"version": "2024.10.8", "engine": "NOWEB", "tier": "PLUS", "browser": None}


def message_ack_event(target: AckTarget, ack: int, *, tier: str = "PLUS") -> dict[str, Any]:
    """WAHA's ``message.ack`` webhook body for one acknowledgement of a message sent by us:
    ``{event, session, me, payload, engine, environment}``, no id and no timestamp (as
    2024.10.8 posts it).

    NOWEB and GOWS report the chat in ``from`` (Baileys' ``remoteJid``; GOWS maybe as an
    ``@lid``) and no ``to``; WEBJS reports the whatsapp-web.js message's ``from`` (us) and ``to``
    (the chat).
    """
    webjs = target.engine == "WEBJS"
    payload: dict[str, Any] = {
        "id": target.serialized_id,
        "from": target.me_id if webjs else target.receipt_chat,
        "fromMe": True,
        "ack": ack,
        "ackName": ACK_NAMES.get(ack, "UNKNOWN"),
    }
    if webjs:
        payload["to"] = target.chat_id
    return {
        "event": "message.ack",
        "session": target.session,
        "me": {"id": target.me_id, "pushName": f"Herald simulator ({target.session})"},
        "payload": payload,
        "engine": target.engine,
        "environment": {**WAHA_ENVIRONMENT, "engine": target.engine, "tier": tier},
    }


EVOLUTION_STATUSES = {ACK_SERVER: "SERVER_ACK", ACK_DEVICE: "DELIVERY_ACK", ACK_READ: "READ"}


def messages_update_event(
    target: AckTarget, ack: int, *, destination: str, server_url: str, date_time: str
) -> dict[str, Any]:
    """Evolution's ``messages.update`` webhook body (v2, ``whatsapp.baileys.service.ts``):
    ``data`` is ``{keyId, remoteJid, fromMe, participant, status, instanceId, messageId}``."""
    return {
        "event": "messages.update",
        "instance": target.session,
        "data": {
            "keyId": target.gateway_message_id,
            "remoteJid": target.chat_id,
            "fromMe": True,
            "participant": None,
            "status": EVOLUTION_STATUSES[ack],
            "instanceId": target.instance_id,
            "messageId": f"sim{target.gateway_message_id.lower()}",
        },
        "destination": destination,
        "date_time": date_time,
        "sender": target.me_id.replace("@c.us", "@s.whatsapp.net"),
        "server_url": server_url,
        "apikey": target.instance_id.upper(),
    }


def signature(body: bytes, key: str) -> str:
    """WAHA's ``X-Webhook-Hmac``: the hex HMAC-SHA512 of the raw body."""
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def webhook_headers(
    body: bytes,
    key: str | None,
    extra: tuple[tuple[str, str], ...] = (),
    user_agent: str = "WAHA/2024.10.8",
) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": user_agent, **dict(extra)}
    if key:
        headers[SIGNATURE_HEADER] = signature(body, key)
        headers[ALGORITHM_HEADER] = "sha512"
    return headers


@dataclass(slots=True)
class ReceiptLog:
    """What was scheduled and posted (``GET /_sim/receipts``)."""

    scheduled: int = 0
    posted: Counter[str] = dataclasses.field(default_factory=Counter)
    """Receipts the receiver answered, by ack name."""
    by_status_code: Counter[int] = dataclasses.field(default_factory=Counter)
    failed: int = 0
    """Receipts given up on: no answer, or 5xx, after every attempt."""
    last_error: str | None = None

    def to_json(self, pending: int) -> dict[str, Any]:
        return {
            "scheduled": self.scheduled,
            "pending": pending,
            "posted": dict(self.posted),
            "byStatusCode": {str(code): n for code, n in sorted(self.by_status_code.items())},
            "failed": self.failed,
            "lastError": self.last_error,
        }


class ReceiptSender:
    """Schedules the receipts of accepted sends on the running event loop and posts them."""

    def __init__(
        self,
        startup: ReceiptConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        tier: str = "PLUS",
    ) -> None:
        self.startup = startup
        self.tier = tier
        """WAHA's tier the receipts report in their ``environment``."""
        self.config = startup
        self.log = ReceiptLog()
        self._transport = transport
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        """Back to the startup configuration, with an empty log."""
        self.config = self.startup
        self.log = ReceiptLog()

    def destinations(self, extra: Sequence[Destination] = ()) -> list[Destination]:
        """Where a receipt goes now: the global webhook (when set; signed with its key, except
        by WAHA Core, which signs nothing) and ``extra`` (the session's own webhooks); none
        while receipts are off."""
        config = self.config
        if not config.enabled:
            return []
        key = None if self.tier == "CORE" else config.hmac_key  # Core signs nothing
        found = [Destination(config.webhook_url, key)] if config.webhook_url else []
        return [*found, *extra]

    def schedule(self, target: AckTarget, extra: Sequence[Destination] = ()) -> bool:
        """Schedule the receipts of one accepted send to the current destinations (see
        ``destinations``); False when there are none."""
        config = self.config
        destinations = self.destinations(extra)
        if not destinations:
            return False
        self.log.scheduled += 1
        self._spawn(self._deliver(target, config, destinations))
        return True

    def post_event(self, body: dict[str, Any], destinations: Sequence[Destination]) -> None:
        """Post one event (``session.status``, ``connection.update``) now, in the background."""
        for destination in destinations:
            self._spawn(self._post(body, destination, str(body.get("event"))))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_pending(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def to_json(self) -> dict[str, Any]:
        return self.log.to_json(pending=len(self._tasks))

    async def _deliver(
        self, target: AckTarget, config: ReceiptConfig, destinations: Sequence[Destination]
    ) -> None:
        await asyncio.sleep(config.delay_ms / 1000)
        if not target.reachable:  # not on WhatsApp: the server took it, no phone ever will
            await self._acknowledge(target, ACK_SERVER, destinations)
            return
        await self._acknowledge(target, ACK_DEVICE, destinations)
        if config.read_delay_ms is not None:
            await asyncio.sleep(config.read_delay_ms / 1000)
            await self._acknowledge(target, ACK_READ, destinations)

    async def _acknowledge(
        self, target: AckTarget, ack: int, destinations: Sequence[Destination]
    ) -> None:
        for destination in destinations:
            if target.engine == "EVOLUTION":
                body = messages_update_event(
                    target,
                    ack,
                    destination=destination.url,
                    server_url="http://simulator",
                    date_time=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self._clock())),
                )
            else:
                body = message_ack_event(target, ack, tier=self.tier)
            await self._post(body, destination, ACK_NAMES[ack])

    async def _post(self, event: dict[str, Any], destination: Destination, name: str) -> None:
        body = json.dumps(event, separators=(",", ":")).encode()
        evolution = "instance" in event
        headers = webhook_headers(
            body,
            destination.hmac_key,
            destination.headers,
            EVOLUTION_USER_AGENT if evolution else f"WAHA/{WAHA_ENVIRONMENT['version']}",
        )
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport, timeout=POST_TIMEOUT_SECONDS
            )
        for attempt in range(1, POST_ATTEMPTS + 1):
            try:
                response = await self._client.post(destination.url, content=body, headers=headers)
            except httpx.HTTPError as error:
                self.log.last_error = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 500:
                    self.log.posted[name] += 1
                    self.log.by_status_code[response.status_code] += 1
                    if response.status_code >= 300:
                        self.log.last_error = f"{response.status_code}: {response.text[:200]}"
                        log.warning(
                            "webhook refused: %s %s", response.status_code, response.text[:200]
                        )
                    return
                self.log.last_error = f"{response.status_code}: {response.text[:200]}"
            if attempt < POST_ATTEMPTS:
                await asyncio.sleep(RETRY_PAUSE_SECONDS * attempt)
        self.log.failed += 1
        log.warning("%s to %s not delivered: %s", name, destination.url, self.log.last_error)


# Command line (``main``): each option also reads its SIM_* variable.


def _milliseconds(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def add_receipt_options(option: Callable[..., None]) -> None:
    """Add the receipt options through ``option(flag, variable, default, help, **kw)``."""
    option(
        "--webhook-url",
        "SIM_WEBHOOK_URL",
        None,
        "POST a WAHA message.ack receipt of every accepted send here; unset: no receipts",
    )
    option(
        "--webhook-hmac-key",
        "SIM_WEBHOOK_HMAC_KEY",
        None,
        "sign receipts as WAHA does (X-Webhook-Hmac: HMAC-SHA512 of the body); unset: unsigned",
    )
    option(
        "--receipts",
        "SIM_RECEIPTS",
        "on",
        "send receipts when a webhook URL is set (PUT /_sim/config {receipts} switches them)",
        choices=["on", "off"],
        type=str.lower,
    )
    option(
        "--receipt-delay-ms",
        "SIM_RECEIPT_DELAY_MS",
        "1000",
        "from an accepted send to its DEVICE (delivered) receipt",
        type=_milliseconds,
    )
    option(
        "--read-receipt-delay-ms",
        "SIM_READ_RECEIPT_DELAY_MS",
        None,
        "from the delivered receipt to a READ receipt; unset: no read receipts",
        type=_milliseconds,
    )


def receipt_config_from_args(args: argparse.Namespace) -> ReceiptConfig:
    """The options of :func:`add_receipt_options`; ValueError on a bad one."""
    read_delay = args.read_receipt_delay_ms
    if str(args.receipts).lower() not in ("on", "off"):
        raise ValueError("--receipts must be on or off")
    return ReceiptConfig(
        webhook_url=args.webhook_url or None,
        hmac_key=args.webhook_hmac_key or None,
        enabled=str(args.receipts).lower() == "on",
        delay_ms=float(args.receipt_delay_ms),
        read_delay_ms=None if read_delay in (None, "") else float(read_delay),
    )
