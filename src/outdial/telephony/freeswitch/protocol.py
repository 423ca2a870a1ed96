"""The Event Socket wire format: messages are header blocks ended by an empty line, with a
body of exactly ``Content-Length`` bytes when that header is present.

Outer headers (``Content-Type``, ``Reply-Text``, ``Job-UUID`` …) come plain. An event sent as
``text/event-plain`` is itself a header block whose values FreeSWITCH URL-encodes, with its own
``Content-Length`` body (a BACKGROUND_JOB's result); ``text/event-json`` is one JSON object of
plain strings, the body under ``_body``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from urllib.parse import unquote

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024  # `show channels as json` on a busy node is large, not this


class ProtocolError(Exception):
    """The peer sent something that is not Event Socket."""


@dataclass(frozen=True)
class Message:
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


def parse_headers(block: str, decode: bool = False) -> dict[str, str]:
    """``Name: value`` lines; ``decode`` URL-decodes the values (plain event bodies)."""
    headers: dict[str, str] = {}
    for line in block.split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"not a header line: {line[:80]!r}")
        value = value.strip()
        headers[name.strip()] = unquote(value) if decode else value
    return headers


async def read_message(reader: asyncio.StreamReader) -> Message:
    """One message; raises asyncio.IncompleteReadError at the end of the stream."""
    lines: list[bytes] = []
    size = 0
    while True:
        line = await reader.readuntil(b"\n")
        size += len(line)
        if size > MAX_HEADER_BYTES:
            raise ProtocolError("header block too long")
        if line in (b"\n", b"\r\n"):
            if lines:
                break
            continue  # stray blank lines between messages
        lines.append(line)
    headers = parse_headers(b"".join(lines).decode("utf-8", "replace").replace("\r", ""))
    length = headers.get("Content-Length")
    if length is None:
        return Message(headers)
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        raise ProtocolError(f"bad Content-Length {length!r}")
    body = await reader.readexactly(int(length))
    return Message(headers, body.decode("utf-8", "replace"))


def parse_event(message: Message) -> dict[str, str]:
    """The event's headers (and ``_body``) from a text/event-json or text/event-plain message."""
    if message.content_type == "text/event-json":
        try:
            data = json.loads(message.body)
        except ValueError as exc:
            raise ProtocolError(f"event-json body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ProtocolError("event-json body is not an object")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    if message.content_type == "text/event-plain":
        block, _, rest = message.body.partition("\n\n")
        event = parse_headers(block, decode=True)
        length = event.get("Content-Length")
        if length is not None and length.isdigit():
            event["_body"] = rest.encode()[: int(length)].decode("utf-8", "replace")
        return event
    raise ProtocolError(f"not an event: {message.content_type!r}")


def command(text: str, **headers: str) -> bytes:
    """A command as the client sends it: its line, extra header lines, the empty line."""
    if "\n" in text or any("\n" in v for v in headers.values()):
        raise ValueError("an Event Socket command is one line")
    lines = [text, *(f"{k}: {v}" for k, v in headers.items())]
    return ("\n".join(lines) + "\n\n").encode()


def encode(headers: dict[str, str], body: str = "") -> bytes:
    """A message as FreeSWITCH sends it (the fake server's side, and tests)."""
    data = body.encode()
    if data:
        headers = {"Content-Length": str(len(data)), **headers}
    block = "".join(f"{k}: {v}\n" for k, v in headers.items())
    return block.encode() + b"\n" + data
