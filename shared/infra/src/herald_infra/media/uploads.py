"""Uploaded media files (collection ``media``): kept whole in one document each, read by the
campaign service (what a campaign may name) and by the senders (what they hand the gateway).

Every read is scoped by tenant: another tenant's upload is not found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from bson import Binary

from herald_core.media import check_size, media_kind
from herald_infra.mongo.client import MEDIA, Database

UPLOAD_ID_PREFIX = "med_"


@dataclass(frozen=True)
class UploadedMedia:
    id: str
    tenant_id: str
    mimetype: str
    filename: str | None
    size: int
    sha256: str
    created_at: datetime


def _uploaded(document: Mapping[str, Any]) -> UploadedMedia:
    return UploadedMedia(
        id=document["_id"],
        tenant_id=document["tenantId"],
        mimetype=document["mimetype"],
        filename=document.get("filename"),
        size=document["size"],
        sha256=document["sha256"],
        created_at=document["createdAt"],
    )


async def save_upload(
    db: Database,
    tenant_id: str,
    *,
    mimetype: str,
    filename: str | None,
    data: bytes,
    now: datetime,
) -> UploadedMedia:
    """Keep an uploaded file; UnsupportedMedia when its type or size is not one WhatsApp
    takes."""
    media_kind(mimetype)
    check_size(mimetype, len(data))
    document = {
        "_id": f"{UPLOAD_ID_PREFIX}{uuid4().hex}",
        "tenantId": tenant_id,
        "mimetype": mimetype.strip().lower(),
        "filename": filename,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "data": Binary(data),
        "createdAt": now,
    }
    await db[MEDIA].insert_one(document)
    return _uploaded(document)


async def upload_info(db: Database, tenant_id: str, upload_id: str) -> UploadedMedia | None:
    """What an upload is, without its bytes; None for another tenant's or an unknown one."""
    found = await db[MEDIA].find_one({"_id": upload_id, "tenantId": tenant_id}, {"data": 0})
    return _uploaded(found) if found is not None else None


async def upload_bytes(db: Database, tenant_id: str, upload_id: str) -> bytes | None:
    """The uploaded file itself; None for another tenant's or an unknown one."""
    found = await db[MEDIA].find_one({"_id": upload_id, "tenantId": tenant_id}, {"data": 1})
    return bytes(found["data"]) if found is not None else None
