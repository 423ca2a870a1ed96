"""Test helpers: a hand-driven clock, a real uvicorn server in a thread, an API client."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import uvicorn
from fastapi import FastAPI
from sqlalchemy import insert

from outdial.store.schema import attempts
from tests.pg_server import free_port


class ManualClock:
    def __init__(self, start: datetime | None = None):
        self.current = start or datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@contextmanager
def live_server(app: FastAPI | Any) -> Iterator[str]:
    """Serve ``app`` (FastAPI or any ASGI app) with uvicorn on a free loopback port, in a
    thread; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Api:
    """A thin client for one caller (a tenant key, the admin key, or nobody)."""

    def __init__(self, base_url: str, key: str | None = None):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx2.Client(base_url=f"{base_url}/api/v1", headers=headers, timeout=30)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> httpx2.Response:
        return self.http.get(path, params=params)

    def post(self, path: str, body: Any = None) -> httpx2.Response:
        return self.http.post(path, json=body)

    def upload(self, path: str, name: str, content: bytes, **form: str) -> httpx2.Response:
        """A multipart/form-data POST: the file in ``file``, ``form`` as the other fields."""
        return self.http.post(path, files={"file": (name, content)}, data=form)

    def patch(self, path: str, body: Any) -> httpx2.Response:
        return self.http.patch(path, json=body)

    def delete(self, path: str) -> httpx2.Response:
        return self.http.delete(path)

    def ok(self, response: httpx2.Response, status: int = 200) -> Any:
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None


def fields(response: httpx2.Response) -> set[str]:
    """The field paths named in an error response."""
    body = response.json()
    assert set(body) >= {"code", "message", "details"}, body
    return {d["field"] for d in body["details"]}


def ended_attempt(api: Api, campaign_id: int, contact: dict[str, Any], **fields: Any) -> Any:
    """An INSERT of one ended attempt on the contact's first phone, as the engine writes it."""
    now = datetime.now(UTC)
    phone = contact["phones"][0]
    values: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "tenant_id": api.tenant["id"],  # type: ignore[attr-defined]
        "campaign_id": campaign_id,
        "contact_id": contact["id"],
        "phone_id": phone["id"],
        "number": phone["number"],
        "caller_number": "95187",
        "worker_id": "test",
        "created_at": now,
        "ended_at": now,
        "outcome": "no_answer",
        "native_cause": "NO_ANSWER",
        "talk_seconds": 0.0,
        "abandoned": False,
        "data": {},
    }
    return insert(attempts).values(**{**values, **fields})


def synchronously(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on its own event loop (the fixtures stay as pytest sees them)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run
