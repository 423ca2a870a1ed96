"""Rows into a spreadsheet file, streamed in constant memory: CSV (UTF-8 with a BOM, so Excel
reads the Chinese right) or XLSX (XlsxWriter's constant-memory mode, one row at a time).

A CSV writer also takes lines already written as CSV (by the database, for speed), provided
they are byte for byte what ``csv.writer`` would have written for their values: ``plain_lines``
tells whether lines joined from values are, and ``CrlfLines`` makes PostgreSQL's CSV so."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import xlsxwriter

FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
XLSX_ROWS_MAX = 1_048_576  # Excel's sheet limit, the header included


class RowWriter(Protocol):
    def write(self, rows: Iterable[Sequence[Any]]) -> None: ...

    def close(self) -> None: ...


class CsvWriter:
    def __init__(self, path: Path, header: Sequence[str]):
        self._file = path.open("w", encoding="utf-8", newline="", buffering=1 << 20)
        self._file.write("\ufeff")  # the BOM, once (utf-8-sig would check on every write)
        self._csv = csv.writer(self._file)
        self._csv.writerow(header)

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        self._csv.writerows(rows)

    def write_lines(self, data: bytes) -> None:
        """CSV lines already encoded (UTF-8, each ended by CRLF), exactly as ``write`` would
        have written their rows."""
        self._file.flush()
        self._file.buffer.write(data)

    def close(self) -> None:
        self._file.close()


class XlsxWriter:
    """Numbers stay numbers, datetimes become Excel dates, phone numbers stay text."""

    def __init__(self, path: Path, header: Sequence[str], sheet: str):
        self._book = xlsxwriter.Workbook(
            str(path), {"constant_memory": True, "strings_to_numbers": False}
        )
        self._sheet = self._book.add_worksheet(sheet[:31])
        self._dates = self._book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self._sheet.write_row(0, 0, header, self._book.add_format({"bold": True}))
        self._row = 1

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        sheet, dates = self._sheet, self._dates
        for row in rows:
            if self._row >= XLSX_ROWS_MAX:
                raise ValueError(f"an XLSX sheet holds at most {XLSX_ROWS_MAX - 1:,} rows")
            for col, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, datetime):
                    sheet.write_datetime(self._row, col, value, dates)
                else:
                    sheet.write(self._row, col, value)
            self._row += 1

    def close(self) -> None:
        self._book.close()


def csv_lines(rows: Iterable[Sequence[Any]]) -> bytes:
    """``rows`` as ``CsvWriter.write`` writes them."""
    text = io.StringIO(newline="")
    csv.writer(text).writerows(rows)
    return text.getvalue().encode()


def plain_lines(data: bytes, rows: int, fields: int) -> bool:
    """Whether ``data`` — ``rows`` lines of ``fields`` values each, the values joined by
    commas, each line ended by CRLF — is what ``csv.writer`` writes for those values: it is
    when no value holds a comma, a double quote, CR or LF (then none is quoted, and a line of
    several values never is), which these counts tell for the whole batch at once."""
    return (
        fields > 1
        and data.count(b",") == rows * (fields - 1)
        and data.count(b"\n") == rows
        and data.count(b"\r") == rows
        and b'"' not in data
    )


class CrlfLines:
    """PostgreSQL's CSV (``COPY … TO STDOUT (FORMAT csv)``) quotes a value exactly when
    ``csv.writer`` does (it holds the delimiter, a quote, CR or LF; quotes doubled; an empty
    string quoted, NULL not — so text goes out as NULLIF(value, '')), but ends each line with
    LF where ``csv.writer`` writes CRLF. Fed the stream in chunks cut anywhere, this turns every
    LF that ends a line — one outside a quoted value, where an even number of quotes precede
    it — into CRLF, and counts the lines."""

    def __init__(self) -> None:
        self.quoted = False  # inside a quoted value at the end of the last chunk

    def __call__(self, chunk: bytes) -> tuple[bytes, int]:
        if not self.quoted and b'"' not in chunk:
            return chunk.replace(b"\n", b"\r\n"), chunk.count(b"\n")
        parts = chunk.split(b"\n")
        out: list[bytes] = []
        lines = 0
        for part in parts:
            if part.count(b'"') % 2:
                self.quoted = not self.quoted
            out.append(part)
            out.append(b"\n" if self.quoted else b"\r\n")
            lines += not self.quoted
        lines -= not self.quoted  # the last part ends no line
        out.pop()
        return b"".join(out), lines


def open_writer(path: Path, kind: str, header: Sequence[str], sheet: str) -> RowWriter:
    if kind == "xlsx":
        return XlsxWriter(path, header, sheet)
    return CsvWriter(path, header)
