"""What an operation refuses; the REST API and the command consumer each report it their way."""

from __future__ import annotations


class OperationRefused(Exception):
    """A request the campaign's state or content rules out; ``reason`` is a short code."""

    reason = "refused"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class CampaignNotFound(OperationRefused):
    """No campaign with this id belongs to the tenant (another tenant's campaign included)."""

    reason = "unknown-campaign"

    def __init__(self, campaign_id: str) -> None:
        super().__init__(f"campaign {campaign_id} not found")
        self.campaign_id = campaign_id


class CampaignConflict(OperationRefused):
    """The campaign's state forbids the operation (not a draft, already running, no contacts)."""


class NoValidContacts(OperationRefused):
    """Every contact of a command was rejected."""

    reason = "no-valid-contacts"


class InvalidMessageBody(OperationRefused):
    """A campaign body with a malformed placeholder (``invalid-template``) or one that renders
    longer than WhatsApp delivers (``body-too-long``)."""

    reason = "invalid-template"


class DeadLetterNotFound(OperationRefused):
    """No dead letter with this id is visible to the tenant."""

    reason = "unknown-dead-letter"

    def __init__(self, dead_letter_id: str) -> None:
        super().__init__(f"dead letter {dead_letter_id} not found")
        self.dead_letter_id = dead_letter_id


class RedriveRefused(OperationRefused):
    """A dead letter that cannot be redriven: its message is no longer failed (redriven
    already, sent), or a poison record has no Herald topic to go back to."""

    reason = "not-redrivable"


class EventBusUnavailable(RuntimeError):
    """Kafka did not take an event or did not answer a query."""


class AccountNotFound(OperationRefused):
    """No sender account with this id belongs to the tenant."""

    reason = "unknown-account"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} not found")
        self.account_id = account_id


class AccountConflict(OperationRefused):
    """Another account of the tenant has this phone number."""

    reason = "account-exists"


class InvalidField(OperationRefused):
    """A request field that breaks a rule only the service layer can check (a stored account,
    an upload, an address); ``field`` names it as the API does (``fallback.gateway``)."""

    reason = "invalid-field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.field_message = message


class InvalidAccount(InvalidField):
    """Account settings that break a rule; ``field`` names the setting (``fallback.gateway``)."""

    reason = "invalid-account"


class InvalidMedia(InvalidField):
    """A campaign's media Herald will not send: an unknown upload, a type WhatsApp does not
    deliver, a URL to an address that is not public."""

    reason = "invalid-media"
