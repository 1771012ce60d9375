"""The campaign operations when Kafka does not take their event (MongoDB real, Kafka failing)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from herald_campaign.domain.campaigns import CampaignDraft
from herald_campaign.domain.contacts import SubmittedContact
from herald_campaign.service_layer.campaigns import CampaignEvent, CampaignService
from herald_campaign.service_layer.errors import EventBusUnavailable
from herald_infra.mongo.client import Database, connect, database, ensure_indexes
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration

TENANT = "tenant-a"


class SwitchableEvents:
    """Takes events while ``up``; raises as the Kafka adapter does when Kafka is down."""

    def __init__(self) -> None:
        self.up = True
        self.published: list[CampaignEvent] = []

    async def publish(self, event: CampaignEvent) -> None:
        if not self.up:
            raise EventBusUnavailable("kafka is down")
        self.published.append(event)


@pytest.fixture(scope="module")
async def db(mongodb_url: str) -> AsyncIterator[Database]:
    settings = HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_campaign_ops_{uuid.uuid4().hex[:8]}"
    )
    client = connect(settings)
    db = database(client, settings)
    await ensure_indexes(db)
    yield db
    await client.close()


@pytest.fixture
def events() -> SwitchableEvents:
    return SwitchableEvents()


@pytest.fixture
def campaigns(db: Database, events: SwitchableEvents) -> CampaignService:
    return CampaignService(db, events, default_region="IN")


async def test_an_api_send_whose_launch_was_not_published_goes_back_to_draft(
    campaigns: CampaignService, events: SwitchableEvents, db: Database
) -> None:
    campaign = await campaigns.create_campaign(TENANT, CampaignDraft("Offline", "hi"))
    await campaigns.add_contacts(TENANT, campaign["_id"], [SubmittedContact("+919876543210")])
    events.up = False
    with pytest.raises(EventBusUnavailable):
        await campaigns.send_campaign(TENANT, campaign["_id"])
    stored = await db["campaigns"].find_one({"_id": campaign["_id"]})
    assert stored is not None
    assert stored["status"] == "draft" and "launchedAt" not in stored

    events.up = True
    launched = await campaigns.send_campaign(TENANT, campaign["_id"])
    assert launched["status"] == "running"
    assert [e.type for e in events.published][-1] == "campaign.launched"


async def test_a_send_command_whose_launch_was_not_published_stays_running_for_redelivery(
    campaigns: CampaignService, events: SwitchableEvents, db: Database
) -> None:
    campaign = await campaigns.create_campaign(TENANT, CampaignDraft("Offline", "hi"))
    await campaigns.add_contacts(TENANT, campaign["_id"], [SubmittedContact("+919876543210")])
    events.up = False
    with pytest.raises(EventBusUnavailable):
        await campaigns.send_campaign(TENANT, campaign["_id"], command_id="cmd-1")
    stored = await db["campaigns"].find_one({"_id": campaign["_id"]})
    assert stored is not None and stored["status"] == "running"
    assert "launchPublishedAt" not in stored

    events.up = True  # Kafka delivers the command again
    await campaigns.send_campaign(TENANT, campaign["_id"], command_id="cmd-1")
    assert [e.type for e in events.published][-1] == "campaign.launched"
    stored = await db["campaigns"].find_one({"_id": campaign["_id"]})
    assert stored is not None and stored["launchPublishedAt"] is not None


async def test_an_api_create_whose_event_was_not_published_leaves_no_campaign(
    campaigns: CampaignService, events: SwitchableEvents, db: Database
) -> None:
    name = f"Offline {uuid.uuid4().hex}"
    events.up = False
    with pytest.raises(EventBusUnavailable):
        await campaigns.create_campaign(TENANT, CampaignDraft(name, "hi"))
    assert await db["campaigns"].count_documents({"name": name}) == 0


async def test_a_create_command_whose_event_was_not_published_keeps_its_campaign(
    campaigns: CampaignService, events: SwitchableEvents, db: Database
) -> None:
    campaign_id = f"cmd-{uuid.uuid4().hex}"
    events.up = False
    with pytest.raises(EventBusUnavailable):
        await campaigns.create_campaign(
            TENANT, CampaignDraft("Offline", "hi"), campaign_id=campaign_id, command_id="c-1"
        )
    events.up = True  # redelivered: the same campaign, and now its event
    await campaigns.create_campaign(
        TENANT, CampaignDraft("Offline", "hi"), campaign_id=campaign_id, command_id="c-1"
    )
    assert await db["campaigns"].count_documents({"_id": campaign_id}) == 1
    assert [(e.type, e.campaign_id) for e in events.published] == [
        ("campaign.created", campaign_id)
    ]
