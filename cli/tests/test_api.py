"""The client turns the API's answers into results or readable errors."""

from __future__ import annotations

import io

import httpx
import pytest

from herald_cli.api import ApiError, ApiUnreachable, HeraldApi
from herald_cli.connection import Connection

CONNECTION = Connection("http://herald.test", "secret", "--token")


def api_answering(handler: httpx.MockTransport) -> HeraldApi:
    return HeraldApi(CONNECTION, transport=handler)


def test_a_validation_error_keeps_the_fields_the_api_names() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422,
            json={
                "error": "validation failed",
                "fields": [{"field": "messageBody", "message": "must not be blank"}],
            },
        )

    with api_answering(httpx.MockTransport(answer)) as api, pytest.raises(ApiError) as error:
        api.create_campaign({"name": "n", "messageBody": " "})

    assert error.value.status == 422
    assert error.value.message == "validation failed"
    assert [(f.field, f.message) for f in error.value.fields] == [
        ("messageBody", "must not be blank")
    ]
    assert (error.value.method, error.value.path) == ("POST", "/api/campaigns")


def test_an_error_that_is_not_herald_json_shows_its_status_and_text() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(502, text="Bad Gateway from proxy"))
    with api_answering(transport) as api, pytest.raises(ApiError) as error:
        api.queue_stats()
    assert str(error.value) == "502 Bad Gateway from proxy"


def test_requests_carry_the_token_and_quote_ids_in_paths() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "x"})

    with api_answering(httpx.MockTransport(answer)) as api:
        api.campaign("a/b c")

    assert seen[0].headers["Authorization"] == "Bearer secret"
    assert seen[0].url.raw_path == b"/api/campaigns/a%2Fb%20c"


def test_a_csv_is_streamed_as_text_csv() -> None:
    received: dict[str, object] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        received["type"] = request.headers["Content-Type"]
        received["chunked"] = request.headers.get("Transfer-Encoding")
        received["body"] = request.read()
        return httpx.Response(200, json={"accepted": 1})

    csv = b"phone,name\n+14155550100,Ada\n"
    with api_answering(httpx.MockTransport(answer)) as api:
        result = api.import_contacts_csv("cmp_1", io.BytesIO(csv))

    assert result == {"accepted": 1}
    assert received == {"type": "text/csv; charset=utf-8", "chunked": "chunked", "body": csv}


def test_no_server_is_unreachable_naming_where_it_tried() -> None:
    nowhere = Connection("http://127.0.0.1:9", "secret", "--token")
    with HeraldApi(nowhere) as api, pytest.raises(ApiUnreachable) as error:
        api.queue_stats()
    assert str(error.value).startswith("cannot reach the Herald API at http://127.0.0.1:9: ")
    assert "refused" in str(error.value)
