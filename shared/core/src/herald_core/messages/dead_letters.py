"""Dead letters: what a record on ``message.dlt`` carries, and how it is kept in MongoDB. Pure.

A dead letter is either a message whose attempt plan ended without a send (exhausted, permanent
error, outcome unknown) or a poison record from any Herald topic (undecodable, schema-invalid,
refused). Headers use Spring Kafka's ``DeadLetterPublishingRecoverer`` names, so Kafka people
recognise them, plus Herald's own for the reason, the attempts and the failure times.

Document in ``dead_letters`` (camelCase like every Herald collection): ``_id`` (the dead-letter
id), ``tenantId``, ``campaignId``, ``messageId`` (when the payload is a message), ``reason``,
``exceptionType``, ``exceptionMessage``, ``originalTopic``, ``originalPartition``,
``originalOffset``, ``attempts``, ``firstFailureAt``, ``lastFailureAt``, ``payload`` (text),
``rawPayload`` (the bytes, for a redrive), ``key``, ``rawKey``, ``dltPartition``,
``dltOffset``, ``recordedAt``, ``status`` (``open`` or ``redriven``), ``redriveCount``,
``redrivenAt``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

ORIGINAL_TOPIC = "kafka_dlt-original-topic"
ORIGINAL_PARTITION = "kafka_dlt-original-partition"
ORIGINAL_OFFSET = "kafka_dlt-original-offset"
EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
EXCEPTION_MESSAGE = "kafka_dlt-exception-message"
REASON = "herald-dlt-reason"
ATTEMPTS = "herald-dlt-attempts"
FIRST_FAILURE = "herald-dlt-first-failure"
LAST_FAILURE = "herald-dlt-last-failure"
DEAD_LETTER_ID = "herald-dlt-id"

UNATTRIBUTED_TENANT: None = None
"""The ``tenantId`` of a poison record that names no tenant: nobody's, so operators alone see
it (``GET /api/admin/dead-letters?unattributed=true``). Herald before roles recorded such
records under the tenant ``default``."""


class DeadLetterStatus(StrEnum):
    OPEN = "open"
    REDRIVEN = "redriven"


def message_dead_letter_id(message_id: str, attempt: int) -> str:
    """A message's dead letter is one per attempt: a redelivered failure records it once."""
    return f"dlt_{message_id}_{attempt}"


def record_dead_letter_id(topic: str, partition: int, offset: int) -> str:
    """A poison record's dead letter is one per original record."""
    digest = hashlib.sha256(f"{topic}|{partition}|{offset}".encode()).hexdigest()[:32]
    return f"dlt_{digest}"


def dead_letter_headers(
    *,
    topic: str,
    partition: int,
    offset: int,
    error: BaseException | str,
    reason: str,
    error_message: str | None = None,
    attempts: int = 1,
    first_failure: datetime | None = None,
    dead_letter_id: str | None = None,
) -> dict[str, str]:
    """Headers of a dead letter: where the record came from, why it failed, how often and when.

    ``error`` is the exception, or the fully qualified name of its type when there is none in
    hand (a gateway's answer recorded by a sender).
    """
    now = datetime.now(UTC).isoformat()
    if isinstance(error, BaseException):
        fqcn = f"{type(error).__module__}.{type(error).__qualname__}"
        message = error_message if error_message is not None else str(error)
    else:
        fqcn, message = error, error_message or ""
    return {
        ORIGINAL_TOPIC: topic,
        ORIGINAL_PARTITION: str(partition),
        ORIGINAL_OFFSET: str(offset),
        EXCEPTION_FQCN: fqcn,
        EXCEPTION_MESSAGE: message[:2000],
        REASON: reason,
        ATTEMPTS: str(attempts),
        FIRST_FAILURE: first_failure.isoformat() if first_failure else now,
        LAST_FAILURE: now,
        DEAD_LETTER_ID: dead_letter_id or record_dead_letter_id(topic, partition, offset),
    }


def _int(value: str | None, default: int = -1) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _payload_fields(payload: bytes) -> dict[str, Any]:
    """The ids a payload names, if it is a JSON object that names them."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(body, dict):
        return {}
    return {
        name: body[key]
        for name, key in (
            ("tenantId", "tenant_id"),
            ("campaignId", "campaign_id"),
            ("messageId", "message_id"),
        )
        if isinstance(body.get(key), str)
    }


def dead_letter_document(
    *,
    payload: bytes,
    headers: Mapping[str, str],
    key: bytes | None,
    dlt_partition: int,
    dlt_offset: int,
    recorded_at: datetime,
) -> dict[str, Any]:
    """The ``dead_letters`` document of one record read from ``message.dlt``.

    Records without Herald's headers (someone else's producer) are kept too, identified by
    their own place on the dead-letter topic.
    """
    topic = headers.get(ORIGINAL_TOPIC, "unknown")
    partition = _int(headers.get(ORIGINAL_PARTITION))
    offset = _int(headers.get(ORIGINAL_OFFSET))
    ident = headers.get(DEAD_LETTER_ID) or (
        record_dead_letter_id(topic, partition, offset)
        if ORIGINAL_TOPIC in headers
        else record_dead_letter_id("message.dlt", dlt_partition, dlt_offset)
    )
    ids = _payload_fields(payload)
    return {
        "_id": ident,
        "tenantId": ids.get("tenantId", UNATTRIBUTED_TENANT),
        "campaignId": ids.get("campaignId"),
        "messageId": ids.get("messageId"),
        "reason": headers.get(REASON, "unknown"),
        "exceptionType": headers.get(EXCEPTION_FQCN),
        "exceptionMessage": headers.get(EXCEPTION_MESSAGE),
        "originalTopic": topic,
        "originalPartition": partition,
        "originalOffset": offset,
        "attempts": _int(headers.get(ATTEMPTS), 1),
        "firstFailureAt": _time(headers.get(FIRST_FAILURE)),
        "lastFailureAt": _time(headers.get(LAST_FAILURE)),
        "payload": payload.decode("utf-8", errors="replace"),
        "rawPayload": payload,
        "key": key.decode("utf-8", errors="replace") if key is not None else None,
        "rawKey": key,
        "dltPartition": dlt_partition,
        "dltOffset": dlt_offset,
        "recordedAt": recorded_at,
        "status": DeadLetterStatus.OPEN.value,
        "redriveCount": 0,
    }
