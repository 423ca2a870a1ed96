"""Do-not-call lists (numbers in E.164): each tenant's, and the operator's, which holds for
every tenant (``tenant_id`` NULL). Entries one at a time, or a whole file at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, BinaryIO

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from outdial.clock import Clock
from outdial.domain import limits
from outdial.domain.columns import DESCRIPTION, ColumnMap
from outdial.domain.errors import NotFound, ValidationFailed
from outdial.domain.jobs import JobKind
from outdial.domain.phones import normalise
from outdial.services.common import Page, PageRequest, Tenant, integrity_guard
from outdial.services.imports import (
    ImportProgress,
    ImportResult,
    Progress,
    RowProblem,
    read_rows,
    reported,
)
from outdial.services.job_runner import Outcome, RunningJob
from outdial.services.jobs import JobService
from outdial.services.models import DncImportIn, DncIn
from outdial.services.validation import validate
from outdial.store.repo import valid_id
from outdial.store.schema import dnc_entries
from outdial.store.store import Store

DNC_FILTERS = ("number", "source")
BATCH = 5000


@dataclass
class DncImportResult:
    """A DNC file's import: ``file.progress.accepted`` counts the numbers newly listed,
    ``rejected`` the rows with a number that is not one."""

    file: ImportResult
    already_listed: int = 0
    total_entries: int = 0

    def as_dict(self) -> dict[str, Any]:
        p = self.file.progress
        return {
            "format": self.file.format,
            "columns": self.file.columns,
            "rows_read": p.rows_read,
            "listed": p.accepted,
            "already_listed": self.already_listed,
            "rejected": p.rejected,
            "empty_rows": p.empty,
            "total_entries": self.total_entries,
            "problems": [problem.as_dict() for problem in self.file.problems],
        }


class DncService:
    """``tenant`` None is the operator's list, which holds for every tenant; its numbers
    without a + are read in ``operator_region``."""

    def __init__(self, store: Store, clock: Clock, jobs: JobService, operator_region: str = "CN"):
        self.store, self.clock, self.jobs = store, clock, jobs
        self.operator_region = operator_region

    def region(self, tenant: Tenant | None) -> str:
        return self.operator_region if tenant is None else tenant.default_region

    def add(self, tenant: Tenant | None, data: DncIn) -> dict[str, Any]:
        number = normalise(data.number, self.region(tenant), "number")
        now = self.clock.now()
        with integrity_guard("dnc entry"), self.store.write() as conn:
            if self._find(conn, tenant, number) is not None:
                raise ValidationFailed.field("number", f"{number} is already listed", "unique")
            owner = None if tenant is None else tenant.id
            values = {**data.model_dump(), "number": number, "tenant_id": owner}
            query = insert(dnc_entries).values(**values, created_at=now, updated_at=now)
            return dict(conn.execute(query.returning(dnc_entries)).one()._mapping)

    def submit_import(
        self, tenant: Tenant | None, file_name: str, upload: BinaryIO, options: DncImportIn
    ) -> dict[str, Any]:
        """Queue the upload of a file of numbers onto the list (a dnc_import job)."""
        params = options.model_dump(mode="json", exclude_none=True)
        return self.jobs.submit(
            tenant,
            JobKind.DNC_IMPORT,
            file_name,
            params,
            upload=upload,
            limit=limits.IMPORT_BYTES_MAX,
        )

    def import_file(
        self,
        tenant: Tenant | None,
        stream: BinaryIO,
        options: DncImportIn,
        on_progress: Progress | None = None,
    ) -> DncImportResult:
        """Every number of a file (each phone column; a 备注 / notes column becomes the reason)
        onto the list, in one transaction: the valid ones are listed (those already listed are
        left as they are), the rows with a bad number reported by row and column."""
        rows = read_rows(stream, options.mapping)
        progress = ImportProgress(bytes_total=rows.size, rows_total=rows.total)
        result = DncImportResult(ImportResult(rows.format, rows.columns.describe(), progress))
        region = self.region(tenant)
        now = self.clock.now()
        with self.store.write() as conn:
            while batch := list(islice(rows.data, BATCH)):
                entries = _entries(batch, rows.columns, region, result.file)
                added = self._insert_new(conn, tenant, entries, options, now)
                progress.accepted += added
                result.already_listed += len(entries) - added
                progress.bytes_read = min(stream.tell(), rows.size)
                if on_progress:
                    on_progress(progress)
            result.total_entries = (
                conn.scalar(select(func.count()).select_from(dnc_entries).where(_owner(tenant)))
                or 0
            )
        return result

    def run_job(self, job: RunningJob) -> Outcome:
        """The dnc_import job: its upload onto the tenant's (or the operator's) list."""
        options = DncImportIn.model_validate(job.params)
        with job.upload.open("rb") as stream:
            result = self.import_file(
                job.tenant, stream, options, lambda p: job.report(p.as_dict())
            )
        return reported(job, result.as_dict(), result.file.problems, result.file.progress)

    def _insert_new(
        self,
        conn: Connection,
        tenant: Tenant | None,
        entries: dict[str, str],
        options: DncImportIn,
        now: datetime,
    ) -> int:
        listed = set(
            conn.scalars(
                select(dnc_entries.c.number).where(
                    _owner(tenant), dnc_entries.c.number.in_(list(entries))
                )
            )
        )
        new = [
            {
                "tenant_id": None if tenant is None else tenant.id,
                "number": number,
                "reason": reason or options.reason,
                "source": options.source,
                "expires_at": options.expires_at,
                "created_at": now,
                "updated_at": now,
            }
            for number, reason in entries.items()
            if number not in listed
        ]
        if new:
            conn.execute(insert(dnc_entries), new)
        return len(new)

    def list(self, tenant: Tenant | None, page: PageRequest, filters: Mapping[str, str]) -> Page:
        where = [_owner(tenant)]
        if "number" in filters:
            number = normalise(filters["number"], self.region(tenant), "number")
            where.append(dnc_entries.c.number == number)
        if "source" in filters:
            where.append(dnc_entries.c.source == filters["source"])
        with self.store.read() as conn:
            total = conn.scalar(select(func.count()).select_from(dnc_entries).where(*where)) or 0
            query = select(dnc_entries).where(*where).order_by(dnc_entries.c.id)
            rows = conn.execute(query.offset(page.offset).limit(page.page_size))
            return Page([dict(r._mapping) for r in rows], total, page.page, page.page_size)

    def get(self, tenant: Tenant | None, entry_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return self._get(conn, tenant, entry_id)

    def update(
        self, tenant: Tenant | None, entry_id: int, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        with integrity_guard("dnc entry"), self.store.write() as conn:
            current = self._get(conn, tenant, entry_id)
            stored = {k: current[k] for k in DncIn.model_fields}
            data = validate(DncIn, {**stored, **patch})
            number = normalise(data.number, self.region(tenant), "number")
            other = self._find(conn, tenant, number)
            if other is not None and other != entry_id:
                raise ValidationFailed.field("number", f"{number} is already listed", "unique")
            values = {**data.model_dump(), "number": number, "updated_at": self.clock.now()}
            query = update(dnc_entries).where(dnc_entries.c.id == entry_id).values(**values)
            return dict(conn.execute(query.returning(dnc_entries)).one()._mapping)

    def delete(self, tenant: Tenant | None, entry_id: int) -> None:
        with self.store.write() as conn:
            self._get(conn, tenant, entry_id)
            conn.execute(delete(dnc_entries).where(dnc_entries.c.id == entry_id))

    def _get(self, conn: Connection, tenant: Tenant | None, entry_id: int) -> dict[str, Any]:
        if not valid_id(entry_id):
            raise NotFound(f"dnc entry {entry_id} not found")
        query = select(dnc_entries).where(and_(dnc_entries.c.id == entry_id, _owner(tenant)))
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"dnc entry {entry_id} not found")
        return dict(row._mapping)

    def _find(self, conn: Connection, tenant: Tenant | None, number: str) -> int | None:
        query = select(dnc_entries.c.id).where(_owner(tenant), dnc_entries.c.number == number)
        return conn.scalar(query)


def _owner(tenant: Tenant | None) -> Any:
    if tenant is None:
        return dnc_entries.c.tenant_id.is_(None)
    return dnc_entries.c.tenant_id == tenant.id


def _entries(
    batch: list[tuple[int, list[str]]], columns: ColumnMap, region: str, result: ImportResult
) -> dict[str, str]:
    """The numbers of a batch of rows, each with its row's reason; bad numbers reported."""
    progress = result.progress
    progress.rows_read += len(batch)
    reason_at = next((c.index for c in columns.columns if c.role == DESCRIPTION), None)
    entries: dict[str, str] = {}
    for row, cells in batch:
        numbers = [(c, cells[c.index]) for c in columns.phones if c.index < len(cells)]
        numbers = [(c, text) for c, text in numbers if text.strip()]
        if not numbers:
            progress.empty += not any(cells)
            if any(cells):
                problem = RowProblem(
                    row, columns.phones[0].header, "number", "no number", "missing"
                )
                result.problems.append(problem)
                progress.rejected += 1
            continue
        reason = cells[reason_at][:200] if reason_at is not None and reason_at < len(cells) else ""
        bad = False
        for column, text in numbers:
            try:
                entries.setdefault(normalise(text, region, "number"), reason)
            except ValidationFailed as exc:
                bad = True
                detail = exc.details[0]
                result.problems.append(
                    RowProblem(row, column.header, "number", detail.message, detail.type)
                )
        progress.rejected += bad
    return entries
