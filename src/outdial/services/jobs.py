"""Background jobs: submitted by the API, the CLI or a facade, run by a JobRunner, followed
through their progress.

A job's row is durable; its live progress is kept in memory by the process that runs it and
written to the row as it goes where the store takes concurrent writers (PostgreSQL). On SQLite
a contact import holds the one writer's lock until its file is in, so progress reaches the row
at the end; the embedded store is one process, and the API reads the live figures from memory.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, and_, func, insert, select, update

from outdial.clock import Clock
from outdial.domain.errors import Conflict, NotFound, OutdialError, ValidationFailed
from outdial.domain.jobs import ACTIVE, FINISHED, JobKind, JobState, cancel_target, check_move
from outdial.io.files import FileStore
from outdial.services.common import Page, PageRequest, Tenant, new_uuid, parse_choice
from outdial.services.downloads import LinkSigner
from outdial.store.repo import valid_id
from outdial.store.schema import jobs
from outdial.store.store import Store

JOB_FILTERS = ("kind", "state", "campaign_id")
FLUSH_SECONDS = 1.0
STALE_SECONDS = 120.0  # a running job whose worker has not written for this long is retried
UPLOAD = "upload"  # the name of a job's input file in its directory
REPORTING = {JobKind.CONTACT_IMPORT.value, JobKind.CONTACT_CHECK.value, JobKind.DNC_IMPORT.value}
"""The kinds of job that leave a report.csv."""


class JobCancelled(Exception):
    """Raised inside a running job when it was asked to stop."""


class JobService:
    def __init__(self, store: Store, clock: Clock, files: FileStore, links: LinkSigner):
        self.store, self.clock, self.files, self.links = store, clock, files, links
        self._live: dict[int, dict[str, Any]] = {}
        self._flushed: dict[int, datetime] = {}
        self._cancel: set[int] = set()
        self._lock = threading.Lock()

    # --- the caller's side ---------------------------------------------------------------------

    def submit(
        self,
        tenant: Tenant | None,
        kind: JobKind,
        file_name: str,
        params: Mapping[str, Any],
        campaign_id: int | None = None,
        upload: BinaryIO | None = None,
        limit: int = 0,
    ) -> dict[str, Any]:
        """Queue a job; ``upload`` (the file to import) is saved first, so a queued job's
        input is always on disk."""
        uuid = new_uuid()
        if upload is not None:
            self.files.save(uuid, UPLOAD, upload, limit)
        now = self.clock.now()
        values = {
            "uuid": uuid,
            "tenant_id": None if tenant is None else tenant.id,
            "campaign_id": campaign_id,
            "kind": kind.value,
            "state": JobState.QUEUED.value,
            "file_name": file_name[:255],
            "params": dict(params),
            "progress": {},
            "result": {},
            "error": None,
            "created_at": now,
            "updated_at": now,
        }
        with self.store.write() as conn:
            row = conn.execute(insert(jobs).values(**values).returning(jobs)).one()
        return dict(row._mapping)

    def get(self, tenant: Tenant | None, job_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return self._with_live(self._get(conn, tenant, job_id))

    def by_uuid(self, tenant: Tenant, job_uuid: str) -> dict[str, Any] | None:
        """The tenant's job of this uuid (as ``get`` shows it), or None."""
        query = select(jobs).where(jobs.c.uuid == job_uuid, _owner(tenant))
        with self.store.read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else self._with_live(dict(row._mapping))

    def list(self, tenant: Tenant | None, page: PageRequest, filters: Mapping[str, str]) -> Page:
        where = [_owner(tenant), *_filters(filters)]
        with self.store.read() as conn:
            total = conn.scalar(select(func.count()).select_from(jobs).where(*where)) or 0
            query = select(jobs).where(*where).order_by(jobs.c.id.desc())
            rows = conn.execute(query.offset(page.offset).limit(page.page_size))
            items = [self._with_live(dict(r._mapping)) for r in rows]
        return Page(items, total, page.page, page.page_size)

    def cancel(self, tenant: Tenant | None, job_id: int) -> dict[str, Any]:
        """Cancel a queued job, or ask a running one to stop (it rolls back what it did)."""
        with self.store.write() as conn:
            row = self._get(conn, tenant, job_id, lock=True)
            target = cancel_target(JobState(row["state"]))
            values: dict[str, Any] = {"state": target.value, "updated_at": self.clock.now()}
            if target is JobState.CANCELLED:
                values["finished_at"] = values["updated_at"]
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))
            row.update(values)
        if target is JobState.CANCELLED:
            self.files.remove(row["uuid"])
        with self._lock:
            self._cancel.add(job_id)
        return self._with_live(row)

    # --- the runner's side ---------------------------------------------------------------------

    def claim(self, worker_id: str) -> dict[str, Any] | None:
        """Take the oldest queued job for ``worker_id``, or None."""
        with self.store.write() as conn:
            query = (
                select(jobs)
                .where(jobs.c.state == JobState.QUEUED.value)
                .order_by(jobs.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            row = conn.execute(query).one_or_none()
            if row is None:
                return None
            now = self.clock.now()
            values = {
                "state": JobState.RUNNING.value,
                "worker_id": worker_id,
                "started_at": now,
                "heartbeat_at": now,
                "updated_at": now,
                "error": None,
            }
            conn.execute(update(jobs).where(jobs.c.id == row.id).values(**values))
            return {**row._mapping, **values}

    def report(self, job_id: int, progress: Mapping[str, Any]) -> None:
        """A running job's progress: kept in memory, written to the row now and then where the
        store allows. Raises JobCancelled when the job was asked to stop."""
        with self._lock:
            self._live[job_id] = dict(progress)
            cancelled = job_id in self._cancel
        if cancelled:
            raise JobCancelled()
        if not self.store.concurrent_writers:
            return
        now = self.clock.now()
        last = self._flushed.get(job_id)
        if last is not None and (now - last).total_seconds() < FLUSH_SECONDS:
            return
        self._flushed[job_id] = now
        with self.store.write() as conn:
            state = conn.scalar(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(progress=dict(progress), heartbeat_at=now, updated_at=now)
                .returning(jobs.c.state)
            )
        if state == JobState.CANCELLING.value:
            raise JobCancelled()

    def finish(
        self,
        job_id: int,
        state: JobState,
        result: Mapping[str, Any] | None = None,
        error: OutdialError | None = None,
        progress: Mapping[str, Any] | None = None,
    ) -> None:
        with self.store.write() as conn:
            current = JobState(
                conn.execute(select(jobs.c.state).where(jobs.c.id == job_id)).scalar_one()
            )
            check_move(current, state)
            now = self.clock.now()
            values: dict[str, Any] = {"state": state.value, "finished_at": now, "updated_at": now}
            if result is not None:
                values["result"] = dict(result)
            if progress is not None:
                values["progress"] = dict(progress)
            if error is not None:
                values["error"] = error_of(error)
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))
        with self._lock:
            self._live.pop(job_id, None)
            self._cancel.discard(job_id)
            self._flushed.pop(job_id, None)

    def requeue_stale(self, worker_id: str, everyone: bool) -> int:
        """Put back in the queue the running jobs of workers that died: all running jobs but
        this worker's when ``everyone`` (one process owns the store), else those whose
        heartbeat is older than STALE_SECONDS. Their work was all-or-nothing, so a rerun is
        safe. A job that was asked to stop is cancelled instead."""
        now = self.clock.now()
        active = jobs.c.state.in_([s.value for s in ACTIVE])
        mine = jobs.c.worker_id == worker_id
        cond = and_(active, ~mine)
        if not everyone:
            cond = and_(cond, jobs.c.heartbeat_at < now - timedelta(seconds=STALE_SECONDS))
        with self.store.write() as conn:
            cancelled = update(jobs).where(cond, jobs.c.state == JobState.CANCELLING.value)
            conn.execute(cancelled.values(state="cancelled", finished_at=now, updated_at=now))
            requeue = (
                update(jobs).where(cond).values(state="queued", worker_id=None, updated_at=now)
            )
            return int(conn.execute(requeue).rowcount or 0)

    # --- shared ----------------------------------------------------------------------------

    def _get(
        self, conn: Connection, tenant: Tenant | None, job_id: int, lock: bool = False
    ) -> dict[str, Any]:
        if not valid_id(job_id):
            raise NotFound(f"job {job_id} not found")
        query = select(jobs).where(jobs.c.id == job_id, _owner(tenant))
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"job {job_id} not found")
        return dict(row._mapping)

    def _with_live(self, row: dict[str, Any]) -> dict[str, Any]:
        """The job as the API shows it: live progress while it runs, links once it is done."""
        with self._lock:
            live = self._live.get(row["id"])
        state = JobState(row["state"])
        row = {**row, "report_url": None, "download_url": None}
        if live is not None and state not in FINISHED:
            row["progress"] = live
        if state is JobState.SUCCEEDED and row["kind"] in REPORTING:
            base = "/jobs" if row["tenant_id"] is not None else "/admin/jobs"
            row["report_url"] = f"{base}/{row['id']}/report"
        if state is JobState.SUCCEEDED and row["kind"] == JobKind.EXPORT.value:
            link = self.links.sign(row["uuid"], row["file_name"])
            row["download_url"] = f"{link.path}?{link.query}"
        return row

    def file_of(self, tenant: Tenant | None, job_id: int, name: str | None = None) -> Path:
        """A finished job's file on disk: its export, or the named one (its report)."""
        job = self.get(tenant, job_id)
        if job["state"] != JobState.SUCCEEDED.value:
            raise Conflict(f"job {job_id} is {job['state']}; its file comes when it succeeds")
        if name is None and job["kind"] != JobKind.EXPORT.value:
            raise NotFound(f"job {job_id} is a {job['kind']}; it has no download")
        return self._existing(job["uuid"], name or job["file_name"])

    def download(self, job_uuid: str, file_name: str, expires: int, signature: str) -> Path:
        """The file a signed link names (LinkSigner)."""
        self.links.check(job_uuid, file_name, expires, signature)
        return self._existing(job_uuid, file_name)

    def _existing(self, job_uuid: str, name: str) -> Path:
        if "/" in name or "\\" in name or name.startswith("."):
            raise NotFound("no such file")
        path = self.files.root / job_uuid / name
        if not path.is_file():
            raise NotFound("the file is gone (removed from the data directory)")
        return path


def error_of(exc: OutdialError) -> dict[str, Any]:
    return {
        "code": exc.code,
        "message": exc.message,
        "details": [d.as_dict() for d in exc.details],
    }


def _owner(tenant: Tenant | None) -> Any:
    return jobs.c.tenant_id.is_(None) if tenant is None else jobs.c.tenant_id == tenant.id


def _filters(filters: Mapping[str, str]) -> list[Any]:
    out: list[Any] = []
    if "kind" in filters:
        out.append(jobs.c.kind == parse_choice("kind", filters["kind"], JobKind))
    if "state" in filters:
        out.append(jobs.c.state == parse_choice("state", filters["state"], JobState))
    if "campaign_id" in filters:
        out.append(jobs.c.campaign_id == _int_filter("campaign_id", filters["campaign_id"]))
    return out


def _int_filter(name: str, raw: str) -> int:
    if not raw.isdigit():
        raise ValidationFailed.field(name, f"expected an integer, got {raw!r}", "int_parsing")
    return int(raw)
