"""The JobRunner: threads that take queued jobs from the store and run them to an end.

A job whose worker died is queued again (its work is all-or-nothing: an import is one
transaction, an export rewrites its file), so every submitted job ends, once."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outdial.domain.errors import InternalError, OutdialError
from outdial.domain.jobs import JobKind, JobState
from outdial.services.common import Tenant
from outdial.services.jobs import UPLOAD, JobCancelled, JobService

log = logging.getLogger("outdial.jobs")

Progress = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class RunningJob:
    row: dict[str, Any]
    tenant: Tenant | None
    directory: Path  # the job's own directory: its upload, its report, its export
    report: Progress  # call with the progress so far; raises JobCancelled when asked to stop

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.row["params"])

    @property
    def upload(self) -> Path:
        return self.directory / UPLOAD


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any]
    progress: dict[str, Any]


Handler = Callable[[RunningJob], Outcome]
TenantOf = Callable[[int], Tenant]


class JobRunner:
    def __init__(
        self,
        jobs: JobService,
        handlers: Mapping[JobKind, Handler],
        tenant_of: TenantOf,
        threads: int = 2,
        poll_seconds: float = 0.2,
    ):
        self.jobs, self.handlers, self.tenant_of = jobs, dict(handlers), tenant_of
        self.worker_id = f"jobs-{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self.threads, self.poll_seconds = threads, poll_seconds
        self._stop = threading.Event()
        self._running: list[threading.Thread] = []

    def start(self) -> None:
        """Retry the jobs of dead workers, then serve the queue on background threads."""
        everyone = not self.jobs.store.concurrent_writers
        if requeued := self.jobs.requeue_stale(self.worker_id, everyone):
            log.info("queued again %d job(s) left running by a stopped worker", requeued)
        for n in range(self.threads):
            thread = threading.Thread(target=self._serve, name=f"outdial-jobs-{n}", daemon=True)
            thread.start()
            self._running.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for thread in self._running:
            thread.join(timeout)
        self._running.clear()

    def run_pending(self) -> int:
        """Run queued jobs on this thread until none is left; how many ran."""
        count = 0
        while (row := self.jobs.claim(self.worker_id)) is not None:
            self._run(row)
            count += 1
        return count

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                row = self.jobs.claim(self.worker_id)
            except Exception:
                log.exception("could not take a job from the queue")
                row = None
            if row is None:
                self._stop.wait(self.poll_seconds)
                continue
            self._run(row)

    def _run(self, row: dict[str, Any]) -> None:
        job_id = int(row["id"])
        try:
            tenant = None if row["tenant_id"] is None else self.tenant_of(int(row["tenant_id"]))
            job = RunningJob(
                row,
                tenant,
                self.jobs.files.path(row["uuid"], UPLOAD).parent,
                lambda progress: self.jobs.report(job_id, progress),
            )
            outcome = self.handlers[JobKind(row["kind"])](job)
        except JobCancelled:
            self.jobs.finish(job_id, JobState.CANCELLED)
        except OutdialError as exc:
            self.jobs.finish(job_id, JobState.FAILED, error=exc)
        except Exception as exc:
            log.exception("job %s failed", job_id)
            failure = InternalError(f"the job stopped on an internal error: {exc}")
            self.jobs.finish(job_id, JobState.FAILED, error=failure)
        else:
            self.jobs.finish(job_id, JobState.SUCCEEDED, outcome.result, progress=outcome.progress)
        finally:
            job_dir = self.jobs.files.path(row["uuid"], UPLOAD)
            job_dir.unlink(missing_ok=True)  # the upload is spent; reports and exports stay
