"""Delivery receipts: WAHA ``message.ack`` webhooks for the sends the simulator accepted.

With a webhook URL configured (and receipts on), every accepted send gets a DEVICE ack
(delivered) ``receipt_delay_ms`` after it, and, when ``read_receipt_delay_ms`` is set, a READ
ack that much later again. Each is POSTed as WAHA posts webhooks: the envelope ``{event:
"message.ack", session, engine, me, payload: {id, from, to, fromMe, ack, ackName}}`` whose
``payload.id`` is WAHA's serialized id ``true_<chatId>_<id>``, and, when an HMAC key is
configured, ``X-Webhook-Hmac`` (hex HMAC-SHA512 of the raw body) with
``X-Webhook-Hmac-Algorithm: sha512``. A receipt the receiver answers 5xx (or cannot be reached
for) is tried again a few times; 4xx answers are final.

Without a URL receipts are off. ``PUT /_sim/config`` changes them at runtime (``receipts``,
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from herald_simulator.errors import bad_request

log = logging.getLogger("herald_simulator.receipts")

ACK_DEVICE = 2
ACK_READ = 3
ACK_NAMES = {ACK_DEVICE: "DEVICE", ACK_READ: "READ"}
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
class AckTarget:
    """The accepted send a receipt is about."""

    session: str
    engine: str
    """NOWEB or WEBJS: who says what in ``from`` and ``to``."""
    me_id: str
    chat_id: str
    gateway_message_id: str

    @property
    def serialized_id(self) -> str:
        return f"true_{self.chat_id}_{self.gateway_message_id}"


def message_ack_event(target: AckTarget, ack: int, *, timestamp_ms: int) -> dict[str, Any]:
    """WAHA's ``message.ack`` webhook body for one acknowledgement of a message sent by us.

    NOWEB reports the chat in ``from`` (Baileys' ``remoteJid``) and no ``to``; WEBJS reports
    the whatsapp-web.js message's ``from`` (us) and ``to`` (the chat).
    """
    webjs = target.engine == "WEBJS"
    return {
        "id": f"evt_{target.gateway_message_id}_{ack}",
        "timestamp": timestamp_ms,
        "event": "message.ack",
        "session": target.session,
        "metadata": {},
        "me": {"id": target.me_id, "pushName": f"Herald simulator ({target.session})"},
        "engine": target.engine,
        "environment": {"version": "herald-simulator", "engine": target.engine, "tier": "CORE"},
        "payload": {
            "id": target.serialized_id,
            "from": target.me_id if webjs else target.chat_id,
            "to": target.chat_id if webjs else None,
            "participant": None,
            "fromMe": True,
            "ack": ack,
            "ackName": ACK_NAMES.get(ack, "UNKNOWN"),
        },
    }


def signature(body: bytes, key: str) -> str:
    """WAHA's ``X-Webhook-Hmac``: the hex HMAC-SHA512 of the raw body."""
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def webhook_headers(body: bytes, key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": "herald-gateway-simulator"}
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
    ) -> None:
        self.startup = startup
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

    def schedule(self, target: AckTarget) -> bool:
        """Schedule the receipts of one accepted send under the current configuration;
        False when receipts are off."""
        config = self.config
        if not config.active:
            return False
        self.log.scheduled += 1
        task = asyncio.get_running_loop().create_task(self._deliver(target, config))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def cancel_pending(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def to_json(self) -> dict[str, Any]:
        return self.log.to_json(pending=len(self._tasks))

    async def _deliver(self, target: AckTarget, config: ReceiptConfig) -> None:
        await asyncio.sleep(config.delay_ms / 1000)
        await self._post(target, ACK_DEVICE, config)
        if config.read_delay_ms is not None:
            await asyncio.sleep(config.read_delay_ms / 1000)
            await self._post(target, ACK_READ, config)

    async def _post(self, target: AckTarget, ack: int, config: ReceiptConfig) -> None:
        assert config.webhook_url is not None
        event = message_ack_event(target, ack, timestamp_ms=int(self._clock() * 1000))
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = webhook_headers(body, config.hmac_key)
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport, timeout=POST_TIMEOUT_SECONDS
            )
        for attempt in range(1, POST_ATTEMPTS + 1):
            try:
                response = await self._client.post(
                    config.webhook_url, content=body, headers=headers
                )
            except httpx.HTTPError as error:
                self.log.last_error = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 500:
                    self.log.posted[ACK_NAMES[ack]] += 1
                    self.log.by_status_code[response.status_code] += 1
                    if response.status_code >= 300:
                        self.log.last_error = f"{response.status_code}: {response.text[:200]}"
                        log.warning(
                            "receipt refused: %s %s", response.status_code, response.text[:200]
                        )
                    return
                self.log.last_error = f"{response.status_code}: {response.text[:200]}"
            if attempt < POST_ATTEMPTS:
                await asyncio.sleep(RETRY_PAUSE_SECONDS * attempt)
        self.log.failed += 1
        log.warning("receipt for %s not delivered: %s", target.serialized_id, self.log.last_error)


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
