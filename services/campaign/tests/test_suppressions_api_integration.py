"""The tenant's suppression list and opt-out keywords through ``/api/suppressions``, against the
real Kafka broker and MongoDB-wire server: numbers added one by one, by CSV import, or from a
campaign's ``not-on-whatsapp`` failures; listed, shown, exported and removed; each tenant's
list its own; contacts added to a campaign report the numbers on it; each change announced on
``contact.events``."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from herald_campaign.adapters.api_keys import register_api_key
from herald_core.contracts.events import ContactOptedIn, ContactOptedOut, contact_event_adapter
from herald_core.contracts.topics import CONTACT_EVENTS
from herald_core.messages.states import MessageStatus
from herald_devstack.topic_reader import TopicReader

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    TENANT,
    RunningService,
    by_key,
    campaign_settings,
    create_campaign,
    message_document,
    running_service,
)

pytestmark = pytest.mark.integration

CSV = {"Content-Type": "text/csv"}
EXPORT_HEADER = ["phone", "reason", "suppressedAt", "keyword", "campaignId"]


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "suppressions")
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


@pytest.fixture
def api(service: RunningService) -> httpx.AsyncClient:
    return service.client


@pytest.fixture
async def own_api(service: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a tenant of this test alone, whose list starts empty (for counts, order
    and defaults that other tests' numbers would change)."""
    token = f"token-{uuid.uuid4().hex}"
    await register_api_key(service.db, token, f"tenant-{uuid.uuid4().hex[:12]}", "one test")
    async with service.client_for(token) as client:
        yield client


_used: set[str] = set()


def new_numbers(count: int) -> list[str]:
    """Valid Indian mobile numbers (E.164) no other test of the module uses."""
    numbers: list[str] = []
    while len(numbers) < count:
        number = f"+9198{random.randrange(10**8):08d}"
        if number not in _used:
            _used.add(number)
            numbers.append(number)
    return numbers


async def add(api: httpx.AsyncClient, numbers: list[str]) -> dict[str, Any]:
    response = await api.post("/api/suppressions", json={"numbers": numbers})
    assert response.status_code == 200, response.text
    added: dict[str, Any] = response.json()
    return added


async def listed(api: httpx.AsyncClient) -> list[str]:
    """Every number on the list, following the pages."""
    phones: list[str] = []
    params: dict[str, Any] = {"limit": 1000}
    while True:
        page = (await api.get("/api/suppressions", params=params)).json()
        phones += [item["phone"] for item in page["items"]]
        if page["nextAfter"] is None:
            return phones
        params["after"] = page["nextAfter"]


def first_field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    field: str = response.json()["fields"][0]["field"]
    return field


# Adding numbers


