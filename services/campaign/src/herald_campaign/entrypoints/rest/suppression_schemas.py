"""Bodies of ``/api/suppressions``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from herald_campaign.domain.opt_out_keywords import (
    DEFAULT_LANGUAGES,
    LANGUAGES,
    MAX_KEYWORD_CHARS,
    MAX_KEYWORDS_PER_CLASS,
    MAX_REPLY_CHARS,
    KeywordClass,
    KeywordMatcher,
    KeywordSettings,
)
from herald_campaign.entrypoints.rest.schemas import RequestModel, ResponseModel
from herald_campaign.service_layer.suppressions import SuppressionEntry, SuppressionImport
from herald_core.recipients.suppression import SuppressionReason

MAX_NUMBERS_PER_REQUEST = 1000

Keyword = Annotated[str, Field(min_length=1, max_length=MAX_KEYWORD_CHARS)]
Keywords = Annotated[list[Keyword], Field(max_length=MAX_KEYWORDS_PER_CLASS)]


class AddSuppressionsRequest(RequestModel):
    numbers: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        min_length=1,
        max_length=MAX_NUMBERS_PER_REQUEST,
        description="Phone numbers, E.164 or national numbers of the deployment's default region.",
        examples=[["+919876543210"]],
    )


class NotOnWhatsappRequest(RequestModel):
    campaign_id: Annotated[str, Field(min_length=1, max_length=128)] = Field(
        description="The campaign whose `not-on-whatsapp` failures go on the list."
    )


class SuppressionResponse(ResponseModel):
    phone: str
    reason: SuppressionReason
    suppressed_at: datetime
    source: dict[str, Any] = Field(
        description="What put it there: for a keyword, the recipient's message (`text`), the "
        "account (`accountId`) and the campaign message it answered (`campaignId`, "
        "`messageId`); for the tenant's own, `by`."
    )

    @classmethod
    def of(cls, entry: SuppressionEntry) -> SuppressionResponse:
        return cls(
            phone=entry.phone,
            reason=entry.reason,
            suppressed_at=entry.suppressed_at,
            source=entry.source,
        )


class SuppressionListResponse(ResponseModel):
    items: list[SuppressionResponse]
    count: int = Field(description="Numbers on the tenant's list.")
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )
    scope: str = Field(
        description="`tenant`: the tenant's own list decides; `global`: the operator made "
        "every tenant's opt-outs apply to all (each tenant still sees only its own entries)."
    )


class AddSuppressionsResponse(ResponseModel):
    added: int = Field(description="Numbers put on the list now.")
    already: int = Field(description="Numbers that were on it already.")


class RejectedSuppressionRow(ResponseModel):
    line: int
    phone: str
    reason: str


class ImportSuppressionsResponse(ResponseModel):
    added: int
    already: int
    rejected: list[RejectedSuppressionRow] = Field(description="The first rejected rows.")
    rejected_count: int

    @classmethod
    def of(cls, outcome: SuppressionImport) -> ImportSuppressionsResponse:
        return cls(
            added=outcome.added,
            already=outcome.already,
            rejected=[
                RejectedSuppressionRow(line=r.line, phone=r.phone, reason=r.reason)
                for r in outcome.rejected
            ],
            rejected_count=outcome.rejected_count,
        )


class KeywordClassLists(RequestModel):
    opt_out: Keywords = Field(default_factory=list, alias="opt-out")
    opt_in: Keywords = Field(default_factory=list, alias="opt-in")
    help: Keywords = Field(default_factory=list)


class KeywordReplies(RequestModel):
    opt_out: Annotated[str, Field(min_length=1, max_length=MAX_REPLY_CHARS)] | None = Field(
        default=None, alias="opt-out"
    )
    opt_in: Annotated[str, Field(min_length=1, max_length=MAX_REPLY_CHARS)] | None = Field(
        default=None, alias="opt-in"
    )
    help: Annotated[str, Field(min_length=1, max_length=MAX_REPLY_CHARS)] | None = None


class KeywordSettingsRequest(RequestModel):
    languages: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(
        default_factory=lambda: list(DEFAULT_LANGUAGES),
        min_length=1,
        max_length=len(LANGUAGES),
        description=f"Built-in keyword lists to use: {', '.join(LANGUAGES)}.",
    )
    extra: KeywordClassLists = Field(
        default_factory=KeywordClassLists, description="The tenant's own keywords, per class."
    )
    removed: Keywords = Field(
        default_factory=list, description="Built-in keywords the tenant turns off."
    )
    replies: KeywordReplies = Field(
        default_factory=KeywordReplies,
        description="The confirmation sent for each class of keyword, through the account "
        "the keyword reached and paced like any send; none when absent.",
    )

    def settings(self) -> KeywordSettings:
        """Raises KeywordSettingsError naming the field."""
        extra = {
            KeywordClass.OPT_OUT: tuple(self.extra.opt_out),
            KeywordClass.OPT_IN: tuple(self.extra.opt_in),
            KeywordClass.HELP: tuple(self.extra.help),
        }
        replies = {
            KeywordClass.OPT_OUT: self.replies.opt_out,
            KeywordClass.OPT_IN: self.replies.opt_in,
            KeywordClass.HELP: self.replies.help,
        }
        return KeywordSettings(
            languages=tuple(self.languages),
            extra={k: v for k, v in extra.items() if v},
            removed=tuple(self.removed),
            replies={k: v for k, v in replies.items() if v is not None},
        )


class KeywordSettingsResponse(ResponseModel):
    languages: list[str]
    extra: dict[str, list[str]]
    removed: list[str]
    replies: dict[str, str]
    keywords: dict[str, list[str]] = Field(
        description="The keywords in force per class (`opt-out`, `opt-in`, `help`), as "
        "matched: whole message, case, accents, punctuation and emoji at the ends ignored."
    )
    available_languages: list[str]

    @classmethod
    def of(cls, settings: KeywordSettings) -> KeywordSettingsResponse:
        matcher = KeywordMatcher.of(settings)
        return cls(
            languages=list(settings.languages),
            extra={k.value: list(v) for k, v in settings.extra.items()},
            removed=list(settings.removed),
            replies={k.value: v for k, v in settings.replies.items()},
            keywords={k.value: sorted(matcher.keywords(k)) for k in KeywordClass},
            available_languages=list(LANGUAGES),
        )
