"""Import a contact file into a campaign: CSV or XLSX streamed in batches through the same rules
as the append API (validation, E.164 normalisation, dedupe against the campaign and the file,
do-not-call lists, the campaign cap), with progress and a row-level report.

A file imports its valid rows, or — when the file breaks, the cap is exceeded, the mapping is
wrong or the import is cancelled — nothing, with the reason. Never half a file in silence: on
PostgreSQL the file is one transaction; on SQLite, whose one writer must not be held for long,
rows are written a batch at a time but stay staged (not due to be dialed) until the whole file
is in.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection

from outdial.domain import limits
from outdial.domain.columns import HEADER_SEARCH_ROWS, PHONE, ColumnMap, MappingError, detect
from outdial.domain.contact_rows import RowVerdict, mark_dnc, mark_duplicates
from outdial.domain.errors import FieldError, InternalError, LimitExceeded
from outdial.domain.file_rows import DEFAULT_GROUP, PreparedBatch, ReadyRows, prepare, row_reader
from outdial.domain.jobs import JobKind, percent
from outdial.io.prepare import Plan, prepared_in_child
from outdial.io.tables import TableError, open_table
from outdial.services.common import Tenant, new_uuid
from outdial.services.contacts import Contact, ContactService, blocked_numbers, check_cap
from outdial.services.job_runner import Outcome, RunningJob
from outdial.services.jobs import JobService
from outdial.services.models import ContactImportIn
from outdial.services.validation import failed
from outdial.store import bulk
from outdial.store.bulk import encode_ready
from outdial.store.schema import contacts

BATCH_ROWS = 5000
CHILD_READER_BYTES = 4 << 20  # from this size, a child process reads and checks the file
_ROW_FIELD = re.compile(r"^contacts\[\d+\]\.?")
_PHONE_FIELD = re.compile(r"^phones\[(\d+)\]")


@dataclass
class ImportProgress:
    """What the import has done so far (the semantics of Alibaba's JobDataParsingTask)."""

    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    empty: int = 0  # blank rows skipped
    bytes_read: int = 0
    bytes_total: int = 0
    rows_total: int | None = None  # known for XLSX, whose bytes are read at once

    @property
    def percent(self) -> float:
        """Of the file: by rows when their number is known, else by bytes read."""
        if self.rows_total:
            return percent(self.rows_read, self.rows_total)
        return percent(self.bytes_read, self.bytes_total)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "empty_rows": self.empty,
            "rows_total": self.rows_total,
            "bytes_read": self.bytes_read,
            "bytes_total": self.bytes_total,
            "percent": self.percent,
        }


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based, as the user's spreadsheet numbers it
    column: str  # the header of the column at fault ("" when the row as a whole)
    field: str  # the contact field, as the append API names it
    reason: str
    type: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportResult:
    format: str
    columns: list[dict[str, Any]]
    progress: ImportProgress
    problems: list[RowProblem] = field(default_factory=list)
    total_contacts: int = 0
    held: int | None = None  # the campaign's contacts while importing, as counted so far

    def as_dict(self) -> dict[str, Any]:
        p = self.progress
        return {
            "format": self.format,
            "columns": self.columns,
            "rows_read": p.rows_read,
            "accepted": p.accepted,
            "rejected": p.rejected,
            "empty_rows": p.empty,
            "total_contacts": self.total_contacts,
            "problems": [problem.as_dict() for problem in self.problems],
        }


def report_csv(problems: list[RowProblem]) -> str:
    """The row-level report as CSV (row, column, field, reason, type), UTF-8 with a BOM so
    Excel opens the Chinese right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "column", "field", "reason", "type"])
    for p in problems:
        writer.writerow([p.row, p.column, p.field, p.reason, p.type])
    return "\ufeff" + out.getvalue()


Progress = Callable[[ImportProgress], None]
REPORT = "report.csv"  # an import job's row-level report, in its directory
REPORT_PREVIEW = 100  # problems kept in the job's result; all of them are in the report


def reported(
    job: RunningJob, summary: dict[str, Any], problems: list[RowProblem], progress: ImportProgress
) -> Outcome:
    """An import job's end: the full report beside it, the first problems in its result."""
    (job.directory / REPORT).write_text(report_csv(problems), encoding="utf-8")
    summary["problems"] = summary["problems"][:REPORT_PREVIEW]
    return Outcome(summary, progress.as_dict())


