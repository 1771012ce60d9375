"""The file a media message carries, as the gateway takes it: by URL, or the upload's bytes
(base64) read from MongoDB, the last few kept in memory (a campaign sends the same file to
every contact)."""

from __future__ import annotations

import base64
from collections import OrderedDict

from herald_core.contracts.events import SendMessage
from herald_core.media import MediaRef
from herald_gateways.interface import GatewayError, MediaFile
from herald_infra.media.uploads import upload_bytes
from herald_infra.mongo.client import Database

MEDIA_MISSING = "media-missing"
CACHED_FILES = 4


def media_missing(upload_id: str) -> GatewayError:
    """The upload a message names is gone (or another tenant's): no retry can send it."""
    return GatewayError(MEDIA_MISSING, f"upload {upload_id} not found", retryable=False)


class MediaFiles:
    def __init__(self, db: Database, *, cached_files: int = CACHED_FILES) -> None:
        self._db = db
        self._limit = cached_files
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def file_of(self, event: SendMessage) -> MediaFile | None:
        """The message's media for the gateway, None for a text; raises ``media-missing``
        when its upload is gone."""
        media = event.media
        if media is None:
            return None
        if media.url is not None:
            return MediaFile(mimetype=media.mimetype, filename=media.filename, url=media.url)
        return MediaFile(
            mimetype=media.mimetype,
            filename=media.filename,
            data_base64=await self._data(event.tenant_id, media),
        )

    async def _data(self, tenant_id: str, media: MediaRef) -> str:
        assert media.upload_id is not None
        key = (tenant_id, media.upload_id)
        if (cached := self._cache.get(key)) is not None:
            self._cache.move_to_end(key)
            return cached
        data = await upload_bytes(self._db, tenant_id, media.upload_id)
        if data is None:
            raise media_missing(media.upload_id)
        encoded = base64.b64encode(data).decode()
        self._cache[key] = encoded
        while len(self._cache) > self._limit:
            self._cache.popitem(last=False)
        return encoded
