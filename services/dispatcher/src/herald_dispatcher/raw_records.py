"""Reading Kafka records as they are: their payload as bytes, their headers as text.

The relay and the dead-letter recorder must cope with whatever a topic holds. FastStream's own
parser decodes every header value as UTF-8 and fails on anything else; such a record would be
neither handled nor dead-lettered, so these subscribers parse it with the bad bytes replaced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from faststream.message import StreamMessage

Parser = Callable[[Any], Awaitable[StreamMessage[Any]]]


def header_texts(headers: Iterable[tuple[str, bytes | str | None]]) -> dict[str, str]:
    """Header values as text (undecodable bytes replaced); the last of a repeated name wins."""
    texts: dict[str, str] = {}
    for name, value in headers:
        if isinstance(value, bytes):
            texts[name] = value.decode("utf-8", errors="replace")
        elif value is not None:
            texts[name] = value
    return texts


async def parse_tolerating_binary_headers(
    record: Any, default_parser: Parser
) -> StreamMessage[Any]:
    """FastStream's parsing, except that header bytes that are not UTF-8 do not fail it.

    The message keeps the original record as ``raw_message``, headers untouched.
    """
    try:
        return await default_parser(record)
    except UnicodeDecodeError:
        readable = [(name, text.encode()) for name, text in header_texts(record.headers).items()]
        message = await default_parser(dataclasses.replace(record, headers=readable))
        message.raw_message = record
        return message


async def payload_bytes(message: StreamMessage[Any]) -> bytes:
    """The record's value as it is: never fails, whatever the bytes or the content-type say."""
    body: bytes = message.body
    return body
