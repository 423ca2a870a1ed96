"""Start-up: settings → store (migrated) → services → HTTP app."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from outdial.api.app import create_app
from outdial.clock import SystemClock
from outdial.services.container import Services
from outdial.settings import Settings
from outdial.store.migrate import upgrade
from outdial.store.store import Store


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: Store
    services: Services

    def app(self) -> FastAPI:
        return create_app(self.services, self.settings.admin_key)


def open_runtime(settings: Settings, migrate: bool = True) -> Runtime:
    store = Store.from_url(settings.database_url)
    if migrate:
        upgrade(store.engine)
    services = Services.build(store, SystemClock(), settings.secret_key)
    return Runtime(settings, store, services)
