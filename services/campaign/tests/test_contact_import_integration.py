"""Contacts as CSV (the body, or a multipart upload) and message templates, through the REST API
and ``campaign.commands``, against the real Kafka broker and MongoDB-wire server."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from herald_campaign.adapters.api_keys import register_api_key
from herald_campaign.domain.campaigns import CampaignDraft
from herald_campaign.service_layer.errors import InvalidMessageBody
from herald_core.contracts.events import ContactsAdded, campaign_event_adapter
from herald_core.contracts.topics import CAMPAIGN_COMMANDS, CAMPAIGN_EVENTS, MESSAGE_DLT
from herald_core.templates import WHATSAPP_MAX_BODY
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    TENANT,
    RunningService,
    by_key,
    campaign_settings,
    create_campaign,
    running_service,
)

pytestmark = pytest.mark.integration

CSV = {"Content-Type": "text/csv"}


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "contact_import")
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


@pytest.fixture
def api(service: RunningService) -> httpx.AsyncClient:
    return service.client


async def new_campaign(api: httpx.AsyncClient, body: str = "Hi {{name|there}}") -> str:
    campaign_id: str = (await create_campaign(api, messageBody=body))["id"]
    return campaign_id


async def stored_contacts(service: RunningService, campaign_id: str) -> dict[str, Any]:
    cursor = service.db["contacts"].find({"campaignId": campaign_id})
    return {c["phone"]: c async for c in cursor}


MIXED = (
    "phone,Name,city\r\n"
    "+919876543210,John,Pune\r\n"  # 2
    '+14155552671,"Doe, Jane","San Francisco,\r\nCA"\r\n'  # 3-4
    "98123 45678,Ravi,\r\n"  # 5: national form, default region IN
    "12345,Broken,Nowhere\r\n"  # 6: invalid number
    "+447911123456,Ada\r\n"  # 7: a column short
    "\r\n"  # 8: blank
    "+91 98765 43210,John again,Pune\r\n"  # 9: repeats line 2
    ",Nobody,Nowhere\r\n"  # 10: no phone
    f"+33612345678,Long,{'c' * 1000}\r\n"  # 11: message too long with this city
)


async def test_a_csv_body_is_imported_with_rejected_rows_by_line(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    body = "x" * (WHATSAPP_MAX_BODY - 1000) + " {{name|there}} from {{city|your town}}"
    campaign_id = await new_campaign(api, body)
    async with TopicReader(service.kafka, CAMPAIGN_EVENTS) as events:
        response = await api.post(
            f"/api/campaigns/{campaign_id}/contacts", content=MIXED.encode(), headers=CSV
        )
        published = [
            campaign_event_adapter.validate_json(r.value)
            for r in by_key(await events.read_to_end(), campaign_id)
        ]
    assert response.status_code == 200, response.text
    assert response.json() == {
        "accepted": 3,
        "duplicates": 1,
        "rejected": [
            {"line": 6, "phone": "12345", "reason": "invalid phone number"},
            {"line": 7, "phone": "+447911123456", "reason": "expected 3 columns, found 2"},
            {"line": 10, "phone": "", "reason": "no phone number"},
            {"line": 11, "phone": "+33612345678", "reason": "body-too-long"},
        ],
        "rejectedCount": 4,
        "total": 3,
        "suppressed": 0,
        "suppressedNumbers": [],
    }
    stored = await stored_contacts(service, campaign_id)
    assert {phone: (c["name"], c["fields"]) for phone, c in stored.items()} == {
        "+919876543210": ("John", {"city": "Pune"}),
        "+14155552671": ("Doe, Jane", {"city": "San Francisco,\r\nCA"}),
        "+919812345678": ("Ravi", {}),
    }
    assert {c["tenantId"] for c in stored.values()} == {TENANT}
    assert (await api.get(f"/api/campaigns/{campaign_id}")).json()["contactCount"] == 3
    # One event for the whole file.
    assert [type(e) for e in published] == [ContactsAdded]
    assert [(e.accepted, e.rejected) for e in published if isinstance(e, ContactsAdded)] == [(3, 4)]


async def test_a_multipart_upload_is_imported_and_duplicates_the_campaign_has_are_counted(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await new_campaign(api)
    path = f"/api/campaigns/{campaign_id}/contacts"
    json_added = await api.post(path, json={"contacts": [{"phone": "+919876543210"}]})
    assert json_added.json()["accepted"] == 1
    upload = {"file": ("contacts.csv", MIXED.encode(), "text/csv")}
    response = await api.post(path, files=upload, data={"comment": "ignored"})
    assert response.status_code == 200, response.text
    report = response.json()
    # Line 2 and line 9 (the same number) are both in the campaign already; the long city fits
    # this short body.
    assert (report["accepted"], report["duplicates"], report["total"]) == (3, 2, 4)
    assert [r["line"] for r in report["rejected"]] == [6, 7, 10]
    again = await api.post(path, files=upload)
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 5)
    assert len(await stored_contacts(service, campaign_id)) == 4


async def test_a_list_longer_than_a_batch_counts_repeats_across_batches(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await new_campaign(api)
    rows = [f"+9198765{i:05d},n{i}" for i in range(2_500)]
    rows.insert(2_400, "+919876500007,repeat of row 9")
    rows.insert(1_200, "+9198765,too short")
    data = ("phone,name\n" + "\n".join(rows) + "\n").encode()

    async def in_pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 10_000):
            yield data[start : start + 10_000]

    response = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", content=in_pieces(), headers=CSV
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["accepted"], report["duplicates"], report["total"]) == (2_500, 1, 2_500)
    assert report["rejected"] == [
        {"line": 1_202, "phone": "+9198765", "reason": "invalid phone number"}
    ]
    assert len(await stored_contacts(service, campaign_id)) == 2_500


async def test_rejections_listed_are_the_first_thousand_and_all_are_counted(
    api: httpx.AsyncClient,
) -> None:
    campaign_id = await new_campaign(api)
    rows = []
    for i in range(1_500):
        # Rejected by the reader (a column short) or by screening (invalid number), mixed.
        rows.append(f"+1{i},x" if i % 2 else f"+919876{i:06d}")
    data = ("phone,name\n" + "\n".join(rows) + "\n").encode()
    response = await api.post(f"/api/campaigns/{campaign_id}/contacts", content=data, headers=CSV)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["accepted"] == 0 and report["rejectedCount"] == 1_500
    assert [r["line"] for r in report["rejected"]] == list(range(2, 1_002))


async def test_a_bad_header_is_a_422_naming_it_and_nothing_is_written(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await new_campaign(api)
    response = await api.post(
        f"/api/campaigns/{campaign_id}/contacts",
        content=b"phone,first name,city\n+919876543210,John,Pune\n",
        headers=CSV,
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid CSV header",
        "fields": [
            {
                "field": "header",
                "message": "column 2 'first name' cannot be used in a template: name it with "
                "letters, digits and _, not starting with a digit",
            }
        ],
    }
    no_phone = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", content=b"mobile,name\n1,2\n", headers=CSV
    )
    assert no_phone.status_code == 422
    assert "no phone column" in no_phone.json()["fields"][0]["message"]
    empty = await api.post(f"/api/campaigns/{campaign_id}/contacts", content=b"", headers=CSV)
    assert empty.status_code == 422
    assert "the file is empty" in empty.json()["fields"][0]["message"]
    assert await stored_contacts(service, campaign_id) == {}


async def test_bytes_that_are_not_utf8_stop_the_import_at_their_line(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await new_campaign(api)
    data = b"phone,name\n+919876543210,John\n+14155552671,J\xe9r\xf4me\n+447911123456,Ada\n"
    response = await api.post(f"/api/campaigns/{campaign_id}/contacts", content=data, headers=CSV)
    assert response.status_code == 400
    assert response.json() == {
        "error": "line 3: not UTF-8 (byte 0xe9 at byte 15 of the line); the import stopped "
        "there (contacts added from the rows before it: 1)",
        "line": 3,
        "accepted": 1,
        "total": 1,
    }
    assert list(await stored_contacts(service, campaign_id)) == ["+919876543210"]


async def test_only_a_draft_takes_contacts_and_another_tenants_campaign_is_not_found(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await new_campaign(api)
    path = f"/api/campaigns/{campaign_id}/contacts"
    data = b"phone\n+919876543210\n"
    requests: list[dict[str, Any]] = [
        {"content": data, "headers": CSV},
        {"files": {"file": ("c.csv", data, "text/csv")}},
    ]
    async with service.client_for(OTHER_TOKEN) as intruder:
        for request in requests:
            response = await intruder.post(path, **request)
            assert response.status_code == 404, response.text
            assert response.json() == {"error": "campaign not found"}
    assert (await api.post(path, content=data, headers=CSV)).status_code == 200
    assert (await api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202
    for request in requests:
        response = await api.post(path, **request)
        assert response.status_code == 409, response.text
        assert response.json() == {
            "error": "contacts can only be added to a draft campaign; this one is running"
        }


async def test_a_campaign_sent_while_its_list_arrives_stops_the_import(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await new_campaign(api)
    first = "phone\n" + "".join(f"+9198765{i:05d}\n" for i in range(1_500))
    rest = "".join(f"+9198765{i:05d}\n" for i in range(1_500, 3_000))

    async def list_then_send() -> AsyncIterator[bytes]:
        yield first.encode()  # the first batch of 1,000 is imported before the next chunk
        sent = await api.post(f"/api/campaigns/{campaign_id}/send")
        assert sent.status_code == 202, sent.text
        yield rest.encode()

    response = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", content=list_then_send(), headers=CSV
    )
    assert response.status_code == 409
    assert response.json() == {
        "error": "contacts can only be added to a draft campaign; this one is running; the "
        "import stopped at line 1002 (contacts added before it: 1000)"
    }
    assert len(await stored_contacts(service, campaign_id)) == 1_000


async def test_multipart_without_a_file_part_and_other_media_types(
    api: httpx.AsyncClient,
) -> None:
    campaign_id = await new_campaign(api)
    path = f"/api/campaigns/{campaign_id}/contacts"
    no_file = await api.post(path, files={"upload": ("c.csv", b"phone\n")})
    assert no_file.status_code == 422
    assert no_file.json() == {
        "error": "validation failed",
        "fields": [{"field": "file", "message": "a CSV file in a part named file is required"}],
    }
    xml = await api.post(path, content=b"<contacts/>", headers={"Content-Type": "text/xml"})
    assert xml.status_code == 415
    assert "text/csv" in xml.json()["error"]
    latin1 = await api.post(
        path,
        content="phone,name\n+919876543210,Jérôme\n".encode("latin-1"),
        headers={"Content-Type": "text/csv; charset=ISO-8859-1"},
    )
    assert latin1.status_code == 415
    assert latin1.json() == {"error": "a CSV file must be UTF-8; this one says charset=iso-8859-1"}
    utf8 = await api.post(
        path,
        content="\ufeffphone,name\n+919876543210,Jérôme\n".encode(),
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    assert utf8.status_code == 200 and utf8.json()["accepted"] == 1


async def test_json_contacts_still_work_with_their_validation(api: httpx.AsyncClient) -> None:
    campaign_id = await new_campaign(api, "x" * (WHATSAPP_MAX_BODY - 20) + "{{city}}")
    path = f"/api/campaigns/{campaign_id}/contacts"
    response = await api.post(
        path,
        json={
            "contacts": [
                {"phone": "+919876543210", "fields": {"city": "Pune"}},
                {"phone": "+14155552671", "fields": {"city": "c" * 21}},
            ]
        },
    )
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 1,
        "rejected": [{"index": 1, "phone": "+14155552671", "reason": "body-too-long"}],
        "duplicates": 0,
        "total": 1,
        "suppressed": [],
    }
    invalid = await api.post(path, json={"contacts": [{"phone": "+919876543210", "x": 1}]})
    assert invalid.status_code == 422
    assert [f["field"] for f in invalid.json()["fields"]] == ["contacts[0].x"]
    malformed = await api.post(path, content=b"{nope", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "malformed JSON"
    nothing = await api.post(path, headers={"Content-Type": "application/json"})
    assert nothing.status_code == 422
    assert nothing.json()["fields"] == [{"field": "body", "message": "Field required"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Hi {{name", "unclosed placeholder '{{name' at line 1, column 4"),
        ("Hi {{name.__class__}}", "'{{name.__class__}}' at line 1, column 4 is not a placeholder"),
        ("Hi {{name|{{x}}}}", "holds another '{{': placeholders cannot be nested"),
        # A template may be longer than WhatsApp's limit; its rendering with defaults may not.
        ("x" * 4090 + "{{name|friendly}}", "renders to 4098 characters"),
        ("x" * 5000, "renders to 5000 characters"),
    ],
)
async def test_a_campaign_body_must_be_a_template_that_fits(
    api: httpx.AsyncClient, body: str, message: str
) -> None:
    response = await api.post("/api/campaigns", json={"name": "t", "messageBody": body})
    assert response.status_code == 422, response.text
    fields = response.json()["fields"]
    assert [f["field"] for f in fields] == ["messageBody"]
    assert message in fields[0]["message"]


async def test_a_body_that_fits_with_defaults_is_accepted(api: httpx.AsyncClient) -> None:
    body = "x" * (WHATSAPP_MAX_BODY - 20) + "{{name|friend}} {% raw %}" + "{{city}}" * 100
    created = await create_campaign(api, messageBody=body)
    assert created["status"] == "draft" and created["messageBody"] == body


async def test_the_service_refuses_a_body_too_long_for_every_caller(
    service: RunningService,
) -> None:
    campaigns = service.app.state.services.campaigns
    with pytest.raises(InvalidMessageBody) as refused:
        await campaigns.create_campaign(
            TENANT, CampaignDraft("n", "x" * 4080 + "{{a|" + "d" * 20 + "}}")
        )
    assert refused.value.reason == "body-too-long"
    assert "renders to 4100 characters" in refused.value.message


async def test_commands_refuse_a_bad_body_and_carry_custom_fields(
    service: RunningService,
) -> None:
    def command(kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "event_id": uuid.uuid4().hex, "tenant_id": TENANT, **fields}

    key = f"tmpl-{uuid.uuid4().hex[:12]}"
    good = f"{key}-good"
    records = [
        command("campaign.create", campaign_id=f"{key}-bad", name="n", message_body="Hi {{name"),
        command("campaign.create", campaign_id=f"{key}-odd", name="n", message_body="{{ 7*7 }}"),
        command("campaign.create", campaign_id=good, name="n", message_body="{{name}} {{city}}"),
        command(
            "campaign.contacts.add",
            campaign_id=good,
            contacts=[{"phone": "+919876543210", "name": "Asha", "fields": {"city": "Pune"}}],
        ),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=service.kafka, acks="all")
    await producer.start()
    try:
        async with TopicReader(service.kafka, MESSAGE_DLT) as dead_letters:
            for record in records:
                await producer.send_and_wait(
                    CAMPAIGN_COMMANDS, json.dumps(record).encode(), key=key.encode()
                )
            contact = await eventually(
                lambda: service.db["contacts"].find_one({"campaignId": good}),
                lambda found: found is not None,
                what="the contact added by command",
            )
            refused = by_key(await dead_letters.read_to_end(), key)
    finally:
        await producer.stop()
    assert contact is not None
    assert contact["fields"] == {"city": "Pune"} and contact["name"] == "Asha"
    headers = [{k: v.decode() for k, v in r.headers} for r in refused]
    assert [h["herald-dlt-reason"] for h in headers] == ["invalid-template", "invalid-template"]
    assert (
        "unclosed placeholder '{{name' at line 1, column 4"
        in (headers[0]["kafka_dlt-exception-message"])
    )
    assert (
        "'{{ 7*7 }}' at line 1, column 1 is not a placeholder"
        in (headers[1]["kafka_dlt-exception-message"])
    )
    refused_ids = [f"{key}-bad", f"{key}-odd"]
    assert await service.db["campaigns"].count_documents({"_id": {"$in": refused_ids}}) == 0


async def test_openapi_documents_json_csv_and_multipart(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    operation = document["paths"]["/api/campaigns/{campaign_id}/contacts"]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == {"application/json", "text/csv", "multipart/form-data"}
    assert "contacts" in content["application/json"]["schema"]["properties"]
    assert "$defs" not in json.dumps(content)
    assert content["multipart/form-data"]["schema"]["required"] == ["file"]
    assert set(operation["responses"]) >= {"200", "400", "401", "404", "409", "415", "422"}
    schemas = document["components"]["schemas"]
    assert "rejectedCount" in schemas["ImportContactsResponse"]["properties"]
