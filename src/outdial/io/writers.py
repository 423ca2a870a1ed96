"""Rows into a spreadsheet file, streamed in constant memory: CSV (UTF-8 with a BOM, so Excel
reads the Chinese right) or XLSX (XlsxWriter's constant-memory mode, one row at a time)."""

from __future__ import annotations

import csv
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


def open_writer(path: Path, kind: str, header: Sequence[str], sheet: str) -> RowWriter:
    if kind == "xlsx":
        return XlsxWriter(path, header, sheet)
    return CsvWriter(path, header)
