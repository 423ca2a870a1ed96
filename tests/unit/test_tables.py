"""Reading contact files (outdial.io.tables): real CSV and XLSX files written by the tests."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
import xlsxwriter

from outdial.io.tables import TableError, cell_text, open_table, sniff

ROWS = [
    ["姓名", "手机号", "备注"],
    ["张三", "13800138000", "老客户, VIP"],
    ["李四", "13900139000", ""],
]


def csv_bytes(rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    lines = []
    for row in rows:
        cells = [f'"{c}"' if delimiter in c or "," in c else c for c in row]
        lines.append(delimiter.join(cells))
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def rows_of(data: bytes) -> list[list[str]]:
    return list(open_table(io.BytesIO(data)).rows)


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")],
)
def test_csv_encodings_are_recognised(encoding: str, expected: str) -> None:
    data = csv_bytes(ROWS, encoding=encoding)
    fmt = sniff(data)
    assert (fmt.kind, fmt.encoding, fmt.delimiter) == ("csv", expected, ",")
    assert rows_of(data) == ROWS


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_the_delimiter_is_sniffed(delimiter: str) -> None:
    data = csv_bytes(ROWS, delimiter=delimiter, encoding="gbk")
    assert sniff(data).delimiter == delimiter
    assert rows_of(data) == ROWS


def test_a_sample_ending_inside_a_utf8_character_is_still_utf8() -> None:
    data = csv_bytes([["姓名", "手机号"]] + [["王五" * 10, "13800138000"]] * 2000)
    cut = 64 * 1024
    with pytest.raises(UnicodeDecodeError):
        data[:cut].decode("utf-8")  # the cut splits a character
    assert sniff(data[:cut]).encoding == "utf-8"
    assert len(rows_of(data)) == 2001


def test_empty_rows_are_kept_so_row_numbers_match_the_file() -> None:
    data = b"name,phone\n\nAda,13800138000\n,\n"
    assert rows_of(data) == [["name", "phone"], [], ["Ada", "13800138000"], ["", ""]]


def test_invalid_text_is_a_clear_error_with_the_row() -> None:
    data = b"name,phone\n" + b"a,1\n" * 20000 + b"\xff\xfe\xfa,2\n"  # past the sample, not UTF-8
    with pytest.raises(TableError, match=r"after row \d+: the file is not valid utf-8") as e:
        rows_of(data)
    assert 16_000 < int(str(e.value).split()[2].rstrip(":")) <= 20_001


def test_an_empty_file_is_an_error() -> None:
    with pytest.raises(TableError, match="empty"):
        open_table(io.BytesIO(b""))


def test_xlsx_numbers_stored_as_numbers_read_like_text(tmp_path: Path) -> None:
    path = tmp_path / "名单.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("名单")
    sheet.write_row(0, 0, ["姓名", "手机号", "金额", "日期"])
    sheet.write_row(1, 0, ["张三", 13800138000, 12.5])
    sheet.write_datetime(
        1, 3, datetime(2026, 11, 23, 9, 30), book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    )
    sheet.write_string(2, 1, "13900139000")
    sheet.write_string(4, 0, "  王五 ")  # row 4 left empty
    book.close()
    with path.open("rb") as f:
        table = open_table(f)
        assert (table.format.kind, table.row_count) == ("xlsx", 5)
        got = list(table.rows)
    assert got[0] == ["姓名", "手机号", "金额", "日期"]
    assert got[1] == ["张三", "13800138000", "12.5", "2026-11-23 09:30:00"]
    assert got[2][:2] == ["", "13900139000"]
    assert not any(got[3]) and got[4][0] == "王五"


def test_a_broken_xlsx_is_a_clear_error() -> None:
    with pytest.raises(TableError, match="not a readable XLSX"):
        rows_of(b"PK\x03\x04" + b"\x00" * 100)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (13800138000.0, "13800138000"),
        (0.5, "0.5"),
        (True, "TRUE"),
        (" x ", "x"),
        (7, "7"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text
