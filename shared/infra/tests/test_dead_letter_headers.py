from pydantic import ValidationError

from herald_core.contracts.commands import campaign_command_adapter
from herald_core.messages.dead_letters import dead_letter_headers
from herald_infra.kafka.broker import InvalidRecord, reason_of


def test_headers_say_where_the_record_came_from_and_why() -> None:
    headers = dead_letter_headers(
        topic="campaign.commands", partition=3, offset=41, error=KeyError("x"), reason="invalid"
    )
    assert headers["kafka_dlt-original-topic"] == "campaign.commands"
    assert headers["kafka_dlt-original-partition"] == "3"
    assert headers["kafka_dlt-original-offset"] == "41"
    assert headers["kafka_dlt-exception-fqcn"] == "builtins.KeyError"
    assert headers["herald-dlt-reason"] == "invalid"
    assert headers["herald-dlt-attempts"] == "1"


def test_reasons() -> None:
    try:
        campaign_command_adapter.validate_json(b'{"type": "campaign.send"}')
    except ValidationError as error:
        assert reason_of(error) == "schema-invalid"
    else:
        raise AssertionError("a command without fields must not validate")
    assert reason_of(InvalidRecord("unknown-campaign", "no such campaign")) == "unknown-campaign"
    assert reason_of(ValueError("Expecting value")) == "undecodable"
