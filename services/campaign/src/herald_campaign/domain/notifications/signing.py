"""How a notification is signed, and how a receiver checks it.

``X-Herald-Signature: sha256=<hex>`` where ``<hex>`` is the HMAC-SHA256 of the exact body bytes
with the endpoint's secret (its UTF-8 bytes) as the key. A receiver recomputes it over the raw
body it received, before parsing it, and compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Herald-Signature"
EVENT_HEADER = "X-Herald-Event"
DELIVERY_HEADER = "X-Herald-Delivery"
SIGNATURE_SCHEME = "sha256="

SECRET_BYTES = 32


def new_signing_secret() -> str:
    """A fresh endpoint secret: 64 hex characters (256 random bits)."""
    return secrets.token_hex(SECRET_BYTES)


def signature(body: bytes, secret: str) -> str:
    """The ``X-Herald-Signature`` value of ``body`` signed with ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}{digest}"


def signature_matches(body: bytes, secret: str, header: str | None) -> bool:
    """What a receiver does: True when ``header`` is the signature of ``body`` with ``secret``."""
    if not header:
        return False
    return hmac.compare_digest(signature(body, secret).encode(), header.strip().encode())
