"""An image campaign with the real ``herald`` executable: ``--media`` uploads the file, the
campaign is sent and watched to the end, and every gateway call was an image carrying the file
and the rendered caption, once per contact."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.system import RunningStack, messages_of, no_duplicate_sends, sends_of

from .conftest import Herald

pytestmark = pytest.mark.e2e

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def test_an_image_campaign_from_the_cli_is_sent_as_images(
    herald: Herald,
    stack: RunningStack,
    tmp_path: Path,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    image = tmp_path / "offer.png"
    image.write_bytes(PNG)
    created = await herald(
        "campaigns", "create",
        "--name", "Image offer",
        "--body", "Hi {{name|there}}, see the offer",
        "--delay-type", "fast",
        "--media", str(image),
        "--json",
    )  # fmt: skip
    assert created.code == 0, created
    campaign = created.json()
    assert campaign["media"]["kind"] == "image" and campaign["media"]["filename"] == "offer.png"
    campaign_id = campaign["id"]

    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone,name\n+14155550201,Ada\n+14155550202,\n", encoding="utf-8")
    assert (await herald("contacts", "import", campaign_id, str(contacts))).code == 0
    assert (await herald("campaigns", "send", campaign_id)).code == 0
    # The watch asks for the sweep (a system job) with the operator token, as under make up.
    admin_token = ("--admin-token", stack.config.admin_token)
    watched = await herald(
        "campaigns", "watch", campaign_id, "--interval", "0.2", *admin_token, timeout=90
    )
    assert watched.code == 0, watched
    assert watched.stdout.splitlines()[-1].startswith(f"Campaign {campaign_id} completed: 2 sent")

    await no_duplicate_sends(primary, fallback)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.config.mongodb_url)
    try:
        messages = await messages_of(mongo, stack, campaign_id)
    finally:
        await mongo.close()
    assert len(messages) == 2
    captions = set()
    for message_id in (m["_id"] for m in messages):
        [call] = [c for c in await sends_of(primary, message_id) if c.get("outcome") == "accepted"]
        assert call["media"]["kind"] == "image", call
        assert call["media"]["mimetype"] == "image/png"
        assert call["media"]["from"] == "data", call
        captions.add(call["text"])
    assert captions == {"Hi Ada, see the offer", "Hi there, see the offer"}

    missing = await herald(
        "campaigns", "create", "--name", "x", "--body", "y", "--media", str(tmp_path / "no.png")
    )
    assert missing.code != 0 and "no such file" in missing.stderr
