"""Export a campaign's contacts (with their final outcome) or its attempts (the ledger) to CSV
or XLSX, streamed in constant memory: one query in id order, read a batch at a time from one
snapshot, each batch written as it comes. For CSV the database writes the times as local text.

Times are written in the campaign's time zone (XLSX: as Excel dates). Headers are English by
default, Chinese on request; either way ``outdial import`` reads a contacts export back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Integer, Select, String, cast, func, literal, select, type_coerce

from outdial.clock import Clock
from outdial.domain.calendar import fixed_offset
from outdial.domain.errors import InternalError, ValidationFailed
from outdial.domain.jobs import JobKind, percent
from outdial.io.writers import XLSX_ROWS_MAX, open_writer
from outdial.services.common import Tenant, found
from outdial.services.job_runner import Outcome, RunningJob
from outdial.services.jobs import JobService
from outdial.services.models import ExportIn
from outdial.store.repo import TenantTable
from outdial.store.schema import attempts, contact_phones, contacts
from outdial.store.schema import campaigns as campaigns_table
from outdial.store.store import Store
from outdial.store.types import UTCDateTime

BATCH = 5000


@dataclass(frozen=True)
class Column:
    key: str
    en: str
    zh: str
    time: bool = False  # a time, written in the campaign's zone


CONTACT_COLUMNS = (
    Column("id", "contact_id", "联系人ID"),
    Column("external_id", "external_id", "客户编号"),
    Column("name", "name", "姓名"),
    Column("primary_number", "phone", "手机号"),
    Column("other_numbers", "other_phones", "其他号码"),
    Column("state", "state", "状态"),
    Column("outcome", "outcome", "结果"),
    Column("reason", "reason", "原因"),
    Column("attempt_count", "attempts", "呼叫次数"),
    Column("last_attempt_at", "last_attempt_at", "最后呼叫时间", time=True),
    Column("next_eligible_at", "next_eligible_at", "下次可呼时间", time=True),
    Column("assigned_agent_id", "agent_id", "坐席ID"),
    Column("pass_through", "pass_through", "透传参数"),
    Column("description", "notes", "备注"),
    Column("attributes", "attributes", "自定义字段"),
)

ATTEMPT_COLUMNS = (
    Column("id", "attempt_id", "呼叫ID"),
    Column("contact_id", "contact_id", "联系人ID"),
    Column("external_id", "external_id", "客户编号"),
    Column("name", "name", "姓名"),
    Column("number", "phone", "被叫号码"),
    Column("caller_number", "caller_number", "主叫号码"),
    Column("created_at", "dialed_at", "呼叫时间", time=True),
    Column("ringing_at", "ringing_at", "振铃时间", time=True),
    Column("answered_at", "answered_at", "接通时间", time=True),
    Column("connected_at", "connected_at", "转接坐席时间", time=True),
    Column("ended_at", "ended_at", "挂断时间", time=True),
    Column("outcome", "outcome", "结果"),
    Column("native_cause", "native_cause", "原始原因"),
    Column("talk_seconds", "talk_seconds", "通话时长(秒)"),
    Column("abandoned", "abandoned", "放弃"),
    Column("agent_id", "agent_id", "坐席ID"),
    Column("transfer_result", "transfer_result", "转人工结果"),
)

Progress = Callable[[Mapping[str, Any]], None]
TimeText = Callable[[Any], Any]  # a time column → SQL giving its local time as text
PG_FORMAT = "YYYY-MM-DD HH24:MI:SS"


@dataclass(frozen=True)
class ExportRequest:
    subject: str = "contacts"  # or "attempts"
    format: str = "csv"  # or "xlsx"
    language: str = "en"  # header language: "en" or "zh"

    def file_name(self, campaign_id: int) -> str:
        return f"campaign-{campaign_id}-{self.subject}.{self.format}"


class ExportService:
    def __init__(self, store: Store, clock: Clock, jobs: JobService):
        self.store, self.clock, self.jobs = store, clock, jobs
        self.campaigns = TenantTable(campaigns_table)

    def submit(self, tenant: Tenant, campaign_id: int, data: ExportIn) -> dict[str, Any]:
        """Queue an export of the campaign (an export job); the file is the job's download."""
        request = ExportRequest(data.subject, data.format, data.language)
        rows = self.count(tenant, campaign_id, request.subject)
        if request.format == "xlsx" and rows >= XLSX_ROWS_MAX:
            raise ValidationFailed.field(
                "format", f"{rows:,} rows do not fit one XLSX sheet; export as csv", "limit"
            )
        return self.jobs.submit(
            tenant,
            JobKind.EXPORT,
            request.file_name(campaign_id),
            data.model_dump(),
            campaign_id=campaign_id,
        )

    def count(self, tenant: Tenant, campaign_id: int, subject: str) -> int:
        """The rows an export of ``subject`` would write (checks the campaign is the tenant's)."""
        with self.store.read() as conn:
            found(self.campaigns.get(conn, tenant.id, campaign_id), "campaign", campaign_id)
            table = contacts if subject == "contacts" else attempts
            query = select(func.count()).where(table.c.campaign_id == campaign_id)
            return conn.scalar(query) or 0

    def run(
        self,
        tenant: Tenant,
        campaign_id: int,
        request: ExportRequest,
        path: Path,
        on_progress: Progress | None = None,
    ) -> dict[str, Any]:
        with self.store.read() as conn:
            campaign = found(
                self.campaigns.get(conn, tenant.id, campaign_id), "campaign", campaign_id
            )
            times = _time_range(conn, campaign_id, request.subject)
        total = self.count(tenant, campaign_id, request.subject)
        if request.format == "xlsx" and total >= XLSX_ROWS_MAX:
            raise ValidationFailed.field(
                "format", f"{total:,} rows do not fit one XLSX sheet; export as csv", "limit"
            )
        columns = CONTACT_COLUMNS if request.subject == "contacts" else ATTEMPT_COLUMNS
        zone = ZoneInfo(campaign["timezone"])
        when = self._times(zone, times, request.format)
        header = [getattr(c, request.language) for c in columns]
        writer = open_writer(path, request.format, header, request.subject)
        written = 0
        try:
            for batch in self._batches(campaign_id, request.subject, when):
                writer.write(_cells(batch, columns, zone) if when is None else batch)
                written += len(batch)
                if on_progress:
                    on_progress(_progress(written, total))
        finally:
            writer.close()
        return {
            "file_name": path.name,
            "format": request.format,
            "subject": request.subject,
            "rows": written,
            "bytes": path.stat().st_size,
        }

    def _times(
        self, zone: ZoneInfo, span: tuple[datetime, datetime] | None, kind: str
    ) -> TimeText | None:
        """How the query writes times as local text, or None when Python must (XLSX wants
        datetimes; SQLite knows no zones, so it shifts by a fixed offset only where the
        zone's offset is one over the whole export)."""
        if kind != "csv":
            return None
        dialect = self.store.dialect
        if dialect == "postgresql":
            return lambda column: func.to_char(func.timezone(zone.key, column), PG_FORMAT)
        offset = 0 if span is None else fixed_offset(zone, *span)
        if offset is None:
            return None
        shift = f"{offset:+d} seconds"
        return lambda column: func.datetime(type_coerce(column, String), shift)

    def run_job(self, job: RunningJob) -> Outcome:
        if job.tenant is None or job.row["campaign_id"] is None:
            raise InternalError("an export job needs a tenant and a campaign")
        request = ExportRequest(**job.params)
        path = job.directory / job.row["file_name"]
        result = self.run(job.tenant, int(job.row["campaign_id"]), request, path, job.report)
        return Outcome(result, _progress(result["rows"], result["rows"]))

    def _batches(
        self, campaign_id: int, subject: str, when: TimeText | None
    ) -> Iterator[Sequence[Sequence[Any]]]:
        """The rows in id order, a batch at a time, from one query in one read transaction:
        a consistent snapshot, streamed (a server-side cursor on PostgreSQL)."""
        with self.store.read() as conn:
            query = (_contact_query if subject == "contacts" else _attempt_query)(campaign_id, when)
            result = conn.execution_options(yield_per=BATCH).execute(query)
            for part in result.partitions():
                if subject == "contacts":
                    rows = [list(row) for row in part]
                    _add_phones_and_attributes(conn, campaign_id, rows)
                    yield rows
                else:
                    yield list(part)


