"""How a gateway webhook proves where it comes from. Pure; no I/O.

- WAHA signs the raw body: ``X-Webhook-Hmac`` is the hex HMAC-SHA512 of the body under the
  webhook's ``hmac.key``, and ``X-Webhook-Hmac-Algorithm`` says ``sha512``.
- Evolution API signs nothing. Its webhook configuration can add fixed ``headers`` to every call,
  so Herald expects a shared secret there: ``X-Herald-Webhook-Token: <token>``.

No key configured means every webhook of that gateway is refused: an unsigned receipt is never
taken on trust.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from pydantic import SecretStr

from herald_campaign.domain.receipts import ReceiptSource

WAHA_SIGNATURE = "X-Webhook-Hmac"
WAHA_ALGORITHM = "X-Webhook-Hmac-Algorithm"
EVOLUTION_TOKEN = "X-Herald-Webhook-Token"


def waha_signature(body: bytes, key: str) -> str:
    """What WAHA sends in ``X-Webhook-Hmac`` for ``body`` under ``key``."""
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def waha_signature_valid(
    body: bytes, key: str | None, signature: str | None, algorithm: str | None
) -> bool:
    """True when ``signature`` is the HMAC-SHA512 of ``body`` under ``key``; an algorithm header,
    when present, must say sha512."""
    if not key or not signature:
        return False
    if algorithm is not None and algorithm.strip().lower() != "sha512":
        return False
    expected = waha_signature(body, key)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def shared_token_valid(expected: str | None, given: str | None) -> bool:
    """True when ``given`` is the configured token (compared in constant time)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class WebhookKeys:
    """The configured keys, and the check of one webhook call against them."""

    def __init__(
        self, *, waha_hmac_key: SecretStr | None, evolution_token: SecretStr | None
    ) -> None:
        self._waha_hmac_key = _secret(waha_hmac_key)
        self._evolution_token = _secret(evolution_token)

    def configured(self, source: ReceiptSource) -> bool:
        if source is ReceiptSource.WAHA:
            return bool(self._waha_hmac_key)
        return bool(self._evolution_token)

    def authentic(self, source: ReceiptSource, headers: Mapping[str, str], body: bytes) -> bool:
        """True when the call carries the proof its gateway gives (``headers`` are looked up
        as given: pass a case-insensitive mapping such as Starlette's)."""
        if source is ReceiptSource.WAHA:
            return waha_signature_valid(
                body,
                self._waha_hmac_key,
                headers.get(WAHA_SIGNATURE),
                headers.get(WAHA_ALGORITHM),
            )
        return shared_token_valid(self._evolution_token, headers.get(EVOLUTION_TOKEN))
