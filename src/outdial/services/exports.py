"""Export a campaign's contacts (with their final outcome) or its attempts (the ledger) to CSV
or XLSX, streamed in constant memory: rows are read in id order, a batch at a time, each batch
in its own short read, and written as they come.

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

from sqlalchemy import Connection, Select, func, select

from outdial.clock import Clock
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

BATCH = 5000


@dataclass(frozen=True)
class Column:
    key: str
    en: str
    zh: str


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
    Column("last_attempt_at", "last_attempt_at", "最后呼叫时间"),
    Column("next_eligible_at", "next_eligible_at", "下次可呼时间"),
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
    Column("created_at", "dialed_at", "呼叫时间"),
    Column("ringing_at", "ringing_at", "振铃时间"),
    Column("answered_at", "answered_at", "接通时间"),
    Column("connected_at", "connected_at", "转接坐席时间"),
    Column("ended_at", "ended_at", "挂断时间"),
    Column("outcome", "outcome", "结果"),
    Column("native_cause", "native_cause", "原始原因"),
    Column("talk_seconds", "talk_seconds", "通话时长(秒)"),
    Column("abandoned", "abandoned", "放弃"),
    Column("agent_id", "agent_id", "坐席ID"),
    Column("transfer_result", "transfer_result", "转人工结果"),
)

Progress = Callable[[Mapping[str, Any]], None]


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
        total = self.count(tenant, campaign_id, request.subject)
        if request.format == "xlsx" and total >= XLSX_ROWS_MAX:
            raise ValidationFailed.field(
                "format", f"{total:,} rows do not fit one XLSX sheet; export as csv", "limit"
            )
        columns = CONTACT_COLUMNS if request.subject == "contacts" else ATTEMPT_COLUMNS
        header = [getattr(c, request.language) for c in columns]
        zone = ZoneInfo(campaign["timezone"])
        writer = open_writer(path, request.format, header, request.subject)
        written = 0
        try:
            for batch in self._batches(campaign_id, request.subject):
                writer.write(_cells(batch, columns, zone, request.format))
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

    def run_job(self, job: RunningJob) -> Outcome:
        if job.tenant is None or job.row["campaign_id"] is None:
            raise InternalError("an export job needs a tenant and a campaign")
        request = ExportRequest(**job.params)
        path = job.directory / job.row["file_name"]
        result = self.run(job.tenant, int(job.row["campaign_id"]), request, path, job.report)
        return Outcome(result, _progress(result["rows"], result["rows"]))

    def _batches(self, campaign_id: int, subject: str) -> Iterator[list[dict[str, Any]]]:
        last = 0
        while True:
            with self.store.read() as conn:
                if subject == "contacts":
                    batch = _contact_batch(conn, campaign_id, last)
                else:
                    batch = [
                        dict(r._mapping) for r in conn.execute(_attempt_query(campaign_id, last))
                    ]
            if not batch:
                return
            yield batch
            last = batch[-1]["id"]


def _contact_batch(conn: Connection, campaign_id: int, after: int) -> list[dict[str, Any]]:
    query = (
        select(contacts)
        .where(contacts.c.campaign_id == campaign_id, contacts.c.id > after)
        .order_by(contacts.c.id)
        .limit(BATCH)
    )
    rows = [dict(r._mapping) for r in conn.execute(query)]
    if not rows:
        return rows
    others: dict[int, list[str]] = {}
    phones = (
        select(contact_phones.c.contact_id, contact_phones.c.number)
        .where(
            contact_phones.c.campaign_id == campaign_id,
            contact_phones.c.contact_id.between(rows[0]["id"], rows[-1]["id"]),
            contact_phones.c.position > 0,
        )
        .order_by(contact_phones.c.contact_id, contact_phones.c.position)
    )
    for contact_id, number in conn.execute(phones):
        others.setdefault(contact_id, []).append(number)
    for row in rows:
        row["other_numbers"] = ";".join(others.get(row["id"], ()))
    return rows


def _attempt_query(campaign_id: int, after: int) -> Select[Any]:
    return (
        select(attempts, contacts.c.external_id, contacts.c.name)
        .join(contacts, contacts.c.id == attempts.c.contact_id)
        .where(attempts.c.campaign_id == campaign_id, attempts.c.id > after)
        .order_by(attempts.c.id)
        .limit(BATCH)
    )


def _cells(
    batch: list[dict[str, Any]], columns: Sequence[Column], zone: ZoneInfo, kind: str
) -> Iterator[list[Any]]:
    keys = [c.key for c in columns]
    for row in batch:
        yield [_cell(row[k], zone, kind) for k in keys]


def _cell(value: Any, zone: ZoneInfo, kind: str) -> Any:
    if isinstance(value, datetime):
        local = value.astimezone(zone).replace(tzinfo=None, microsecond=0)
        return local if kind == "xlsx" else local.isoformat(sep=" ")
    if isinstance(value, dict):
        return ";".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, bool):
        return int(value)
    return value


def _progress(written: int, total: int) -> dict[str, Any]:
    return {"rows_written": written, "rows_total": total, "percent": percent(written, total)}