def _time_range(
    conn: Connection, campaign_id: int, subject: str
) -> tuple[datetime, datetime] | None:
    """The earliest and latest times the export will write."""
    if subject == "contacts":
        low = func.min(func.coalesce(contacts.c.last_attempt_at, contacts.c.next_eligible_at))
        high = func.max(func.coalesce(contacts.c.next_eligible_at, contacts.c.last_attempt_at))
        where = contacts.c.campaign_id == campaign_id
    else:
        low = func.min(attempts.c.created_at)
        high = func.max(func.coalesce(attempts.c.ended_at, attempts.c.created_at))
        where = attempts.c.campaign_id == campaign_id
    first, last = conn.execute(
        select(type_coerce(low, UTCDateTime()), type_coerce(high, UTCDateTime())).where(where)
    ).one()
    return None if first is None or last is None else (first, last)


def _timed(column: Any, when: TimeText | None) -> Any:
    return column if when is None else when(column)


def _contact_query(campaign_id: int, when: TimeText | None) -> Select[Any]:
    values: list[Any] = []
    for col in CONTACT_COLUMNS:
        if col.key == "other_numbers":
            values.append(literal("").label("other_numbers"))
        else:
            column = contacts.c[col.key]
            values.append(_timed(column, when) if col.time else column)
    return select(*values).where(contacts.c.campaign_id == campaign_id).order_by(contacts.c.id)


