"""The job queue and its runner on SQLite and PostgreSQL: every job ends once; a cancelled
import changes nothing; a dead worker's job is run again, without duplicates; progress."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import func, select

from outdial.domain.errors import Forbidden, IllegalTransition
from outdial.services import imports
from outdial.services.common import Tenant
from outdial.services.contacts import STAGED_UNTIL
from outdial.services.container import Services
from outdial.services.jobs import STALE_SECONDS
from outdial.services.models import CampaignIn, ContactImportIn, ExportIn, TenantIn
from outdial.store.schema import contacts, jobs
from tests.support import ManualClock


def setup(services: Services) -> tuple[Tenant, int]:
    tenant = Tenant.from_row(services.tenants.create(TenantIn(name="t")))
    return tenant, services.campaigns.create(tenant, CampaignIn(name="c"))["id"]


def roster(rows: int) -> io.BytesIO:
    lines = ["姓名,手机号"] + [f"客户{i},138{i:08d}" for i in range(rows)]
    return io.BytesIO("\n".join(lines).encode())


def submit(services: Services, tenant: Tenant, campaign: int, rows: int = 10) -> dict[str, Any]:
    return services.imports.submit(tenant, campaign, "a.csv", roster(rows), ContactImportIn())


def count(services: Services) -> int:
    with services.store.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(contacts)) or 0)


def test_a_queued_job_cancelled_never_runs(services: Services) -> None:
    tenant, campaign = setup(services)
    job = submit(services, tenant, campaign)
    cancelled = services.jobs.cancel(tenant, job["id"])
    assert cancelled["state"] == "cancelled" and cancelled["finished_at"] is not None
    assert services.job_runner().run_pending() == 0
    assert count(services) == 0
    with pytest.raises(IllegalTransition):
        services.jobs.cancel(tenant, job["id"])


def test_a_running_import_cancelled_rolls_back(services: Services, monkeypatch: Any) -> None:
    monkeypatch.setattr(imports, "BATCH_ROWS", 10)
    tenant, campaign = setup(services)
    job = submit(services, tenant, campaign, rows=50)
    runner = services.job_runner()
    real_report = services.jobs.report
    seen: list[int] = []

    def report(job_id: int, progress: Any) -> None:
        seen.append(progress["rows_read"])
        if len(seen) == 2:  # mid-file, as if a user pressed cancel
            services.jobs.cancel(tenant, job_id)
        real_report(job_id, progress)

    monkeypatch.setattr(services.jobs, "report", report)
    assert runner.run_pending() == 1
    done = services.jobs.get(tenant, job["id"])
    assert done["state"] == "cancelled", done
    assert seen == [10, 20]
    assert count(services) == 0


def test_a_dead_workers_job_runs_again_once(services: Services, clock: ManualClock) -> None:
    tenant, campaign = setup(services)
    job = submit(services, tenant, campaign)
    claimed = services.jobs.claim("dead-worker")  # it took the job, then its process died
    assert claimed is not None and claimed["id"] == job["id"]
    runner = services.job_runner()
    assert runner.run_pending() == 0  # running elsewhere: not taken twice
    if services.store.concurrent_writers:  # PostgreSQL: only once its heartbeat is stale
        assert services.jobs.requeue_stale(runner.worker_id, everyone=False) == 0
        clock.advance(STALE_SECONDS + 1)
    everyone = not services.store.concurrent_writers
    assert services.jobs.requeue_stale(runner.worker_id, everyone) == 1
    assert runner.run_pending() == 1
    done = services.jobs.get(tenant, job["id"])
    assert done["state"] == "succeeded" and done["progress"]["accepted"] == 10
    assert count(services) == 10


def test_progress_reaches_the_row_where_writers_may_overlap(
    services: Services, monkeypatch: Any, clock: ManualClock
) -> None:
    monkeypatch.setattr(imports, "BATCH_ROWS", 10)
    tenant, campaign = setup(services)
    job = submit(services, tenant, campaign, rows=30)
    rows_seen: list[dict[str, Any]] = []
    real_report = services.jobs.report

    def report(job_id: int, progress: Any) -> None:
        clock.advance(2)  # past the flush interval
        real_report(job_id, progress)
        live = services.jobs.get(tenant, job_id)["progress"]
        if services.store.concurrent_writers:
            with services.store.read() as conn:
                stored = conn.scalar(select(jobs.c.progress).where(jobs.c.id == job_id))
            rows_seen.append(stored)
        assert live["rows_read"] == progress["rows_read"]

    monkeypatch.setattr(services.jobs, "report", report)
    services.job_runner().run_pending()
    if services.store.concurrent_writers:
        assert [r["rows_read"] for r in rows_seen] == [10, 20, 30]
    done = services.jobs.get(tenant, job["id"])
    assert done["progress"]["rows_read"] == 30 and done["progress"]["percent"] == 100.0


def test_a_handler_crash_fails_the_job_with_an_internal_error(
    services: Services, monkeypatch: Any
) -> None:
    tenant, campaign = setup(services)
    job = submit(services, tenant, campaign)

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services.imports, "run", broken)
    services.job_runner().run_pending()
    done = services.jobs.get(tenant, job["id"])
    assert done["state"] == "failed"
    assert done["error"]["code"] == "internal_error" and "disk on fire" in done["error"]["message"]
    assert count(services) == 0


def test_the_upload_is_removed_once_the_job_ends(services: Services) -> None:
    tenant, campaign = setup(services)
    job = submit(services, tenant, campaign)
    upload = services.jobs.files.root / job["uuid"] / "upload"
    assert upload.is_file()
    services.job_runner().run_pending()
    assert not upload.exists()
    assert (upload.parent / "report.csv").is_file()


def test_an_expired_download_link_is_refused(services: Services, clock: ManualClock) -> None:
    tenant, campaign = setup(services)
    job = services.exports.submit(tenant, campaign, ExportIn())
    services.job_runner().run_pending()
    view = services.jobs.get(tenant, job["id"])
    link = services.jobs.links.sign(view["uuid"], view["file_name"], seconds=60)
    assert services.jobs.download(view["uuid"], view["file_name"], link.expires, link.signature)
    clock.advance(61)
    with pytest.raises(Forbidden):
        services.jobs.download(view["uuid"], view["file_name"], link.expires, link.signature)


def test_staged_rows_are_not_due_until_the_whole_file_is_in(
    services: Services, monkeypatch: Any
) -> None:
    monkeypatch.setattr(imports, "BATCH_ROWS", 10)
    tenant, campaign = setup(services)
    job = submit(services, tenant, campaign, rows=25)
    real_report = services.jobs.report
    midway: list[dict[str, Any]] = []

    def report(job_id: int, progress: Any) -> None:
        if progress["rows_read"] == 10:
            with services.store.read() as conn:
                rows = conn.execute(select(contacts.c.reason, contacts.c.next_eligible_at))
                midway.extend(dict(r._mapping) for r in rows)
        real_report(job_id, progress)

    monkeypatch.setattr(services.jobs, "report", report)
    services.job_runner().run_pending()
    if services.store.concurrent_writers:  # PostgreSQL: one transaction, unseen until it ends
        assert midway == []
    else:  # SQLite: batches committed, staged
        assert len(midway) == 10
        assert {r["reason"] for r in midway} == {"importing"}
        assert {r["next_eligible_at"] for r in midway} == {STAGED_UNTIL}
    with services.store.read() as conn:
        after = conn.execute(select(contacts.c.reason, contacts.c.lease_owner)).all()
    assert set(after) == {("not_dialed", None)} and len(after) == 25
    assert services.jobs.get(tenant, job["id"])["result"]["total_contacts"] == 25


def test_a_rerun_clears_what_a_dead_run_left(services: Services, monkeypatch: Any) -> None:
    monkeypatch.setattr(imports, "BATCH_ROWS", 10)
    tenant, campaign = setup(services)
    job = submit(services, tenant, campaign, rows=25)
    tag = f"import:{job['uuid']}"

    class Died(BaseException):
        """The process dying mid-file: nothing after it runs."""

    def die(*_: Any) -> None:
        raise Died()

    monkeypatch.setattr(services.contacts, "discard_staged", lambda *_: 0)  # dead: no clean-up
    with pytest.raises(Died):
        services.imports.run(tenant, campaign, roster(25), on_progress=die, tag=tag)
    # SQLite: one batch staged, left behind; PostgreSQL: its transaction died with it
    assert count(services) == (0 if services.store.concurrent_writers else 10)
    monkeypatch.undo()
    monkeypatch.setattr(imports, "BATCH_ROWS", 10)
    services.job_runner().run_pending()
    done = services.jobs.get(tenant, job["id"])
    assert done["state"] == "succeeded" and done["progress"]["accepted"] == 25, done
    assert count(services) == 25
