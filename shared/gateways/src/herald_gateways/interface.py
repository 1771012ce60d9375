"""The interface every WhatsApp gateway adapter implements, its error type, and what it reports.

Adapters: ``waha`` (herald_gateways.waha) and ``evolution`` (herald_gateways.evolution);
``herald_gateways.registry.build_gateway`` picks one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class SendReceipt:
    gateway_message_id: str | None
    """The id the gateway gave the message; some engines answer without one."""


MEDIA_KINDS = ("image", "video", "document")
"""What ``MediaFile.kind`` can be: how the gateways tell media apart (WAHA's routes, Evolution's
``mediatype``)."""


@dataclass(frozen=True)
class MediaFile:
    """An image, video or document to send; exactly one of url and data_base64."""

    mimetype: str
    """``image/jpeg``, ``video/mp4``, ``application/pdf``, ...: it decides ``kind``."""
    filename: str | None = None
    """The name the recipient sees (documents); its extension should fit the mimetype."""
    url: str | None = None
    """Where the gateway fetches it (it must reach it; Evolution takes only hosts with a TLD or
    an IP address, not ``localhost`` or a bare container name)."""
    data_base64: str | None = None
    """The file itself, plain base64 (no ``data:`` prefix)."""

    def __post_init__(self) -> None:
        if (self.url is None) == (self.data_base64 is None):
            raise ValueError("a MediaFile has exactly one of url and data_base64")

    @property
    def kind(self) -> str:  # "image" | "video" | "document", from the mimetype
        """``image`` for ``image/*``, ``video`` for ``video/*``, ``document`` for the rest."""
        major = self.mimetype.partition("/")[0].strip().lower()
        return major if major in ("image", "video") else "document"


class GatewayError(Exception):
    """A send that did not happen, classified as retryable or permanent."""

    def __init__(
        self, reason: str, detail: str, *, retryable: bool, status_code: int | None = None
    ) -> None:
        """``status_code``: the gateway's HTTP answer, when it answered one (``detail`` may
        then hold its words: see ``failures.fixed_form``)."""
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retryable = retryable
        self.status_code = status_code


class SessionStatus(StrEnum):
    """Herald's one vocabulary for a session's health (WAHA's; other gateways map onto it).

    Only WORKING can send; every other status means "session not connected".
    """

    STOPPED = "STOPPED"
    STARTING = "STARTING"
    SCAN_QR_CODE = "SCAN_QR_CODE"
    """Waiting for an operator to pair the number: ``Gateway.login_qr`` has the code."""
    WORKING = "WORKING"
    FAILED = "FAILED"


@dataclass(frozen=True)
class SessionHealth:
    status: SessionStatus
    gateway_status: str
    """What the gateway itself said (``WORKING``, ``open``, ...), for operators and logs."""
    me_id: str | None = None
    """The paired WhatsApp id (``<digits>@c.us``), when the gateway tells it."""
    engine: str | None = None
    """The gateway's engine (WAHA: ``NOWEB``, ``GOWS`` or ``WEBJS``), when the gateway tells it."""

    @property
    def connected(self) -> bool:
        return self.status is SessionStatus.WORKING


@dataclass(frozen=True)
class LoginQr:
    """A login QR code an operator scans with the phone to pair the number.

    At least one of ``image_base64`` and ``value`` is set; pass them through as they are.
    """

    mimetype: str | None
    """The image's type (``image/png``) when there is an image."""
    image_base64: str | None
    """The QR code as an image, base64 without a ``data:`` prefix."""
    value: str | None = None
    """The raw QR value, for clients that draw the code themselves."""
    pairing_code: str | None = None
    """A code to type on the phone instead of scanning (Evolution, when it was asked for one)."""


@dataclass(frozen=True)
class GatewayInfo:
    """What a gateway says it is (WAHA ``GET /api/server/version``, Evolution ``GET /``)."""

    product: str
    """``waha`` or ``evolution``."""
    version: str
    """As the gateway reports it: ``2024.10.8``, ``2.3.6``, ``1.8.2``."""
    tier: str | None
    """WAHA: ``CORE`` or ``PLUS``; Evolution: None."""
    engine: str | None
    """WAHA's default engine: ``NOWEB``, ``GOWS`` or ``WEBJS``; Evolution: None."""

    @property
    def single_session_only(self) -> bool:
        """WAHA Core serves one session, named ``default``; any other name is refused."""
        return self.product == "waha" and (self.tier or "").upper() == "CORE"


class Gateway(Protocol):
    async def send_text(
        self, *, session: str, phone: str, text: str, message_id: str
    ) -> SendReceipt:
        """Send one text; raises GatewayError (retryable or permanent) when it did not go."""
        ...

    async def send_media(
        self, *, session: str, phone: str, media: MediaFile, caption: str, message_id: str
    ) -> SendReceipt:
        """Send one media message with ``caption``; raises GatewayError like send_text.

        A gateway that cannot send media at all (WAHA Core: a Plus feature) raises
        ``not-supported-by-gateway``: permanent here, and ``failures.switches_route`` says
        another route may still do it."""
        ...

    async def session_health(self, session: str) -> SessionHealth:
        """The session's health in Herald's vocabulary; raises GatewayError."""
        ...

    async def session_status(self, session: str) -> str:
        """Shorthand: the name of ``session_health(session).status``."""
        ...

    async def login_qr(self, session: str) -> LoginQr | None:
        """The QR code to pair the number, or None when the session is not waiting for one;
        raises GatewayError (unknown session, gateway down, ...)."""
        ...

    async def server_info(self) -> GatewayInfo:
        """The gateway's product, version, tier and engine; raises GatewayError."""
        ...

    async def ensure_session(self, session: str) -> bool:
        """Create the session (WAHA) or instance (Evolution) unless it exists: True when it was
        created, False when an existing one was adopted. Raises GatewayError (WAHA Core and a
        name other than ``default``: ``gateway-misconfigured``)."""
        ...

    async def configure_webhook(
        self,
        session: str,
        *,
        url: str,
        events: Sequence[str],
        headers: Mapping[str, str],
        hmac_key: str | None,
    ) -> None:
        """Point the session's webhook at ``url`` for ``events`` (the gateway's own names, see
        ``registry.WEBHOOK_EVENTS``), with fixed ``headers`` and, where the gateway signs,
        ``hmac_key``. The session's other settings are kept. Raises GatewayError; reason
        ``webhook-setup-refused`` when the gateway will not (its detail says what the operator
        must set up by hand)."""
        ...

    async def check_numbers(self, session: str, phones: Sequence[str]) -> dict[str, bool]:
        """Whether each E.164 phone is on WhatsApp, keyed by the phones as given. Raises
        GatewayError, classified like a send's (a session not WORKING cannot tell)."""
        ...

    async def phone_of_lid(self, session: str, lid: str) -> str | None:
        """The E.164 phone number behind a hidden user id (``<digits>@lid``, as
        ``inbound.InboundMessage.lid`` names a sender), or None when the gateway does not know
        it or cannot tell. Raises ValueError for anything but a lid, GatewayError when the
        gateway fails (classified like a send's)."""
        ...

    async def close(self) -> None: ...
