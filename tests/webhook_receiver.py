"""A real webhook receiver (an ASGI app served by uvicorn on a port) that checks signatures,
records what it got and fails on purpose when told to. Used by the tests and bench/webhooks.py.

Run alone (the benchmark does, in its own process):
    python -m tests.webhook_receiver --port 9999 --secret S [--fail-for 20]
It answers ``GET /stats`` with its counts as JSON and ``POST /control`` with
``{"fail_for": seconds}`` or ``{"fail_first": n}`` to change its behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from outdial.domain.webhooks import (
    EVENT_ID_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)

Scope = dict[str, Any]


@dataclass
class Received:
    event_id: str
    headers: dict[str, str]
    body: bytes
    status: int
    signed: bool

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``secret`` checks each signature; ``fail_first`` failing answers (503), then while
    ``time.monotonic() < fail_until``; ``delay`` seconds before each answer."""

    secret: str = ""
    fail_first: int = 0
    fail_until: float = 0.0
    fail_status: int = 503
    retry_after: str = ""  # sent with failing answers when set
    delay: float = 0.0
    keep_bodies: bool = True
    got: list[Received] = field(default_factory=list)
    ok_ids: set[str] = field(default_factory=set)
    ok_count: int = 0
    failed_count: int = 0
    bad_signatures: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> list[Received]:
        return [r for r in self.got if r.status == 200]

    def stats(self) -> dict[str, Any]:
        return {
            "ok": self.ok_count,
            "unique": len(self.ok_ids),
            "failed": self.failed_count,
            "bad_signatures": self.bad_signatures,
            "max_in_flight": self.max_in_flight,
        }

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the sender went away mid-request (a worker stopping): nothing got
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/stats":
            await _answer(send, 200, json.dumps(self.stats()).encode())
            return
        if scope["path"] == "/control":
            self.control(json.loads(body))
            await _answer(send, 200, b"{}")
            return
        await self._hook(scope, body, send)

    def control(self, order: dict[str, Any]) -> None:
        if "fail_for" in order:
            self.fail_until = time.monotonic() + float(order["fail_for"])
        if "fail_first" in order:
            self.fail_first = int(order["fail_first"])

    async def _hook(self, scope: Scope, body: bytes, send: Any) -> None:
        heads = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        stamp = heads.get(TIMESTAMP_HEADER.lower(), "0")
        signed = bool(self.secret) and verify(
            self.secret, int(stamp), body, heads.get(SIGNATURE_HEADER.lower(), "")
        )
        event_id = heads.get(EVENT_ID_HEADER.lower(), "")
        with self._lock:
            failing = self.fail_first > 0 or time.monotonic() < self.fail_until
            if self.fail_first > 0:
                self.fail_first -= 1
            status = self.fail_status if failing else 200
            if self.secret and not signed:
                status = 401
                self.bad_signatures += 1
            if status == 200:
                self.ok_count += 1
                self.ok_ids.add(heads.get(IDEMPOTENCY_HEADER.lower(), event_id))
            else:
                self.failed_count += 1
            if self.keep_bodies:
                self.got.append(Received(event_id, heads, body, status, signed))
        extra = (
            [(b"retry-after", self.retry_after.encode())]
            if status != 200 and self.retry_after
            else []
        )
        await _answer(send, status, b"{}", extra)


async def _answer(
    send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", default="")
    args = parser.parse_args()
    receiver = Receiver(secret=args.secret, keep_bodies=False)
    uvicorn.run(receiver, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
