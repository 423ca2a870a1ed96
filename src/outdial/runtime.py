"""Start-up: settings → store (migrated) → services → HTTP app, and the engine worker."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI

from outdial.api.app import create_app
from outdial.api.facades.dezhu import SignPolicy
from outdial.clock import SystemClock
from outdial.engine.worker import EngineSettings, Worker
from outdial.io.webhooks import DeliverySettings, DeliveryWorker
from outdial.services.catalog import open_line_password, seal_stored_passwords
from outdial.services.container import Services
from outdial.services.secrets import SecretBox
from outdial.settings import Settings
from outdial.store.migrate import upgrade
from outdial.store.store import Store
from outdial.telephony.registry import driver_factory

log = logging.getLogger("outdial")
FILES_DIR = "files"  # under the data dir: the jobs' uploads, reports and exports


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: Store
    services: Services

    def app(self) -> FastAPI:
        window = timedelta(seconds=self.settings.dezhu_sign_window_seconds)
        sign = SignPolicy(window, self.settings.dezhu_sign_compat)
        return create_app(self.services, self.settings.admin_key, dezhu_sign=sign)


def open_runtime(settings: Settings, migrate: bool = True) -> Runtime:
    store = Store.from_url(settings.database_url)
    if migrate:
        upgrade(store.engine)
        with store.write() as conn:
            sealed = seal_stored_passwords(conn, SecretBox(settings.secret_key))
        if sealed:
            log.info("sealed the plain-text passwords of %d lines", sealed)
    services = Services.build(
        store,
        SystemClock(),
        settings.secret_key,
        files_dir=settings.data_dir / FILES_DIR,
        operator_region=settings.default_region,
    )
    return Runtime(settings, store, services)


def new_worker(
    store: Store, engine_settings: EngineSettings | None = None, secret_key: bytes | None = None
) -> Worker:
    """An engine worker; ``secret_key`` opens the lines' sealed passwords (SIP, FreeSWITCH)."""
    clock = SystemClock()
    return Worker(store, clock, driver_factory(clock, line_secrets(secret_key)), engine_settings)


def line_secrets(secret_key: bytes | None) -> Callable[[str], str] | None:
    if secret_key is None:
        return None
    box = SecretBox(secret_key)
    return lambda stored: open_line_password(box, stored)


class LoopThread:
    """An asyncio main on its own thread and event loop, beside the HTTP server."""

    name = "outdial-loop"

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    async def main(self, stop: asyncio.Event) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._run())
        except Exception:
            log.exception("%s stopped on an error", self.name)
        finally:
            loop.close()

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        self._ready.set()
        await self.main(self._stop)

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)


class EngineThread(LoopThread):
    """The engine worker."""

    name = "outdial-engine"

    def __init__(
        self,
        store: Store,
        engine_settings: EngineSettings | None = None,
        secret_key: bytes | None = None,
    ):
        super().__init__()
        self.store, self.engine_settings, self.secret_key = store, engine_settings, secret_key

    async def main(self, stop: asyncio.Event) -> None:
        await new_worker(self.store, self.engine_settings, self.secret_key).run(stop)


class WebhookThread(LoopThread):
    """The webhook delivery worker."""

    name = "outdial-webhooks"

    def __init__(self, services: Services, settings: DeliverySettings | None = None):
        super().__init__()
        self.worker = DeliveryWorker(services.store, services.clock, services.box.open, settings)

    async def main(self, stop: asyncio.Event) -> None:
        await self.worker.run(stop)
