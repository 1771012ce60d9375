"""Contact lists as CSV over real HTTP, against the campaign service as a process: a 100,000-row
file is read as it arrives (the campaign process's peak memory stays near its baseline), bad
rows are reported by line, every valid row is stored."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.system import RunningStack, api_client

pytestmark = pytest.mark.e2e

ROWS = 100_000
MAX_PEAK_GROWTH_MB = 50
"""Reading this file as it arrives grows the peak by a few MB; holding its 100,000 rows in
memory at once takes about 75 MB more (and their documents as many again), so a regression
that reads the whole file before importing it fails here."""

CSV = {"Content-Type": "text/csv"}


def memory_kb(pid: int, field_name: str) -> int:
    """A memory figure of a process from /proc (``VmHWM``: peak resident set; ``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field_name} for pid {pid}")


@dataclass
class ContactList:
    """A CSV contact list with the rejections and duplicates a reader should find in it."""

    header: str
    rows: list[str] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    """Physical line where each bad row starts -> reason."""
    duplicates: int = 0
    valid: int = 0
    line: int = 2

    def add(self, row: str, *, rejected: str | None = None, duplicate: bool = False) -> None:
        if rejected is not None:
            self.rejected[self.line] = rejected
        elif duplicate:
            self.duplicates += 1
        else:
            self.valid += 1
        self.rows.append(row)
        self.line += 1 + row.count("\n")

    def data(self) -> bytes:
        return (self.header + "\r\n" + "\r\n".join(self.rows) + "\r\n").encode()


def hundred_thousand_contacts() -> ContactList:
    """100,000 valid contacts (some with a quoted multi-line city), with bad rows among them:
    invalid numbers, rows a column short, and repeats of earlier numbers."""
    contacts = ContactList("phone,name,city")
    for i in range(ROWS):
        city = f'"Pune,\r\nMaharashtra {i}"' if i % 997 == 0 else f"City {i % 50}"
        contacts.add(f"+9198765{i:05d},Name {i},{city}")
        if i % 10_000 == 5_000:
            contacts.add(f"+91 5{i:05d},Bad {i},Nowhere", rejected="invalid phone number")
        if i % 25_000 == 12_345:
            contacts.add(f"+9198765{i:05d},A column short", rejected="expected 3 columns, found 2")
        if i % 30_000 == 29_999:
            contacts.add(f"+91 98765 {i - 7:05d},Repeat,Pune", duplicate=True)
    return contacts


async def in_chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def new_campaign(api: httpx.AsyncClient) -> str:
    created = await api.post(
        "/api/campaigns",
        json={"name": "CSV import", "messageBody": "Hi {{name|there}} from {{city|your town}}"},
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    return campaign_id


@pytest.mark.timeout(900)
async def test_a_hundred_thousand_row_import_in_bounded_memory(
    stack: RunningStack, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    contacts = hundred_thousand_contacts()
    data = contacts.data()
    pid = stack.processes["campaign"].pid()
    assert pid is not None
    async with api_client(stack) as api:
        campaign_id = await new_campaign(api)
        peak_before = memory_kb(pid, "VmHWM")
        rss_before = memory_kb(pid, "VmRSS")
        started = time.monotonic()
        response = await api.post(
            f"/api/campaigns/{campaign_id}/contacts",
            content=in_chunks(data),
            headers=CSV,
            timeout=httpx.Timeout(600),
        )
        seconds = time.monotonic() - started
        peak_after = memory_kb(pid, "VmHWM")
        rss_after = memory_kb(pid, "VmRSS")

    print(
        f"\nCSV import of {ROWS:,} valid rows ({len(contacts.rows):,} rows, {len(data):,} bytes):"
        f" {seconds:.1f} s, {ROWS / seconds:,.0f} rows/s; campaign process peak RSS (VmHWM)"
        f" {peak_before / 1024:.1f} MB before, {peak_after / 1024:.1f} MB after"
        f" (+{(peak_after - peak_before) / 1024:.1f} MB); RSS {rss_before / 1024:.1f} ->"
        f" {rss_after / 1024:.1f} MB"
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rejected"] == [
        {"line": line, "phone": report_phone(contacts, line), "reason": reason}
        for line, reason in sorted(contacts.rejected.items())
    ]
    assert report["rejectedCount"] == len(contacts.rejected) == 14
    assert (report["accepted"], report["duplicates"], report["total"]) == (
        ROWS,
        contacts.duplicates,
        ROWS,
    )
    db = mongo[stack.config.database]
    assert await db["contacts"].count_documents({"campaignId": campaign_id}) == ROWS
    campaign = await db["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None and campaign["contactCount"] == ROWS
    quoted = await db["contacts"].find_one({"_id": f"{campaign_id}:+919876599700"})
    assert quoted is not None
    assert (quoted["name"], quoted["fields"]) == (
        "Name 99700",
        {"city": "Pune,\r\nMaharashtra 99700"},
    )
    assert (peak_after - peak_before) / 1024 < MAX_PEAK_GROWTH_MB


def report_phone(contacts: ContactList, line: int) -> str:
    """The phone of the row starting at ``line``, as written."""
    current = 2
    for row in contacts.rows:
        if current == line:
            return row.split(",", 1)[0]
        current += 1 + row.count("\n")
    raise AssertionError(f"no row at line {line}")


async def test_a_multipart_upload_reports_bad_rows_by_line(
    stack: RunningStack, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    upload = (
        "\ufeffPhone,Name,plan\n"
        "+919876543210,Asha,gold\n"
        '+14155552671,"Lee, Jo","multi\nline"\n'
        "not a number,X,silver\n"
        "+447911123456,Ada\n"
        "+91 98765 43210,Asha again,gold\n"
    ).encode()
    async with api_client(stack) as api:
        campaign_id = await new_campaign(api)
        response = await api.post(
            f"/api/campaigns/{campaign_id}/contacts",
            files={"file": ("contacts.csv", upload, "text/csv")},
        )
        other = await api.post(
            f"/api/campaigns/{campaign_id}/contacts",
            content=b"phone,first-name\n+919876543210,x\n",
            headers=CSV,
        )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "accepted": 2,
        "duplicates": 1,
        "rejected": [
            {"line": 5, "phone": "not a number", "reason": "invalid phone number"},
            {"line": 6, "phone": "+447911123456", "reason": "expected 3 columns, found 2"},
        ],
        "rejectedCount": 2,
        "total": 2,
        "suppressed": 0,
        "suppressedNumbers": [],
    }
    stored = mongo[stack.config.database]["contacts"].find({"campaignId": campaign_id})
    assert {c["phone"]: c["fields"] async for c in stored} == {
        "+919876543210": {"plan": "gold"},
        "+14155552671": {"plan": "multi\nline"},
    }
    assert other.status_code == 422
    assert other.json()["fields"][0]["field"] == "header"
    assert "'first-name'" in other.json()["fields"][0]["message"]
