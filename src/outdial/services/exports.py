"""Export a campaign's contacts (with their final outcome) or its attempts (the ledger) to CSV
or XLSX, streamed in constant memory: one query in id order, read a batch at a time from one
snapshot, each batch written as it comes. For CSV the database writes the times as local text.

The attempts to CSV (a ledger runs to millions of rows) skip the per-value work in Python: on
PostgreSQL the database writes the CSV itself (COPY … TO STDOUT), on SQLite each line comes
from the query as text but for its floats; either way byte for byte what ``csv.writer`` makes
of the row's values (see ``outdial.io.writers``), checked a batch at a time on SQLite.

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

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Integer,
    LargeBinary,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
)

from outdial.clock import Clock
from outdial.domain.calendar import fixed_offset
from outdial.domain.errors import InternalError, ValidationFailed
from outdial.domain.jobs import JobKind, percent
from outdial.io.writers import (
    XLSX_ROWS_MAX,
    CrlfLines,
    CsvWriter,
    RowWriter,
    csv_lines,
    open_writer,
    plain_lines,
)
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
TALK_PLAIN = (1e-4, 1e15)  # |x| where PostgreSQL and Python print a float alike (or x == 0)
Lines = Iterator[tuple[bytes, int]]  # CSV lines, encoded, and how many


@dataclass(frozen=True)
class Span:
    """What the export will write, looked at before: its rows, their earliest and latest
    times, and (attempts) the least and greatest magnitude of a talk time that is not 0."""

    rows: int
    times: tuple[datetime, datetime] | None
    talk: tuple[float, float] | None = None

    @property
    def talk_plain(self) -> bool:
        """Whether every talk time is 0 or in TALK_PLAIN (so not NaN nor infinite)."""
        low, high = TALK_PLAIN
        return self.talk is None or (self.talk[0] >= low and self.talk[1] < high)


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
            span = _span(conn, campaign_id, request.subject)
        total = span.rows
        if request.format == "xlsx" and total >= XLSX_ROWS_MAX:
            raise ValidationFailed.field(
                "format", f"{total:,} rows do not fit one XLSX sheet; export as csv", "limit"
            )
        columns = CONTACT_COLUMNS if request.subject == "contacts" else ATTEMPT_COLUMNS
        zone = ZoneInfo(campaign["timezone"])
        when = self._times(zone, span.times, request.format)
        header = [getattr(c, request.language) for c in columns]
        writer = open_writer(path, request.format, header, request.subject)
        lines = self._lines(campaign_id, request, zone, when, span)
        if lines is not None and isinstance(writer, CsvWriter):
            counts = _written_lines(writer, lines)
        else:
            batches = self._batches(campaign_id, request.subject, when)
            counts = _written_rows(writer, batches, None if when is not None else (columns, zone))
        written = 0
        try:
            for count in counts:
                written += count
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
        # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff': cut to the second (datetime() would round
        # a time at .9995 s or later up to the next second, where Python and PostgreSQL cut)
        if offset == 0:
            return lambda column: func.substr(column, 1, 19)
        shift = f"{offset:+d} seconds"
        return lambda column: func.datetime(func.substr(column, 1, 19), shift)

    def _lines(
        self,
        campaign_id: int,
        request: ExportRequest,
        zone: ZoneInfo,
        when: TimeText | None,
        span: Span,
    ) -> Lines | None:
        """The attempts as CSV lines made by the database, or None where that is not sure to
        give the bytes ``csv.writer`` would (times Python must shift, floats PostgreSQL would
        print another way) or not worth it (contacts take their phones from another query)."""
        if request.subject != "attempts" or request.format != "csv" or when is None:
            return None
        if self.store.dialect == "postgresql":
            return self._copied_lines(campaign_id, zone) if span.talk_plain else None
        return self._joined_lines(campaign_id, when)

    def _copied_lines(self, campaign_id: int, zone: ZoneInfo) -> Lines:
        """PostgreSQL's CSV of the attempts, its line ends made CRLF, a batch at a time. The
        times are the text of a timestamptz in the transaction's zone, cut to the second
        (ISO: 'YYYY-MM-DD HH:MM:SS' comes first), the text to_char(timezone(…)) gives, for a
        quarter of the server's time per row (5 times in 1.8 µs with to_char, 0.5 µs so)."""
        values = [_pg_csv_text(v) for v in _attempt_values(_pg_local_text)]
        query = _attempt_from(select(*values), campaign_id)
        sql = query.compile(
            dialect=self.store.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        settings = {"TimeZone": zone.key, "DateStyle": "ISO", "extra_float_digits": "1"}
        with self.store.read() as conn:
            # for this transaction; extra_float_digits 1: floats' shortest digits, as repr()
            conn.execute(select(*(func.set_config(k, v, True) for k, v in settings.items())))
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            crlf = CrlfLines()
            statement = f"COPY ({sql}) TO STDOUT (FORMAT csv, ENCODING 'UTF8')"
            with cursor, cursor.copy(statement) as copy:
                parts: list[memoryview] = []
                for part in copy:  # a row a part, as PostgreSQL sends them (not relied on)
                    parts.append(part)
                    if len(parts) == BATCH:
                        yield crlf(b"".join(parts))
                        parts = []
                if parts:
                    yield crlf(b"".join(parts))

    def _joined_lines(self, campaign_id: int, when: TimeText) -> Lines:
        """SQLite: each attempt's line joined by the query, as text up to each float and the
        floats (Python's repr), the lines checked a batch at a time; a line with a value
        that CSV must quote is made again from its values by ``csv.writer``."""
        values = _attempt_values(when)
        pieces: list[Any] = []  # text up to a float, the float, text after…
        texts: list[Any] = []
        for k, value in enumerate(values):
            if k:
                texts.append(literal_column("','", String))
            if isinstance(value.type, Float):
                pieces += [_joined(texts), value]
                texts = []
            else:
                text = cast(value, String) if isinstance(value.type, Integer) else value
                texts.append(func.coalesce(text, literal_column("''", String)))
        texts.append(literal_column("char(13, 10)", String))
        pieces.append(_joined(texts))
        line = b"%b" + b"%r%b" * (len(pieces) // 2)
        fields = len(values)
        query = _attempt_from(select(*pieces), campaign_id)
        with self.store.read() as conn:
            result = conn.execute(query)
            cursor = result.cursor  # the rows as sqlite3 gives them, no Row made for each
            while rows := cursor.fetchmany(BATCH):
                made = [line % row for row in rows]
                data = b"".join(made)
                if not plain_lines(data, len(rows), fields):
                    data = b"".join(_requoted(conn, campaign_id, when, made, fields))
                yield data, len(rows)
            result.close()

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


def _span(conn: Connection, campaign_id: int, subject: str) -> Span:
    """The rows the export will write, their earliest and latest times (and on PostgreSQL
    the talk times' range)."""
    talk: list[Any] = []
    if subject == "contacts":
        low = func.min(func.coalesce(contacts.c.last_attempt_at, contacts.c.next_eligible_at))
        high = func.max(func.coalesce(contacts.c.next_eligible_at, contacts.c.last_attempt_at))
        where = contacts.c.campaign_id == campaign_id
    else:
        low = func.min(attempts.c.created_at)
        high = func.max(func.coalesce(attempts.c.ended_at, attempts.c.created_at))
        where = attempts.c.campaign_id == campaign_id
        if conn.dialect.name == "postgresql":  # where the database prints them (_pg_csv_text)
            size = func.abs(attempts.c.talk_seconds)
            talk = [func.min(func.nullif(size, 0)), func.max(size)]
    rows, first, last, *sizes = conn.execute(
        select(
            func.count(), type_coerce(low, UTCDateTime()), type_coerce(high, UTCDateTime()), *talk
        ).where(where)
    ).one()
    times = None if first is None or last is None else (first, last)
    least, most = sizes or (None, None)
    talks = None if least is None or most is None else (float(least), float(most))
    return Span(int(rows), times, talks)


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


def _attempt_values(when: TimeText | None) -> list[ColumnElement[Any]]:
    values: list[ColumnElement[Any]] = []
    for col in ATTEMPT_COLUMNS:
        if col.key in ("external_id", "name"):
            values.append(contacts.c[col.key])
        elif col.key == "abandoned":
            values.append(cast(attempts.c.abandoned, Integer))
        else:
            column = attempts.c[col.key]
            values.append(_timed(column, when) if col.time else column)
    return values


def _attempt_from(query: Select[Any], campaign_id: int) -> Select[Any]:
    return (
        query.join(contacts, contacts.c.id == attempts.c.contact_id)
        .where(attempts.c.campaign_id == campaign_id)
        .order_by(attempts.c.id)
    )


def _attempt_query(campaign_id: int, when: TimeText | None) -> Select[Any]:
    values = [v.label(c.key) for v, c in zip(_attempt_values(when), ATTEMPT_COLUMNS, strict=True)]
    return _attempt_from(select(*values), campaign_id)


def _pg_local_text(column: Any) -> Any:
    return func.substr(cast(column, String), 1, 19)


def _pg_csv_text(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """A value as PostgreSQL's CSV should write it to match ``csv.writer``: text NULL where
    empty (an empty string it would quote), a float with '.0' when whole (as repr() does;
    the shortest digits otherwise, with extra_float_digits = 1 and |x| in TALK_PLAIN)."""
    if isinstance(value.type, Float):
        text = cast(value, String)
        return case((value == func.trunc(value), text + literal(".0")), else_=text)
    if isinstance(value.type, Integer):
        return value
    return func.nullif(value, literal(""))


def _joined(texts: Sequence[Any]) -> ColumnElement[Any]:
    """Texts joined by SQLite's ||, as bytes (UTF-8, written as they come)."""
    if not texts:
        return literal_column("X''", LargeBinary)
    joined = texts[0]
    for text in texts[1:]:
        joined = joined.op("||")(text)
    return cast(joined, LargeBinary)


def _requoted(
    conn: Connection, campaign_id: int, when: TimeText, lines: list[bytes], fields: int
) -> list[bytes]:
    """``lines`` with each that is not plain made again by ``csv.writer`` from its values
    (read in the same snapshot: a line starts with its attempt's id)."""
    wrong = {
        int(line[: line.index(b",")]): k
        for k, line in enumerate(lines)
        if not plain_lines(line, 1, fields)
    }
    query = _attempt_query(campaign_id, when).where(attempts.c.id.in_(list(wrong)))
    fixed = list(lines)
    for row in conn.execute(query):
        fixed[wrong[row[0]]] = csv_lines([row])
    return fixed


def _written_rows(
    writer: RowWriter,
    batches: Iterator[Sequence[Sequence[Any]]],
    python_times: tuple[Sequence[Column], ZoneInfo] | None,
) -> Iterator[int]:
    """Each batch written (its times made local by Python if asked), then its size."""
    for batch in batches:
        writer.write(batch if python_times is None else _cells(batch, *python_times))
        yield len(batch)


def _written_lines(writer: CsvWriter, lines: Lines) -> Iterator[int]:
    for data, count in lines:
        writer.write_lines(data)
        yield count


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


assert ATTEMPT_COLUMNS[0].key == "id"  # _requoted finds a line's attempt by its first value
_OTHER_NUMBERS = next(k for k, c in enumerate(CONTACT_COLUMNS) if c.key == "other_numbers")
_ATTRIBUTES = next(k for k, c in enumerate(CONTACT_COLUMNS) if c.key == "attributes")
