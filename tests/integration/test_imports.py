"""Importing contact files into a campaign (outdial.services.imports) on SQLite and PostgreSQL:
real CSV and XLSX files, the row-level report, and a failing file that changes nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter

from outdial.domain.columns import detect
from outdial.domain.errors import LimitExceeded, ValidationFailed
from outdial.domain.file_rows import row_reader
from outdial.services import imports
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.imports import ImportProgress, report_csv
from outdial.services.models import CampaignIn, ContactAppendIn, DncIn, TenantIn


def setup(services: Services, cap: int = 20_000) -> tuple[Tenant, int]:
    tenant = Tenant.from_row(
        services.tenants.create(TenantIn(name="importer", max_contacts_per_campaign=cap))
    )
    return tenant, services.campaigns.create(tenant, CampaignIn(name="c"))["id"]


def gbk_csv(rows: list[list[str]]) -> io.BytesIO:
    return io.BytesIO("\r\n".join(",".join(r) for r in rows).encode("gbk"))


def contacts_of(services: Services, tenant: Tenant, campaign: int) -> list[dict[str, Any]]:
    from outdial.services.common import PageRequest

    page = services.contacts.list(tenant, campaign, PageRequest(1, 500), {})
    return sorted(page.items, key=lambda c: c["id"])


ROSTER = [
    ["客户编号", "姓名", "手机号", "备用电话", "关系", "备注", "贷款金额"],
    ["C001", "张三", "13800138000", "13900139000", "配偶", "老客户", "5000"],
    ["", "", "", "", "", "", ""],  # an empty row: skipped, not rejected
    ["C002", "李四", "138-0013-8001", "", "", "", "12000"],
    ["C003", "王五", "电话待补", "", "", "", ""],  # not a phone number
    ["C004", "赵六", "13800138000", "", "", "", ""],  # the same person's number as row 2
    ["C005", "钱七", "13700137000", "", "", "", ""],  # on the do-not-call list
    ["C006", "孙八", "13600136000", "13600136000", "", "", ""],  # the same number twice
]


def test_a_gbk_roster_imports_its_good_rows_and_reports_the_rest(services: Services) -> None:
    tenant, campaign = setup(services)
    services.dnc.add(tenant, DncIn(number="+8613700137000"))
    seen: list[int] = []
    result = services.imports.run(
        tenant, campaign, gbk_csv(ROSTER), on_progress=lambda p: seen.append(p.rows_read)
    )
    body = result.as_dict()
    assert body["format"] == "csv"
    assert (body["rows_read"], body["accepted"], body["rejected"], body["empty_rows"]) == (
        7, 2, 4, 1,
    )  # fmt: skip
    assert seen == [7]
    problems = [(p["row"], p["column"], p["type"]) for p in body["problems"]]
    assert problems == [
        (5, "手机号", "invalid"),
        (6, "手机号", "duplicate"),
        (7, "手机号", "dnc"),
        (8, "手机号", "duplicate"),  # the row's phones as a whole: the first phone column
    ]
    first, second = contacts_of(services, tenant, campaign)
    assert (first["external_id"], first["name"], first["attributes"]) == (
        "C001", "张三", {"贷款金额": "5000"},
    )  # fmt: skip
    assert [(p["number"], p["relation"]) for p in first["phones"]] == [
        ("+8613800138000", "self"),
        ("+8613900139000", "配偶"),
    ]
    assert second["phones"][0]["number"] == "+8613800138001"
    report = report_csv(result.problems)
    assert report.startswith("\ufeffrow,column,field,reason,type\r\n5,手机号,phones[0].number,")


def test_rows_already_in_the_campaign_are_duplicates(services: Services) -> None:
    tenant, campaign = setup(services)
    services.imports.run(tenant, campaign, gbk_csv(ROSTER[:2]))
    again = services.imports.run(tenant, campaign, gbk_csv(ROSTER[:2])).as_dict()
    assert (again["accepted"], again["rejected"]) == (0, 1)
    assert "already in the campaign" in again["problems"][0]["reason"]


def test_an_xlsx_with_numbers_stored_as_numbers(services: Services, tmp_path: Path) -> None:
    tenant, campaign = setup(services)
    path = tmp_path / "roster.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["Name", "Mobile", "Notes"])
    sheet.write_row(1, 0, ["Ada", 13800138000, "vip"])
    sheet.write_string(2, 1, "13900139000")
    book.close()
    progress: list[float] = []
    with path.open("rb") as f:
        run = services.imports.run(
            tenant, campaign, f, on_progress=lambda p: progress.append(p.percent)
        )
        result = run.as_dict()
    assert progress == [100.0]  # by rows: the workbook's bytes are read at once
    assert (result["format"], result["accepted"], result["total_contacts"]) == ("xlsx", 2, 2)
    numbers = [c["phones"][0]["number"] for c in contacts_of(services, tenant, campaign)]
    assert numbers == ["+8613800138000", "+8613900139000"]


def test_batches_dedupe_across_the_whole_file(services: Services, monkeypatch: Any) -> None:
    monkeypatch.setattr(imports, "BATCH_ROWS", 3)
    tenant, campaign = setup(services)
    rows = [["phone"]] + [[f"1380000{i % 7:04d}"] for i in range(20)]
    progress: list[ImportProgress] = []
    result = services.imports.run(tenant, campaign, gbk_csv(rows), on_progress=progress.append)
    assert (result.progress.accepted, result.progress.rejected) == (7, 13)
    assert len(progress) == 7 and progress[-1].rows_read == 20


def test_a_file_over_the_campaign_cap_imports_nothing(services: Services) -> None:
    tenant, campaign = setup(services, cap=5)
    rows = [["手机号"]] + [[f"1380000{i:04d}"] for i in range(6)]
    with pytest.raises(LimitExceeded) as e:
        services.imports.run(tenant, campaign, gbk_csv(rows))
    assert e.value.details[0].field == "file" and "cap of 5" in e.value.details[0].message
    assert contacts_of(services, tenant, campaign) == []


def test_a_file_that_breaks_midway_imports_nothing(services: Services, monkeypatch: Any) -> None:
    monkeypatch.setattr(imports, "BATCH_ROWS", 100)
    tenant, campaign = setup(services)
    good = b"phone\n" + b"".join(f"1380000{i:04d}\n".encode() for i in range(9000))
    with pytest.raises(ValidationFailed) as e:
        services.imports.run(tenant, campaign, io.BytesIO(good + b"\xff\xfe,oops\n"))
    assert e.value.details[0].field == "file" and "not valid utf-8" in e.value.details[0].message
    assert contacts_of(services, tenant, campaign) == []


@pytest.mark.parametrize(
    ("data", "mapping", "field", "message"),
    [
        (b"", None, "file", "empty"),
        ("姓名,地址\n张三,北京\n".encode(), None, "mapping", "no phone column"),
        (b"name,phone\nAda,13800138000\n", {"mobile": "phone"}, "mapping.mobile", "no column"),
        (b"PK\x03\x04garbage", None, "file", "not a readable XLSX"),
    ],
)
def test_bad_files_and_mappings_are_field_errors(
    services: Services, data: bytes, mapping: dict[str, str] | None, field: str, message: str
) -> None:
    tenant, campaign = setup(services)
    with pytest.raises(ValidationFailed) as e:
        services.imports.run(tenant, campaign, io.BytesIO(data), mapping)
    assert e.value.details[0].field == field and message in e.value.details[0].message
    assert contacts_of(services, tenant, campaign) == []


# --- the child reader: a large file read and checked in a child process -----------------------


def _on_disk(tmp_path: Path, data: bytes, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_child_reader_imports_what_the_importing_process_would(
    services: Services, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setattr(imports, "BATCH_ROWS", 3)  # several batches through the queue
    tenant, here = setup(services)
    there = services.campaigns.create(tenant, CampaignIn(name="d"))["id"]
    services.dnc.add(tenant, DncIn(number="+8613700137000"))
    path = _on_disk(tmp_path, gbk_csv(ROSTER).getvalue())
    with path.open("rb") as stream:
        inline = services.imports.run(tenant, here, stream).as_dict()
    monkeypatch.setattr(imports, "CHILD_READER_BYTES", 0)
    seen: list[int] = []
    with path.open("rb") as stream:
        child = services.imports.run(
            tenant, there, stream, on_progress=lambda p: seen.append(p.rows_read), path=path
        ).as_dict()
    assert {**child, "total_contacts": 0} == {**inline, "total_contacts": 0}
    assert seen == [3, 6, 7] and child["accepted"] == 2
    numbers = [c["phones"][0]["number"] for c in contacts_of(services, tenant, there)]
    assert numbers == [c["phones"][0]["number"] for c in contacts_of(services, tenant, here)]


def test_a_file_that_breaks_in_the_child_reader_imports_nothing(
    services: Services, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setattr(imports, "BATCH_ROWS", 100)
    monkeypatch.setattr(imports, "CHILD_READER_BYTES", 0)
    tenant, campaign = setup(services)
    good = b"phone\n" + b"".join(f"1380000{i:04d}\n".encode() for i in range(9000))
    path = _on_disk(tmp_path, good + b"\xff\xfe,oops\n")
    with pytest.raises(ValidationFailed) as e, path.open("rb") as stream:
        services.imports.run(tenant, campaign, stream, path=path)
    assert e.value.details[0].field == "file" and "not valid utf-8" in e.value.details[0].message
    assert contacts_of(services, tenant, campaign) == []


def test_stopping_an_import_stops_its_child_reader(
    services: Services, monkeypatch: Any, tmp_path: Path
) -> None:
    import multiprocessing

    monkeypatch.setattr(imports, "BATCH_ROWS", 100)
    monkeypatch.setattr(imports, "CHILD_READER_BYTES", 0)
    tenant, campaign = setup(services)
    rows = b"phone\n" + b"".join(f"1380000{i:04d}\n".encode() for i in range(5000))
    path = _on_disk(tmp_path, rows)

    class Stop(Exception):
        pass

    def stop(progress: ImportProgress) -> None:
        raise Stop()

    with pytest.raises(Stop), path.open("rb") as stream:
        services.imports.run(tenant, campaign, stream, on_progress=stop, path=path)
    assert multiprocessing.active_children() == []
    assert contacts_of(services, tenant, campaign) == []


# --- the bulk path: rows written without bind processing read back as the append API's -----

TRICKY = [
    ["姓名", "手机号", "电话(配偶)", "客户编号", "备注", "透传", "城市"],
    ["Tab\there", "13800138010", "13900139010", "C\\N", "a\\b\\\\c", "x\ny", '北京 "朝阳"'],
    ["O'Brien", "138 0013 8011", "", "", "line\r\nbreak", "\\N", '{"k": 1}'],
    ["张三😀", "138-0013-8012", "13900139012", "C'3", "", "", ""],
    ["\\t literal", "13800138013", "", "", "back\\", "tab\tend", "é\\u00e9"],
]


def _stored(services: Services, tenant: Tenant, campaign: int) -> list[Any]:
    keys = ("name", "description", "external_id", "pass_through", "attributes", "timezone",
            "primary_number", "state", "reason", "attempt_count", "next_eligible_at")  # fmt: skip
    phone_keys = ("position", "number", "relation", "phone_group", "state", "attempt_count")
    return [
        ({k: c[k] for k in keys}, [{k: p[k] for k in phone_keys} for p in c["phones"]])
        for c in contacts_of(services, tenant, campaign)
    ]


@pytest.mark.parametrize("child", [False, True])
def test_bulk_rows_read_back_as_the_append_api_writes_them(
    services: Services, monkeypatch: Any, tmp_path: Path, child: bool
) -> None:
    monkeypatch.setattr(imports, "BATCH_ROWS", 2)
    if child:
        monkeypatch.setattr(imports, "CHILD_READER_BYTES", 0)
    tenant, by_file = setup(services)
    by_api = services.campaigns.create(tenant, CampaignIn(name="api"))["id"]
    out = io.StringIO()
    csv.writer(out).writerows(TRICKY)
    path = _on_disk(tmp_path, out.getvalue().encode())
    with path.open("rb") as stream:
        result = services.imports.run(tenant, by_file, stream, path=path)
    assert (result.progress.accepted, result.progress.rejected) == (4, 0)
    columns = detect([TRICKY[0], TRICKY[1]])
    assert all(row_reader(columns, "CN")(row) is not None for row in TRICKY[1:])  # bulk path
    raw = [columns.contact(row) for row in TRICKY[1:]]
    services.contacts.append(tenant, by_api, ContactAppendIn(contacts=raw))
    stored = _stored(services, tenant, by_file)
    assert stored == _stored(services, tenant, by_api)
    assert stored[0][0]["name"] == "Tab\there" and stored[0][0]["attributes"] == {
        "城市": '北京 "朝阳"'
    }
    assert stored[1][0]["description"] == "line\r\nbreak" and stored[1][0]["pass_through"] == "\\N"
