"""The bodies of a CSV contact import's answers (camelCase JSON)."""

from __future__ import annotations

from pydantic import Field

from herald_campaign.entrypoints.rest.schemas import ResponseModel
from herald_campaign.service_layer.contact_import import ImportOutcome, ImportStopped


class RejectedRowResponse(ResponseModel):
    line: int = Field(description="The line of the file where the row starts (the header is 1).")
    phone: str = Field(description="The row's phone as written; empty when it has none.")
    reason: str


class ImportContactsResponse(ResponseModel):
    accepted: int = Field(description="Contacts added to the campaign.")
    duplicates: int = Field(
        description="Rows whose number is repeated in the file or already in the campaign."
    )
    rejected: list[RejectedRowResponse] = Field(
        description="The first rejected rows (at most 1000), in file order."
    )
    rejected_count: int = Field(description="All rejected rows.")
    total: int = Field(description="Contacts in the campaign now.")
    suppressed: int = Field(
        description="Contacts added whose number is on the tenant's suppression list: they "
        "stay in the campaign, and get no message while the number is on the list."
    )
    suppressed_numbers: list[str] = Field(description="The first of them (at most 1000).")

    @classmethod
    def of(cls, outcome: ImportOutcome) -> ImportContactsResponse:
        return cls(
            accepted=outcome.accepted,
            duplicates=outcome.duplicates,
            rejected=[
                RejectedRowResponse(line=r.line, phone=r.phone, reason=r.reason)
                for r in outcome.rejected
            ],
            rejected_count=outcome.rejected_count,
            total=outcome.total,
            suppressed=outcome.suppressed,
            suppressed_numbers=outcome.suppressed_numbers,
        )


class ImportStoppedResponse(ResponseModel):
    error: str
    line: int = Field(description="The line the file could not be read past.")
    accepted: int = Field(description="Contacts added from the rows before it.")
    total: int = Field(description="Contacts in the campaign now.")

    @classmethod
    def of(cls, stopped: ImportStopped) -> ImportStoppedResponse:
        return cls(
            error=str(stopped),
            line=stopped.line,
            accepted=stopped.outcome.accepted,
            total=stopped.outcome.total,
        )