class ContactImportService:
    def __init__(self, contacts: ContactService, jobs: JobService):
        self.contacts, self.jobs = contacts, jobs

    def submit(
        self,
        tenant: Tenant,
        campaign_id: int,
        file_name: str,
        upload: BinaryIO,
        options: ContactImportIn,
        note: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue the import of ``upload`` into the campaign (a contact_import job); ``note``
        is kept in the job's params (a facade's own reference to the file)."""
        svc = self.contacts
        with svc.store.read() as conn:
            svc.campaign_for_append(conn, tenant, campaign_id, lock=None)
        params = {**options.model_dump(exclude_none=True), **(note or {})}
        return self.jobs.submit(
            tenant,
            JobKind.CONTACT_IMPORT,
            file_name,
            params,
            campaign_id=campaign_id,
            upload=upload,
            limit=limits.IMPORT_BYTES_MAX,
        )

    def run(
        self,
        tenant: Tenant,
        campaign_id: int,
        stream: BinaryIO,
        mapping: Mapping[str, str] | None = None,
        on_progress: Progress | None = None,
        tag: str | None = None,
        path: Path | None = None,
    ) -> ImportResult:
        """Import ``stream`` (seekable) into the campaign. Raises ValidationFailed (field
        ``file`` or ``mapping.*``) or LimitExceeded, having changed nothing. A large file
        whose ``path`` is known is read and checked by a child process while this one writes."""
        rows = read_rows(stream, mapping)
        progress = ImportProgress(bytes_total=rows.size, rows_total=rows.total)
        result = ImportResult(rows.format, rows.columns.describe(), progress)
        region, groups = tenant.default_region, self._groups(tenant, campaign_id)
        text = self.contacts.store.dialect == "postgresql"  # COPY text, else tuples
        if path is not None and rows.size >= CHILD_READER_BYTES:
            plan = Plan(str(path), rows.columns, rows.first_row, region, groups, BATCH_ROWS, text)
            prepared = prepared_in_child(plan)
        else:
            prepared = _prepared_here(rows, stream, region, groups, text)
        batches = _reported(prepared, progress, on_progress)
        try:
            if self.contacts.store.concurrent_writers:
                self._in_one_transaction(tenant, campaign_id, rows.columns, batches, result)
            else:
                tag = tag or f"import:{new_uuid()}"
                self._in_staged_batches(tenant, campaign_id, rows.columns, batches, result, tag)
        except TableError as exc:
            raise failed([FieldError("file", str(exc), "invalid")]) from exc
        progress.bytes_read = rows.size
        return result

    def _in_one_transaction(
        self,
        tenant: Tenant,
        campaign_id: int,
        columns: ColumnMap,
        batches: Iterator[PreparedBatch],
        result: ImportResult,
    ) -> None:
        """PostgreSQL: the whole file in one transaction, which blocks no one (MVCC) but the
        other appends to this campaign; a file that stops part way leaves nothing."""
        svc = self.contacts
        with svc.store.write() as conn:
            for batch in batches:
                self._batch(conn, tenant, campaign_id, columns, batch, result, staged=None)
            campaign = svc.campaign_for_append(conn, tenant, campaign_id, lock="share")
            if result.progress.accepted:
                svc.contacts_added(conn, campaign, svc.clock.now())
            result.total_contacts = svc.count(conn, campaign_id)

    def _in_staged_batches(
        self,
        tenant: Tenant,
        campaign_id: int,
        columns: ColumnMap,
        batches: Iterator[PreparedBatch],
        result: ImportResult,
        tag: str,
    ) -> None:
        """SQLite (one writer): each batch in its own short transaction, so the engine and
        the API write between them. A batch's contacts are staged: in the campaign (the cap
        and the duplicate checks see them) but not due to be dialed until the whole file is
        in, when one statement publishes them. If anything stops the import first, what it
        staged is deleted; ``tag`` names it, so a job run again after its worker died first
        clears what the dead run left."""
        svc = self.contacts
        svc.discard_staged(campaign_id, tag)
        try:
            for batch in batches:
                with svc.store.write() as conn:
                    self._batch(conn, tenant, campaign_id, columns, batch, result, staged=tag)
            result.total_contacts = svc.publish_staged(tenant, campaign_id, tag)
        except BaseException:
            svc.discard_staged(campaign_id, tag)
            raise

    def run_job(self, job: RunningJob) -> Outcome:
        """The contact_import job: its upload into its campaign, the report beside it."""
        if job.tenant is None or job.row["campaign_id"] is None:
            raise InternalError("a contact import job needs a tenant and a campaign")
        mapping = job.params.get("mapping") or None
        with job.upload.open("rb") as stream:
            result = self.run(
                job.tenant,
                int(job.row["campaign_id"]),
                stream,
                mapping,
                lambda p: job.report(p.as_dict()),
                tag=f"import:{job.row['uuid']}",
                path=job.upload,
            )
        return reported(job, result.as_dict(), result.problems, result.progress)

    def _groups(self, tenant: Tenant, campaign_id: int) -> frozenset[str]:
        with self.contacts.store.read() as conn:
            campaign = self.contacts.campaign_for_append(conn, tenant, campaign_id, lock=None)
        return frozenset(g["identify"] for g in campaign["phone_groups"])

    def _batch(
        self,
        conn: Connection,
        tenant: Tenant,
        campaign_id: int,
        columns: ColumnMap,
        prepared: PreparedBatch,
        result: ImportResult,
        staged: str | None,
    ) -> None:
        """Write a prepared batch: the validator's verdicts on the rows it must judge, then
        for all the duplicates and DNC hits, the cap, the insert and the report. The ready
        rows get verdicts of their own only when the batch has a duplicate or a DNC hit."""
        svc = self.contacts
        now = svc.clock.now()
        campaign = svc.campaign_for_append(conn, tenant, campaign_id, lock=None)
        ready = prepared.ready
        parsed, judged = self._judged(tenant, campaign, columns, prepared)
        primaries = [phones[0][1] for phones in ready.phones]
        primaries += [v.primary for v in judged if v.ok]
        numbers = {phone[1] for phones in ready.phones for phone in phones}
        numbers |= {n for v in judged if v.ok for n in v.numbers}
        # the file's earlier batches are in the campaign already (this transaction's, or staged)
        mine = contacts.c.campaign_id == campaign_id
        existing = bulk.present(conn, contacts.c.primary_number, primaries, mine)
        blocked = blocked_numbers(conn, tenant.id, numbers, now)
        keep: list[int] | None = None
        verdicts = judged
        if existing or blocked or len(set(primaries)) < len(primaries):
            mine_too = [RowVerdict(k, ready.numbers(k)) for k in range(len(ready))]
            verdicts = mine_too + judged
            mark_duplicates(verdicts, existing)
            mark_dnc(verdicts, blocked)
            keep = [v.index for v in mine_too if v.ok]
        accepted = [v for v in judged if v.ok]
        adding = len(accepted) + (len(ready) if keep is None else len(keep))
        if result.held is None:  # counted once; then the file's own rows are added
            result.held = svc.count(conn, campaign_id)
        check_cap(tenant, result.held, adding, field="file")
        svc.insert_ready(conn, tenant, campaign_id, ready, keep, now, staged=staged)
        svc.insert_rows(conn, tenant, campaign_id, parsed, accepted, now, staged=staged)
        result.held += adding
        result.progress.accepted += adding
        result.progress.rejected += len(ready) + len(judged) - adding
        rows = _Rows(ready, prepared.other)
        _report(result, columns, [v for v in verdicts if not v.ok], rows)

    def _judged(
        self,
        tenant: Tenant,
        campaign: Mapping[str, Any],
        columns: ColumnMap,
        prepared: PreparedBatch,
    ) -> tuple[dict[int, Contact], list[RowVerdict]]:
        """The validator's verdicts on the rows that are not ready (numbered after the ready
        rows) and the contacts of those it accepts."""
        offset = len(prepared.ready)
        checked, judged = self.contacts.parse_rows(
            tenant, campaign, [columns.contact(c) for _, c in prepared.other]
        )
        parsed = {verdict.index + offset: checked[verdict.index] for verdict in judged
                  if verdict.index in checked}  # fmt: skip
        for verdict in judged:
            verdict.index += offset
        return parsed, judged

    def _verdicts(
        self,
        tenant: Tenant,
        campaign: Mapping[str, Any],
        columns: ColumnMap,
        prepared: PreparedBatch,
    ) -> list[RowVerdict]:
        """The batch's rows judged on their own: the ready ones accepted as they are, the
        rest by the validator (numbered after them)."""
        ready = prepared.ready
        _, judged = self._judged(tenant, campaign, columns, prepared)
        return [RowVerdict(k, ready.numbers(k)) for k in range(len(ready))] + judged

    def check(
        self,
        tenant: Tenant,
        stream: BinaryIO,
        on_progress: Progress | None = None,
    ) -> ImportResult:
        """Read and check a contact file as an import into a new campaign would, writing
        nothing: each row's own rules, duplicates within the file, the do-not-call lists
        (Alibaba's job-data parsing task)."""
        rows = read_rows(stream, None)
        progress = ImportProgress(bytes_total=rows.size, rows_total=rows.total)
        result = ImportResult(rows.format, rows.columns.describe(), progress)
        groups = frozenset({DEFAULT_GROUP})
        campaign = {"phone_groups": [{"identify": DEFAULT_GROUP}]}
        seen: set[str] = set()
        svc = self.contacts
        prepared = _prepared_here(rows, stream, tenant.default_region, groups, text=False)
        try:
            for batch in _reported(prepared, progress, on_progress):
                verdicts = self._verdicts(tenant, campaign, rows.columns, batch)
                mark_duplicates(verdicts, seen)
                numbers = {n for v in verdicts if v.ok for n in v.numbers}
                with svc.store.read() as conn:
                    mark_dnc(verdicts, blocked_numbers(conn, tenant.id, numbers, svc.clock.now()))
                seen |= {v.primary for v in verdicts if v.ok}
                accepted = sum(1 for v in verdicts if v.ok)
                result.progress.accepted += accepted
                result.progress.rejected += len(verdicts) - accepted
                numbered = _Rows(batch.ready, batch.other)
                _report(result, rows.columns, [v for v in verdicts if not v.ok], numbered)
        except TableError as exc:
            raise failed([FieldError("file", str(exc), "invalid")]) from exc
        progress.bytes_read = rows.size
        result.total_contacts = progress.accepted
        return result

    def run_check_job(self, job: RunningJob) -> Outcome:
        """The contact_check job: its upload read and checked, the report beside it."""
        if job.tenant is None:
            raise InternalError("a contact check job needs a tenant")
        with job.upload.open("rb") as stream:
            result = self.check(job.tenant, stream, lambda p: job.report(p.as_dict()))
        return reported(job, result.as_dict(), result.problems, result.progress)


@dataclass(frozen=True)
class _Rows:
    """A prepared batch's rows by verdict index: the ready rows, then the others."""

    ready: ReadyRows
    other: list[tuple[int, list[str]]]

    def __getitem__(self, index: int) -> tuple[int, list[str]]:
        if index < len(self.ready):
            return self.ready.rows[index], self.ready.phone_cells(index)
        return self.other[index - len(self.ready)]


def _report(
    result: ImportResult,
    columns: ColumnMap,
    rejected: list[RowVerdict],
    rows: _Rows,
) -> None:
    """A judged batch's rejected rows into the report, in the file's order."""
    for verdict in sorted(rejected, key=lambda v: rows[v.index][0]):
        row, cells = rows[verdict.index]
        result.problems.extend(_problems(row, cells, columns, verdict))


def _prepared_here(
    rows: FileRows, stream: BinaryIO, region: str, groups: frozenset[str], text: bool
) -> Iterator[PreparedBatch]:
    """The file's rows prepared a batch at a time, in this process (``text``: the ready rows
    encoded as COPY text, else as tuples; see bulk.encode_ready)."""
    reader = row_reader(rows.columns, region)
    while batch := list(islice(rows.data, BATCH_ROWS)):
        prepared = prepare(batch, rows.columns, region, groups, reader)
        encode_ready(prepared.ready, text)
        prepared.bytes_read = _position(stream, rows.size)
        yield prepared


def _reported(
    batches: Iterator[PreparedBatch], progress: ImportProgress, on_progress: Progress | None
) -> Iterator[PreparedBatch]:
    """The batches, with progress reported after each is written."""
    for batch in batches:
        progress.rows_read += batch.rows_read
        progress.empty += batch.empty
        yield batch
        progress.bytes_read = batch.bytes_read
        if on_progress:
            on_progress(progress)


def _problems(
    row: int, cells: list[str], columns: ColumnMap, verdict: RowVerdict
) -> Iterator[RowProblem]:
    for error in verdict.errors:
        name = _ROW_FIELD.sub("", error.field)
        yield RowProblem(row, _column_of(name, cells, columns), name, error.message, error.type)


def _column_of(name: str, cells: list[str], columns: ColumnMap) -> str:
    """The header of the column a contact field came from."""
    phone = _PHONE_FIELD.match(name)
    if phone:
        # phones are the row's non-blank phone cells, in column order
        used = [c for c in columns.phones if c.index < len(cells) and cells[c.index]]
        k = int(phone.group(1))
        return used[k].header if k < len(used) else ""
    if not name or name == "phones":
        return next((c.header for c in columns.columns if c.role == PHONE), "")
    root = name.split(".")[0].split("[")[0]
    return next((c.header for c in columns.columns if c.role == root), "")


@dataclass
class FileRows:
    """A contact file opened for import: its column map and its data rows, numbered as the
    spreadsheet numbers them."""

    format: str
    columns: ColumnMap
    data: Iterator[tuple[int, list[str]]]
    size: int  # bytes
    total: int | None  # data rows, where known before reading (XLSX)
    first_row: int  # the first data row's number


def read_rows(stream: BinaryIO, mapping: Mapping[str, str] | None) -> FileRows:
    """Open ``stream`` (seekable), find its header and map its columns. Raises
    ValidationFailed (field ``file`` or ``mapping.*``) or LimitExceeded."""
    size = _size(stream)
    try:
        table = open_table(stream)
        numbered = _numbered(table.rows)
        head = list(islice(numbered, HEADER_SEARCH_ROWS * 2))
        columns = detect([cells for _, cells in head], mapping)
    except TableError as exc:
        raise failed([FieldError("file", str(exc), "invalid")]) from exc
    except MappingError as exc:
        raise failed([FieldError(exc.field, exc.message, "invalid")]) from exc
    start = 0 if columns.header_row is None else columns.header_row + 1
    total = None if table.row_count is None else table.row_count - start
    data = chain(head[start:], numbered)
    return FileRows(table.format.kind, columns, data, size, total, first_row=start + 1)


def _numbered(rows: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    return ((n, cells) for n, cells in enumerate(rows, start=1))


def _size(stream: BinaryIO) -> int:
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if size > limits.IMPORT_BYTES_MAX:
        raise LimitExceeded(
            f"the file is {size:,} bytes; at most {limits.IMPORT_BYTES_MAX:,}",
            [FieldError("file", f"at most {limits.IMPORT_BYTES_MAX // 2**20} MiB", "too_long")],
        )
    return size


def _position(stream: BinaryIO, size: int) -> int:
    try:
        return min(stream.tell(), size)
    except (OSError, ValueError):
        return 0
