"""The webhook delivery worker: an asyncio loop that leases due deliveries from the outbox,
POSTs them (signed, with a timestamp and the event id as idempotency key), and records each
try's result: delivered, a later try after exponential back-off with full jitter, or a dead
letter. Leases live in the store, so a worker that stops or dies loses nothing: its leases
run out and any worker takes the deliveries up again (with the same event id)."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import aiohttp

from outdial.clock import Clock
from outdial.domain.webhooks import (
    Backoff,
    DeliveryState,
    after_failure,
    encode,
    headers,
    retry_after,
    succeeded,
)
from outdial.settings import WEBHOOK_TIMEOUT_SECONDS, Settings
from outdial.store import outbox
from outdial.store.outbox import Claimed, TryResult
from outdial.store.store import Store

log = logging.getLogger("outdial.webhooks")
USER_AGENT = "outdial-webhooks/1"
ANSWER_BYTES = 64 * 1024  # of a receiver's answer read (a failure's starts in last_error)


@dataclass(frozen=True)
class DeliverySettings:
    poll_seconds: float = 0.5  # how often to look for due deliveries when idle
    lease_seconds: float = 30.0  # a try's lease; must outlast timeout_seconds
    timeout_seconds: float = 10.0  # per request
    max_in_flight: int = 256  # requests at once, over all subscriptions
    backoff: Backoff = field(default_factory=Backoff)
    keep_delivered_seconds: float = 7 * 86400  # then a delivered delivery is forgotten
    purge_every_seconds: float = 600
    disable_after_seconds: float | None = 3 * 86400  # an endpoint failing this long is disabled
    disable_after_dead: int | None = None  # …or one with this many dead letters in a row

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliverySettings:
        hours, dead = settings.webhook_disable_after_hours, settings.webhook_disable_after_dead
        return cls(
            lease_seconds=float(settings.webhook_lease_seconds),
            timeout_seconds=float(WEBHOOK_TIMEOUT_SECONDS),
            disable_after_seconds=hours * 3600.0 if hours else None,
            disable_after_dead=dead or None,
        )


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        open_secret: Callable[[str], str],
        settings: DeliverySettings | None = None,
        worker_id: str | None = None,
        rng: random.Random | None = None,
    ):
        self.store, self.clock, self.open_secret = store, clock, open_secret
        self.settings = settings or DeliverySettings()
        self.worker_id = worker_id or f"webhooks-{uuid.uuid4().hex[:12]}"
        self.rng = rng or random.Random()
        self._secrets: dict[str, str] = {}
        self._flying: dict[int, asyncio.Task[TryResult]] = {}
        self._done: list[TryResult] = []
        self._wake = asyncio.Event()
        self._failing: set[int] = set()  # subscriptions whose last try here failed
        self._next_purge: datetime | None = None

    async def run(self, stop: asyncio.Event) -> None:
        connector = aiohttp.TCPConnector(limit=self.settings.max_in_flight, limit_per_host=0)
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers={"User-Agent": USER_AGENT}
        ) as client:
            try:
                while not stop.is_set():
                    await self._cycle(client)
                    await self._pause(stop)
            finally:
                await self._shut_down()

    async def _cycle(self, client: aiohttp.ClientSession) -> None:
        """Record the finished tries and lease more, in one transaction, then send them."""
        done, self._done = self._done, []
        room = self.settings.max_in_flight - len(self._flying)
        try:
            claimed = await asyncio.to_thread(self._exchange, done, room)
        except Exception:
            log.exception("the webhook outbox could not be read; trying again")
            self._done = done + self._done
            return
        for item in claimed:
            task = asyncio.create_task(self._try(client, item))
            self._flying[item.id] = task
            task.add_done_callback(partial(self._landed, item.id))

    def _exchange(self, done: list[TryResult], room: int) -> list[Claimed]:
        now = self.clock.now()
        if self._next_purge is None or now >= self._next_purge:
            self._purge(now)
        answered = {r.subscription_id for r in done if r.state is DeliveryState.DELIVERED}
        recovered = [s for s in answered if s in self._failing]
        self._failing = (self._failing - answered) | {
            r.subscription_id for r in done if r.state is not DeliveryState.DELIVERED
        }
        settings = self.settings
        after = settings.disable_after_seconds
        with self.store.write() as conn:
            outbox.finish(conn, self.worker_id, done, now, recovered)
            disabled = outbox.track_health(
                conn,
                done,
                now,
                None if after is None else timedelta(seconds=after),
                settings.disable_after_dead,
            )
            claimed = outbox.claim(conn, self.worker_id, now, settings.lease_seconds, room)
        for sub_id in disabled:
            log.warning("webhook %d disabled: its endpoint kept failing", sub_id)
        return claimed

    def _purge(self, now: datetime) -> None:
        keep = timedelta(seconds=self.settings.keep_delivered_seconds)
        with self.store.write() as conn:
            gone = outbox.purge(conn, now - keep)
        if gone:
            log.info("forgot %d deliveries delivered over %s ago", gone, keep)
        self._next_purge = now + timedelta(seconds=self.settings.purge_every_seconds)

    async def _pause(self, stop: asyncio.Event) -> None:
        """Until a try lands (room, and a result to record) or the poll interval passes."""
        if self._done and len(self._flying) < self.settings.max_in_flight:
            await asyncio.sleep(0.005)  # let a few more land: one transaction for them all
            return
        self._wake.clear()
        waits = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(waits, timeout=self.settings.poll_seconds, return_when="FIRST_COMPLETED")
        for w in waits:
            w.cancel()

    def _landed(self, delivery_id: int, task: asyncio.Task[TryResult]) -> None:
        self._flying.pop(delivery_id, None)
        if not task.cancelled():
            self._done.append(task.result())
        self._wake.set()

    async def _try(self, client: aiohttp.ClientSession, item: Claimed) -> TryResult:
        body = encode(item.payload)
        try:
            stamp = int(self.clock.now().timestamp())
            sent = headers(item.event_id, item.event, self._secret(item), stamp, body)
            async with client.post(
                item.url, data=body, headers=sent, allow_redirects=False
            ) as response:
                status = response.status
                asked = response.headers.get("Retry-After")
                answer = await response.content.read(ANSWER_BYTES)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self._failed(item, None, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a URL the client refuses, a secret that cannot be opened
            return self._failed(item, None, f"{type(exc).__name__}: {exc}")
        if succeeded(status):
            return TryResult(
                item.id, item.subscription_id, DeliveryState.DELIVERED, status, None, None
            )
        said = answer.decode("utf-8", "replace").strip()[:200]
        error = f"HTTP {status}" + (f": {said}" if said else "")
        return self._failed(item, status, error, retry_after(status, asked, self.clock.now()))

    def _failed(
        self, item: Claimed, status: int | None, error: str, asked: float | None = None
    ) -> TryResult:
        state = after_failure(item.tries, item.max_tries)
        later = None
        if state is DeliveryState.PENDING:
            wait = self.settings.backoff.delay(item.tries, self.rng.uniform, asked)
            later = self.clock.now() + timedelta(seconds=wait)
        return TryResult(item.id, item.subscription_id, state, status, error, later)

    def _secret(self, item: Claimed) -> str:
        sealed = item.secret_encrypted
        if sealed not in self._secrets:
            self._secrets[sealed] = self.open_secret(sealed)
        return self._secrets[sealed]

    async def _shut_down(self) -> None:
        """Stop: the tries under way are abandoned (their leases given back, the try
        unspent); the results already in are recorded."""
        abandoned = list(self._flying)
        tasks = list(self._flying.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        done, self._done = self._done, []
        await asyncio.to_thread(self._give_back, done, abandoned)

    def _give_back(self, done: list[TryResult], abandoned: list[int]) -> None:
        now = self.clock.now()
        recorded = {r.id for r in done}
        with self.store.write() as conn:
            outbox.finish(conn, self.worker_id, done, now)
            outbox.release(conn, self.worker_id, [i for i in abandoned if i not in recorded], now)
