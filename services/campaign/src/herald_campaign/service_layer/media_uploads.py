"""A tenant's uploaded media files: kept, and described (see :mod:`herald_infra.media.uploads`)."""

from __future__ import annotations

from herald_campaign.service_layer.campaigns import stored_now
from herald_infra.media.uploads import UploadedMedia, save_upload, upload_info
from herald_infra.mongo.client import Database


class EmptyUpload(ValueError):
    pass


class MediaUploads:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(
        self, tenant_id: str, *, mimetype: str, filename: str | None, data: bytes
    ) -> UploadedMedia:
        """Keep the file; UnsupportedMedia for a type or size WhatsApp does not take,
        EmptyUpload for no bytes at all."""
        if not data:
            raise EmptyUpload("the file is empty")
        return await save_upload(
            self._db, tenant_id, mimetype=mimetype, filename=filename, data=data, now=stored_now()
        )

    async def info(self, tenant_id: str, upload_id: str) -> UploadedMedia | None:
        return await upload_info(self._db, tenant_id, upload_id)