async def test_numbers_are_added_once_and_a_national_number_reads_in_the_default_region(
    api: httpx.AsyncClient,
) -> None:
    e164, national_e164 = new_numbers(2)
    national = national_e164.removeprefix("+91")
    assert await add(api, [e164, national, e164]) == {"added": 2, "already": 0}
    shown = await api.get(f"/api/suppressions/{national_e164}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["phone"] == national_e164

    [fresh] = new_numbers(1)
    again = await add(api, [national_e164, f"+91 {e164[3:8]} {e164[8:]}", fresh])
    assert again == {"added": 1, "already": 2}


async def test_an_invalid_number_is_a_422_naming_it_and_nothing_is_added(
    api: httpx.AsyncClient,
) -> None:
    valid, later = new_numbers(2)
    response = await api.post("/api/suppressions", json={"numbers": [valid, "12345", later]})
    assert first_field(response) == "numbers[1]"
    for phone in (valid, later):
        assert (await api.get(f"/api/suppressions/{phone}")).status_code == 404


async def test_an_empty_oversized_or_misspelt_body_is_a_422_naming_the_field(
    api: httpx.AsyncClient,
) -> None:
    empty = await api.post("/api/suppressions", json={"numbers": []})
    assert first_field(empty) == "numbers"
    too_many = await api.post("/api/suppressions", json={"numbers": new_numbers(1001)})
    assert first_field(too_many) == "numbers"
    misspelt = await api.post("/api/suppressions", json={"numbers": new_numbers(1), "why": "x"})
    assert first_field(misspelt) == "why"
    missing = await api.post("/api/suppressions", json={"phones": new_numbers(1)})
    assert {f["field"] for f in missing.json()["fields"]} == {"numbers", "phones"}


# Listing, showing, removing


async def test_the_list_is_in_number_order_a_page_at_a_time(own_api: httpx.AsyncClient) -> None:
    numbers = new_numbers(5)
    await add(own_api, numbers)
    ordered = sorted(numbers)

    first = (await own_api.get("/api/suppressions", params={"limit": 2})).json()
    assert [i["phone"] for i in first["items"]] == ordered[:2]
    assert (first["count"], first["nextAfter"], first["scope"]) == (5, ordered[1], "tenant")
    second = (
        await own_api.get("/api/suppressions", params={"limit": 2, "after": first["nextAfter"]})
    ).json()
    assert [i["phone"] for i in second["items"]] == ordered[2:4]
    assert second["nextAfter"] == ordered[3]
    last = (
        await own_api.get("/api/suppressions", params={"limit": 2, "after": second["nextAfter"]})
    ).json()
    assert [i["phone"] for i in last["items"]] == ordered[4:]
    assert last["nextAfter"] is None and last["count"] == 5

    whole = (await own_api.get("/api/suppressions")).json()
    assert [i["phone"] for i in whole["items"]] == ordered
    assert whole["nextAfter"] is None
    assert {i["reason"] for i in whole["items"]} == {"manual"}


async def test_a_page_that_ends_the_list_exactly_says_it_is_the_last(
    own_api: httpx.AsyncClient,
) -> None:
    numbers = sorted(new_numbers(4))
    await add(own_api, numbers)
    second = (
        await own_api.get("/api/suppressions", params={"limit": 2, "after": numbers[1]})
    ).json()
    assert [i["phone"] for i in second["items"]] == numbers[2:]
    assert second["nextAfter"] is None


async def test_a_number_is_shown_removed_and_gone_from_the_list(
    own_api: httpx.AsyncClient,
) -> None:
    kept, removed = new_numbers(2)
    await add(own_api, [kept, removed])
    shown = await own_api.get(f"/api/suppressions/{removed}")
    assert shown.status_code == 200, shown.text
    entry = shown.json()
    assert (entry["phone"], entry["reason"], entry["source"]) == (
        removed,
        "manual",
        {"by": "tenant"},
    )
    assert entry["suppressedAt"]

    deleted = await own_api.delete(f"/api/suppressions/{removed}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await own_api.get(f"/api/suppressions/{removed}")).status_code == 404
    assert (await own_api.delete(f"/api/suppressions/{removed}")).status_code == 404
    page = (await own_api.get("/api/suppressions")).json()
    assert ([i["phone"] for i in page["items"]], page["count"]) == ([kept], 1)

    # Taken off, it can be put on again.
    assert await add(own_api, [removed]) == {"added": 1, "already": 0}


async def test_a_number_not_on_the_list_is_a_404_and_a_malformed_one_a_422(
    api: httpx.AsyncClient,
) -> None:
    [absent] = new_numbers(1)
    missing = await api.get(f"/api/suppressions/{absent}")
    assert missing.status_code == 404 and absent in missing.json()["error"]
    assert first_field(await api.get("/api/suppressions/9876543210")) == "phone"
    assert first_field(await api.delete("/api/suppressions/12345")) == "phone"
    assert first_field(await api.get("/api/suppressions", params={"after": "abc"})) == "after"
    assert first_field(await api.get("/api/suppressions", params={"limit": 0})) == "limit"


# Tenants


async def test_each_tenant_sees_and_changes_only_its_own_list(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    mine, both = new_numbers(2)
    await add(api, [mine, both])
    async with service.client_for(OTHER_TOKEN) as other:
        assert (await other.get(f"/api/suppressions/{mine}")).status_code == 404
        assert (await other.delete(f"/api/suppressions/{mine}")).status_code == 404
        assert mine not in await listed(other)
        # The same number on the other tenant's list is a separate entry.
        assert await add(other, [both]) == {"added": 1, "already": 0}
        assert (await other.delete(f"/api/suppressions/{both}")).status_code == 204
        assert (await other.get(f"/api/suppressions/{both}")).status_code == 404
    assert (await api.get(f"/api/suppressions/{mine}")).status_code == 200
    assert (await api.get(f"/api/suppressions/{both}")).status_code == 200
    mine_listed = await listed(api)
    assert {mine, both} <= set(mine_listed)


# Import and export


async def test_a_csv_body_is_imported_with_invalid_rows_listed_by_line(
    own_api: httpx.AsyncClient,
) -> None:
    [present] = new_numbers(1)
    await add(own_api, [present])
    first, second = new_numbers(2)
    body = (
        "phone,name\r\n"
        f"{first},Asha\r\n"  # 2
        "12345,Broken\r\n"  # 3
        f"{present},On the list already\r\n"  # 4
        f"{second.removeprefix('+91')},National\r\n"  # 5
        ",Nobody\r\n"  # 6
    )
    response = await own_api.post("/api/suppressions/import", content=body.encode(), headers=CSV)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "added": 2,
        "already": 1,
        "rejected": [
            {"line": 3, "phone": "12345", "reason": "invalid phone number"},
            {"line": 6, "phone": "", "reason": "no phone number"},
        ],
        "rejectedCount": 2,
    }
    for phone in (first, second):
        entry = (await own_api.get(f"/api/suppressions/{phone}")).json()
        assert (entry["reason"], entry["source"]) == ("import", {"by": "import"})
    # The entry that was there keeps its reason.
    assert (await own_api.get(f"/api/suppressions/{present}")).json()["reason"] == "manual"
    assert sorted(await listed(own_api)) == sorted([present, first, second])


async def test_a_multipart_upload_is_imported(own_api: httpx.AsyncClient) -> None:
    numbers = new_numbers(3)
    data = ("phone\n" + "\n".join(numbers) + "\n+1\n").encode()
    upload = {"file": ("optouts.csv", data, "text/csv")}
    response = await own_api.post("/api/suppressions/import", files=upload, data={"note": "x"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["added"], report["already"], report["rejectedCount"]) == (3, 0, 1)
    assert [r["line"] for r in report["rejected"]] == [5]
    again = await own_api.post("/api/suppressions/import", files=upload)
    assert (again.json()["added"], again.json()["already"]) == (0, 3)
    assert sorted(await listed(own_api)) == sorted(numbers)


async def test_a_bad_header_is_a_422_naming_it_and_nothing_is_added(
    own_api: httpx.AsyncClient,
) -> None:
    [number] = new_numbers(1)
    no_phone = await own_api.post(
        "/api/suppressions/import", content=f"mobile\n{number}\n".encode(), headers=CSV
    )
    assert first_field(no_phone) == "header"
    unusable = await own_api.post(
        "/api/suppressions/import", content=f"phone,first name\n{number},A\n".encode(), headers=CSV
    )
    assert first_field(unusable) == "header"
    empty = await own_api.post("/api/suppressions/import", content=b"", headers=CSV)
    assert first_field(empty) == "header"
    assert await listed(own_api) == []


async def test_a_file_that_is_no_csv_is_refused(api: httpx.AsyncClient) -> None:
    refused = await api.post("/api/suppressions/import", json={"numbers": new_numbers(1)})
    assert refused.status_code == 415
    latin1 = await api.post(
        "/api/suppressions/import",
        content=b"phone\n",
        headers={"Content-Type": "text/csv; charset=latin-1"},
    )
    assert latin1.status_code == 415
    no_file = await api.post("/api/suppressions/import", files={"upload": ("a.csv", b"phone\n")})
    assert first_field(no_file) == "file"


async def test_the_export_streams_every_entry_and_imports_back_as_already_there(
    own_api: httpx.AsyncClient,
) -> None:
    numbers = new_numbers(1500)
    for start in range(0, len(numbers), 1000):
        await add(own_api, numbers[start : start + 1000])

    response = await own_api.get("/api/suppressions/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == EXPORT_HEADER
    assert [row[0] for row in rows[1:]] == sorted(numbers)
    assert {row[1] for row in rows[1:]} == {"manual"}

    reimported = await own_api.post(
        "/api/suppressions/import", content=response.content, headers=CSV
    )
    assert reimported.status_code == 200, reimported.text
    assert reimported.json() == {"added": 0, "already": 1500, "rejected": [], "rejectedCount": 0}
    assert (await own_api.get("/api/suppressions")).json()["count"] == 1500


# Keywords


async def test_keywords_default_to_english_without_replies(own_api: httpx.AsyncClient) -> None:
    response = await own_api.get("/api/suppressions/keywords")
    assert response.status_code == 200, response.text
    settings = response.json()
    assert settings["languages"] == ["en"]
    assert (settings["extra"], settings["removed"], settings["replies"]) == ({}, [], {})
    assert "stop" in settings["keywords"]["opt-out"]
    assert "start" in settings["keywords"]["opt-in"]
    assert "baja" not in settings["keywords"]["opt-out"]
    assert {"en", "es", "hi"} <= set(settings["availableLanguages"])


async def test_keywords_are_set_and_read_back(own_api: httpx.AsyncClient) -> None:
    body = {
        "languages": ["en", "es"],
        "extra": {"opt-out": ["parar todo"]},
        "removed": ["end"],
        "replies": {"opt-out": "You will get no more messages. Reply START to resume."},
    }
    put = await own_api.put("/api/suppressions/keywords", json=body)
    assert put.status_code == 200, put.text
    settings = put.json()
    assert settings["languages"] == ["en", "es"]
    assert settings["extra"] == {"opt-out": ["parar todo"]}
    assert settings["removed"] == ["end"]
    assert settings["replies"] == body["replies"]
    assert {"stop", "baja", "parar todo"} <= set(settings["keywords"]["opt-out"])
    assert "end" not in settings["keywords"]["opt-out"]
    assert "alta" in settings["keywords"]["opt-in"]
    assert (await own_api.get("/api/suppressions/keywords")).json() == settings


async def test_invalid_keyword_settings_are_a_422_naming_the_field_and_change_nothing(
    own_api: httpx.AsyncClient,
) -> None:
    before = (await own_api.get("/api/suppressions/keywords")).json()
    url = "/api/suppressions/keywords"
    two_classes = await own_api.put(url, json={"extra": {"opt-in": ["Stop!"]}})
    assert first_field(two_classes) == "extra.opt-in[0]"
    twice_extra = await own_api.put(
        url, json={"extra": {"opt-out": ["parar todo"], "help": ["PARAR TODO"]}}
    )
    assert first_field(twice_extra) == "extra.help[0]"
    language = await own_api.put(url, json={"languages": ["en", "xx"]})
    assert first_field(language) == "languages[1]"
    long_reply = await own_api.put(url, json={"replies": {"opt-out": "x" * 1025}})
    assert first_field(long_reply) == "replies.opt-out"
    blank_reply = await own_api.put(url, json={"replies": {"help": "   "}})
    assert first_field(blank_reply) == "replies.help"
    unknown_class = await own_api.put(url, json={"extra": {"optout": ["halt"]}})
    assert first_field(unknown_class) == "extra.optout"
    assert (await own_api.get(url)).json() == before


async def test_each_tenant_has_its_own_keywords(
    own_api: httpx.AsyncClient, service: RunningService
) -> None:
    put = await own_api.put("/api/suppressions/keywords", json={"languages": ["hi"]})
    assert put.status_code == 200, put.text
    token = f"token-{uuid.uuid4().hex}"
    await register_api_key(service.db, token, f"tenant-{uuid.uuid4().hex[:12]}", "other")
    async with service.client_for(token) as other:
        assert (await other.get("/api/suppressions/keywords")).json()["languages"] == ["en"]
    assert (await own_api.get("/api/suppressions/keywords")).json()["languages"] == ["hi"]


# Contacts of a campaign


async def test_contacts_on_the_list_are_reported_and_still_added(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    on_list, other_on_list, free, free_too = new_numbers(4)
    await add(api, [on_list, other_on_list])
    campaign_id = (await create_campaign(api, messageBody="Hi {{name|there}}"))["id"]
    path = f"/api/campaigns/{campaign_id}/contacts"

    by_json = await api.post(
        path, json={"contacts": [{"phone": free}, {"phone": on_list.removeprefix("+91")}]}
    )
    assert by_json.status_code == 200, by_json.text
    report = by_json.json()
    assert (report["accepted"], report["suppressed"]) == (2, [on_list])

    by_csv = await api.post(
        path, content=f"phone,name\n{other_on_list},A\n{free_too},B\n".encode(), headers=CSV
    )
    assert by_csv.status_code == 200, by_csv.text
    imported = by_csv.json()
    assert (imported["accepted"], imported["suppressed"], imported["suppressedNumbers"]) == (
        2,
        1,
        [other_on_list],
    )
    assert imported["total"] == 4
    stored = {c["phone"] async for c in service.db["contacts"].find({"campaignId": campaign_id})}
    assert stored == {on_list, other_on_list, free, free_too}


async def test_another_tenants_list_does_not_mark_contacts(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    [theirs] = new_numbers(1)
    async with service.client_for(OTHER_TOKEN) as other:
        await add(other, [theirs])
    campaign_id = (await create_campaign(api, messageBody="Hi {{name|there}}"))["id"]
    response = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": theirs}]}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["suppressed"]) == (1, [])


# Not on WhatsApp


async def test_a_campaigns_not_on_whatsapp_numbers_are_added(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = (await create_campaign(api, messageBody="Hi {{name|there}}"))["id"]
    absent, absent_too, busy, delivered = new_numbers(4)
    failed = MessageStatus.FAILED
    messages = [
        (absent, failed, {"failedReason": "not-on-whatsapp"}),
        (absent_too, failed, {"failedReason": "not-on-whatsapp"}),
        (busy, failed, {"failedReason": "attempts-exhausted"}),
        (delivered, MessageStatus.DELIVERED, {}),
    ]
    await service.db["messages"].insert_many(
        [
            message_document(
                campaign_id,
                n,
                status,
                _id=f"msg-{uuid.uuid4().hex}",
                phone=phone,
                contactId=f"{campaign_id}:{phone}",
                **extra,
            )
            for n, (phone, status, extra) in enumerate(messages)
        ]
    )
    async with service.client_for(OTHER_TOKEN) as other:
        theirs = await other.post(
            "/api/suppressions/not-on-whatsapp", json={"campaignId": campaign_id}
        )
        assert theirs.status_code == 404, theirs.text
        assert (await other.get(f"/api/suppressions/{absent}")).status_code == 404
    assert (await api.get(f"/api/suppressions/{absent}")).status_code == 404

    response = await api.post("/api/suppressions/not-on-whatsapp", json={"campaignId": campaign_id})
    assert response.status_code == 200, response.text
    assert response.json() == {"added": 2, "already": 0}
    for phone in (absent, absent_too):
        entry = (await api.get(f"/api/suppressions/{phone}")).json()
        assert entry["reason"] == "not-on-whatsapp"
        assert entry["source"]["campaignId"] == campaign_id
    for phone in (busy, delivered):
        assert (await api.get(f"/api/suppressions/{phone}")).status_code == 404

    again = await api.post("/api/suppressions/not-on-whatsapp", json={"campaignId": campaign_id})
    assert again.json() == {"added": 0, "already": 2}
    unknown = await api.post("/api/suppressions/not-on-whatsapp", json={"campaignId": "nope"})
    assert unknown.status_code == 404


# contact.events


async def test_adding_and_removing_a_number_is_announced_on_contact_events(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    [phone] = new_numbers(1)
    key = f"{TENANT}|{phone}"
    async with TopicReader(service.kafka, CONTACT_EVENTS) as reader:
        await add(api, [phone])
        await add(api, [phone])  # on the list already: nothing to announce
        assert (await api.delete(f"/api/suppressions/{phone}")).status_code == 204
        records = await reader.read_until(lambda rs: len(by_key(rs, key)) >= 2)
        # Each publish was acknowledged before its response: the topic's end holds them all.
        records += await reader.read_to_end()
    events = [contact_event_adapter.validate_json(r.value) for r in by_key(records, key)]
    assert [type(e) for e in events] == [ContactOptedOut, ContactOptedIn]
    opted_out, opted_in = events
    assert isinstance(opted_out, ContactOptedOut) and isinstance(opted_in, ContactOptedIn)
    assert (opted_out.tenant_id, opted_out.phone, opted_out.reason) == (TENANT, phone, "manual")
    assert (opted_in.tenant_id, opted_in.phone, opted_in.reason) == (TENANT, phone, "manual")
    assert opted_out.at <= opted_in.at
