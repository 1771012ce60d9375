"""The filters a list of dead letters takes, the tenant's and the operators' alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from herald_core.messages.dead_letters import DeadLetterStatus

CampaignFilter = Annotated[
    str | None,
    Query(alias="campaignId", min_length=1, max_length=128, description="Only this campaign."),
]
ReasonFilter = Annotated[
    str | None, Query(min_length=1, max_length=100, description="Only this reason.")
]
StatusFilter = Annotated[DeadLetterStatus | None, Query(description="open or redriven")]
DeadLetterLimit = Annotated[int, Query(ge=1, le=500)]
