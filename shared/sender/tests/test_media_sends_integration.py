"""Media messages from the sender (real MongoDB-wire server and Kafka, the gateway simulator):
an upload's bytes or a URL reach the gateway's media route with the body as the caption; a
message whose upload is gone fails as ``media-missing`` without a gateway call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker

from herald_core.contracts.common import utc_now
from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_core.media import MediaRef
from herald_core.messages.states import MessageStatus
from herald_infra.media.uploads import save_upload
from herald_infra.messages.attempt_outcomes import RecordOrigin
from herald_infra.mongo.client import connect, database, ensure_indexes
from herald_infra.runtime.settings import HeraldSettings

from .sending import primary_sender, queued_message

pytestmark = pytest.mark.integration

ORIGIN = RecordOrigin(MESSAGE_SEND_PRIMARY, 0, 0)
TENANT = "t-media"


async def with_media(db: Any, media: MediaRef) -> SendMessage:
    event = await queued_message(db, TENANT)
    return event.model_copy(update={"media": media})


async def accepted_calls(gateway: httpx.AsyncClient, event: SendMessage) -> list[dict[str, Any]]:
    response = await gateway.get(f"/_sim/sends/{event.message_id}")
    if response.status_code == 404:
        return []
    return [c for c in response.json() if c["outcome"] == "accepted"]


async def test_uploads_and_urls_reach_the_media_route_and_a_missing_upload_fails(
    settings: HeraldSettings, broker: KafkaBroker, gateway: httpx.AsyncClient
) -> None:
    mongo = connect(settings)
    db = database(mongo, settings)
    await ensure_indexes(db)
    send = primary_sender(db, broker, settings, owner="it-media")
    try:
        upload = await save_upload(
            db,
            TENANT,
            mimetype="application/pdf",
            filename="offer.pdf",
            data=b"%PDF-1.4 ...",
            now=utc_now(),
        )
        document = await with_media(
            db, MediaRef(mimetype="application/pdf", filename="offer.pdf", upload_id=upload.id)
        )
        assert await send.deliver(document, ORIGIN) is MessageStatus.SENT
        [call] = await accepted_calls(gateway, document)
        assert call["media"] == {
            "kind": "document",
            "mimetype": "application/pdf",
            "filename": "offer.pdf",
            "from": "data",
        }
        assert call["text"] == "hello"

        image = await with_media(
            db, MediaRef(mimetype="image/jpeg", url="https://cdn.example.com/offer.jpg")
        )
        assert await send.deliver(image, ORIGIN) is MessageStatus.SENT
        [call] = await accepted_calls(gateway, image)
        assert (call["media"]["kind"], call["media"]["from"]) == ("image", "url")

        gone = await with_media(db, MediaRef(mimetype="image/png", upload_id="med_" + "e" * 32))
        assert await send.deliver(gone, ORIGIN) is MessageStatus.FAILED
        stored = await db["messages"].find_one({"_id": gone.message_id})
        assert stored is not None and stored["failedReason"] == "media-missing"
        assert await accepted_calls(gateway, gone) == []
    finally:
        await mongo.close()
