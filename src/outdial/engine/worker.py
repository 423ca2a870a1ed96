"""An engine worker: leases campaigns, runs their runners, routes call events to them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from outdial.clock import Clock
from outdial.engine.ledger import Ledger
from outdial.engine.ports import CallEvent, Telephony
from outdial.engine.runner import CampaignRunner
from outdial.store.store import Store

log = logging.getLogger("outdial.engine")

DriverFactory = Callable[[dict[str, Any]], Telephony]


@dataclass(frozen=True)
class EngineSettings:
    lease_seconds: float = 15.0  # campaign lease; renewed every third of it
    contact_lease_seconds: float = 60.0
    state_poll_seconds: float = 1.0  # pause/resume/cancel take effect within this
    idle_poll_seconds: float = 5.0  # look again for due contacts when none were found
    progress_seconds: float = 5.0


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        drivers: DriverFactory,
        settings: EngineSettings | None = None,
        worker_id: str | None = None,
    ):
        self.store, self.clock = store, clock
        self.settings = settings or EngineSettings()
        self.worker_id = worker_id or new_worker_id()
        self.ledger = Ledger(store, self.worker_id)
        self._driver_factory = drivers
        self._drivers: dict[int, Telephony] = {}
        self.runners: dict[int, CampaignRunner] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._calls: dict[str, CampaignRunner] = {}
        self.stopping = False

    # --- drivers and call routing ------------------------------------------------------------

    def driver_for(self, line: dict[str, Any]) -> Telephony:
        driver = self._drivers.get(line["id"])
        if driver is None:
            driver = self._driver_factory(line)
            driver.subscribe(self.dispatch)
            self._drivers[line["id"]] = driver
        return driver

    def track(self, call_id: str, runner: CampaignRunner) -> None:
        self._calls[call_id] = runner

    def untrack(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    def dispatch(self, event: CallEvent) -> None:
        runner = self._calls.get(event.call_id)
        if runner is not None:
            runner.on_event(event)

    # --- running -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Lease and run campaigns until ``stop`` is set."""
        beat = self.settings.lease_seconds / 3
        self.ledger.heartbeat(self.clock.now())
        # Let workers started together see each other before anyone takes a share.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), beat)
        try:
            while not stop.is_set():
                self.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), beat)
        finally:
            await self.shutdown()
            self.ledger.leave()

    def tick(self) -> None:
        for campaign_id in self.ledger.lease_campaigns(
            self.clock.now(), self.settings.lease_seconds
        ):
            if campaign_id not in self._tasks:
                self.start(campaign_id)
        for campaign_id, task in list(self._tasks.items()):
            if task.done():
                if not task.cancelled() and task.exception() is not None:
                    # e.g. the driver could not say which calls are alive: leased again later
                    log.error("campaign %s: runner stopped: %r", campaign_id, task.exception())
                self._tasks.pop(campaign_id)
                self.runners.pop(campaign_id, None)
                self.ledger.release_campaign(campaign_id)

    def start(self, campaign_id: int) -> CampaignRunner:
        runner = CampaignRunner(self, campaign_id)
        self.runners[campaign_id] = runner
        self._tasks[campaign_id] = asyncio.ensure_future(runner.run())
        return runner

    async def run_campaign(self, campaign_id: int) -> CampaignRunner:
        """Run one campaign to its end (simulation), without leasing others."""
        runner = self.start(campaign_id)
        await self._tasks.pop(campaign_id)
        return runner

    async def shutdown(self) -> None:
        """Stop dialing; calls in progress are left to the driver and reconciled on restart."""
        self.stopping = True
        for runner in self.runners.values():
            runner.poke()
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        for campaign_id in list(self._tasks):
            self.ledger.release_campaign(campaign_id)
        for driver in self._drivers.values():
            await driver.close()
        self.ledger.flush()  # the closes of calls that ended as the drivers closed