def _add_phones_and_attributes(conn: Connection, campaign_id: int, rows: list[list[Any]]) -> None:
    """A batch of contact rows gets its other numbers, and its attributes as key=value;…"""
    others: dict[int, list[str]] = {}
    phones = (
        select(contact_phones.c.contact_id, contact_phones.c.number)
        .where(
            contact_phones.c.campaign_id == campaign_id,
            contact_phones.c.contact_id.between(rows[0][0], rows[-1][0]),
            contact_phones.c.position > 0,
        )
        .order_by(contact_phones.c.contact_id, contact_phones.c.position)
    )
    for contact_id, number in conn.execute(phones):
        others.setdefault(contact_id, []).append(number)
    numbers_at, attributes_at = _OTHER_NUMBERS, _ATTRIBUTES
    for row in rows:
        row[numbers_at] = ";".join(others.get(row[0], ()))
        row[attributes_at] = ";".join(f"{k}={v}" for k, v in (row[attributes_at] or {}).items())


def _attempt_query(campaign_id: int, when: TimeText | None) -> Select[Any]:
    values: list[Any] = []
    for col in ATTEMPT_COLUMNS:
        if col.key in ("external_id", "name"):
            values.append(contacts.c[col.key])
        elif col.key == "abandoned":
            values.append(cast(attempts.c.abandoned, Integer).label("abandoned"))
        else:
            column = attempts.c[col.key]
            values.append(_timed(column, when) if col.time else column)
    return (
        select(*values)
        .join(contacts, contacts.c.id == attempts.c.contact_id)
        .where(attempts.c.campaign_id == campaign_id)
        .order_by(attempts.c.id)
    )


def _cells(
    batch: Sequence[Sequence[Any]], columns: Sequence[Column], zone: ZoneInfo
) -> Iterator[list[Any]]:
    """Rows whose times are datetimes, with the times made local (naive, to the second)."""
    timed = [k for k, c in enumerate(columns) if c.time]
    for row in batch:
        cells = list(row)
        for k in timed:
            value = cells[k]
            if value is not None:
                cells[k] = value.astimezone(zone).replace(tzinfo=None, microsecond=0)
        yield cells


def _progress(written: int, total: int) -> dict[str, Any]:
    return {"rows_written": written, "rows_total": total, "percent": percent(written, total)}


_OTHER_NUMBERS = next(k for k, c in enumerate(CONTACT_COLUMNS) if c.key == "other_numbers")
_ATTRIBUTES = next(k for k, c in enumerate(CONTACT_COLUMNS) if c.key == "attributes")
