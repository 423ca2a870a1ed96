"""Rows of a spreadsheet file, streamed: CSV in UTF-8 (with or without BOM) or GBK/GB18030 with
its delimiter sniffed, and XLSX (first sheet). Every cell comes out as text, so a phone number
stored as a number in Excel reads the same as one stored as text.

The reader never holds the file: CSV is decoded and split as it is read, XLSX rows are yielded
one at a time by python-calamine.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import BinaryIO

from python_calamine import CalamineError, CalamineWorkbook

SAMPLE_BYTES = 64 * 1024  # read ahead to pick the encoding and the delimiter
DELIMITERS = ",\t;|"
XLSX_MAGIC = b"PK\x03\x04"


class TableError(ValueError):
    """The file cannot be read as a table; the message says why in the user's terms."""


@dataclass(frozen=True)
class TableFormat:
    kind: str  # "csv" or "xlsx"
    encoding: str | None = None  # csv: "utf-8", "utf-8-sig" or "gb18030"
    delimiter: str | None = None  # csv


def sniff(head: bytes) -> TableFormat:
    """The format of a file from its first bytes."""
    if head.startswith(XLSX_MAGIC):
        return TableFormat("xlsx")
    encoding = _encoding(head)
    text = head.decode(encoding, errors="ignore")
    return TableFormat("csv", encoding, _delimiter(text))


def _encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"  # a superset of GBK and GB2312: what Chinese Excel saves as "CSV"


def _delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the sample may end inside a line
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sum(line.count(d) for line in lines) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


@dataclass(frozen=True)
class Table:
    """A file opened as a table: its format, its rows (lists of cell texts, stripped; empty rows
    included so row numbers match what the user sees) and, for XLSX, how many there are."""

    format: TableFormat
    rows: Iterator[list[str]]
    row_count: int | None = None


def open_table(stream: BinaryIO) -> Table:
    """Open ``stream`` (seekable) as a table."""
    head = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    if not head:
        raise TableError("the file is empty")
    fmt = sniff(head)
    if fmt.kind == "xlsx":
        return _xlsx(stream, fmt)
    return Table(fmt, _csv_rows(stream, fmt))


def _csv_rows(stream: BinaryIO, fmt: TableFormat) -> Iterator[list[str]]:
    assert fmt.encoding is not None and fmt.delimiter is not None
    text = io.TextIOWrapper(stream, encoding=fmt.encoding, newline="")
    line = 0  # rows yielded so far
    try:
        for row in csv.reader(text, delimiter=fmt.delimiter):
            line += 1
            yield list(map(str.strip, row))
    except UnicodeDecodeError as e:
        # text is decoded a block at a time, so the bad bytes are at or after the next row
        raise TableError(
            f"after row {line}: the file is not valid {fmt.encoding} text;"
            " save it as UTF-8 or GBK CSV"
        ) from e
    except csv.Error as e:
        raise TableError(f"row {line + 1}: {e}") from e
    finally:
        if not text.closed:  # a reader stopped early may see its file closed first
            text.detach()


def _xlsx(stream: BinaryIO, fmt: TableFormat) -> Table:
    try:
        book = CalamineWorkbook.from_filelike(stream)
        if not book.sheet_names:
            raise TableError("the workbook has no sheet")
        sheet = book.get_sheet_by_index(0)
        rows = sheet.iter_rows()
    except CalamineError as e:
        raise TableError(f"not a readable XLSX workbook: {e}") from e
    # text cells (most) stripped at once; the rest as cell_text shows them
    cells = ([v.strip() if type(v) is str else cell_text(v) for v in row] for row in rows)
    return Table(fmt, cells, sheet.height)


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text a user would read in it: whole numbers without ``.0``
    (phone numbers stored as numbers), dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value).strip()
