"""Contact and DNC file uploads and campaign exports as background jobs, through the real HTTP
server and its JobRunner, on SQLite and PostgreSQL: progress, results, row-level reports,
signed downloads; bad requests are field errors in the native dialect and queue nothing."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from python_calamine import CalamineWorkbook

from outdial.domain import limits
from outdial.services.container import Services
from tests.support import Api, ended_attempt, fields

ROSTER = [
    ["客户编号", "姓名", "手机号", "备用电话", "备注", "城市"],
    ["A1", "张三", "13800000001", "13900000001", "老客户", "杭州"],
    ["A2", "李四", "123", "", "号码错误", "上海"],
    ["A3", "王五", "13800000003", "", "", "北京"],
    ["A4", "赵六", "13800000001", "", "重复", "杭州"],
    ["", "", "", "", "", ""],
    ["A5", "钱七", "13700000005", "", "", "深圳"],
]


def gbk(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("gbk")


def campaign(api: Api, **fields: Any) -> int:
    body = api.ok(api.post("/campaigns", {"name": f"c-{time.time_ns()}", **fields}), 201)
    return int(body["id"])


def finished(api: Api, job: dict[str, Any], base: str = "/jobs") -> dict[str, Any]:
    """Poll the job until it ends (the server's JobRunner runs it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        current: dict[str, Any] = api.ok(api.get(f"{base}/{job['id']}"))
        if current["state"] in ("succeeded", "failed", "cancelled"):
            return current
        time.sleep(0.05)
    raise AssertionError(f"job {job['id']} did not finish: {current}")


def invalid(resp: httpx2.Response, field: str) -> None:
    assert resp.status_code == 422, (resp.status_code, resp.text)
    assert resp.json()["code"] == "validation_error"
    assert field in fields(resp), resp.json()


def job_count(api: Api) -> int:
    return int(api.ok(api.get("/jobs"))["total"])


def contact_numbers(api: Api, campaign_id: int) -> list[str]:
    body = api.ok(api.get(f"/campaigns/{campaign_id}/contacts", page_size=500))
    return [c["phones"][0]["number"] for c in body["items"]]


# --- contact import ---------------------------------------------------------------------------


def test_a_gbk_roster_uploaded_imports_in_the_background_with_a_report(api: Api) -> None:
    cid = campaign(api)
    resp = api.upload(f"/campaigns/{cid}/imports", "名单.csv", gbk(ROSTER))
    job = api.ok(resp, 202)
    assert (job["kind"], job["campaign_id"], job["file_name"]) == (
        "contact_import",
        cid,
        "名单.csv",
    )
    assert job["state"] in ("queued", "running", "succeeded")

    done = finished(api, job)
    assert done["state"] == "succeeded", done
    progress = done["progress"]
    assert (progress["rows_read"], progress["accepted"], progress["rejected"]) == (6, 3, 2)
    assert (progress["empty_rows"], progress["percent"]) == (1, 100.0)
    result = done["result"]
    assert result["total_contacts"] == 3 and result["format"] == "csv"
    assert {(p["row"], p["column"], p["type"]) for p in result["problems"]} == {
        (3, "手机号", "invalid"),
        (5, "手机号", "duplicate"),
    }
    assert sorted(contact_numbers(api, cid)) == [
        "+8613700000005",
        "+8613800000001",
        "+8613800000003",
    ]

    report = api.http.get(done["report_url"])
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0] == ["row", "column", "field", "reason", "type"]
    assert [(r[0], r[1], r[4]) for r in rows[1:]] == [
        ("3", "手机号", "invalid"),
        ("5", "手机号", "duplicate"),
    ]
    # the custom column is kept as an attribute, the spare phone as the second phone
    first = api.ok(api.get(f"/campaigns/{cid}/contacts", external_id="A1"))["items"][0]
    assert first["attributes"] == {"城市": "杭州"} and len(first["phones"]) == 2


def test_an_uploaded_xlsx_with_a_mapping(api: Api, tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "roster.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["联系号", "称呼"])
    sheet.write_number(1, 0, 13800000011)  # a number stored as a number
    sheet.write_string(1, 1, "张三")
    sheet.write_string(2, 0, "13800000012")  # and one stored as text
    book.close()
    cid = campaign(api)
    mapping = json.dumps({"联系号": "phone", "称呼": "name"}, ensure_ascii=False)
    job = api.ok(
        api.upload(f"/campaigns/{cid}/imports", "roster.xlsx", path.read_bytes(), mapping=mapping),
        202,
    )
    done = finished(api, job)
    assert done["state"] == "succeeded", done
    assert done["progress"]["accepted"] == 2 and done["progress"]["rows_total"] == 2
    assert sorted(contact_numbers(api, cid)) == ["+8613800000011", "+8613800000012"]


def test_a_file_over_the_cap_fails_and_imports_nothing(new_tenant: Any) -> None:
    api = new_tenant(max_contacts_per_campaign=2)
    cid = campaign(api)
    done = finished(api, api.ok(api.upload(f"/campaigns/{cid}/imports", "a.csv", gbk(ROSTER)), 202))
    assert done["state"] == "failed"
    assert done["error"]["code"] == "limit_exceeded"
    assert [d["field"] for d in done["error"]["details"]] == ["file"]
    assert done["report_url"] is None
    assert contact_numbers(api, cid) == []


def test_an_unreadable_file_fails_with_the_file_named(api: Api) -> None:
    cid = campaign(api)
    job = api.ok(api.upload(f"/campaigns/{cid}/imports", "x.xlsx", b"PK\x03\x04broken"), 202)
    done = finished(api, job)
    assert done["state"] == "failed" and done["error"]["code"] == "validation_error"
    assert done["error"]["details"][0]["field"] == "file"
    assert contact_numbers(api, cid) == []


@pytest.mark.parametrize(
    ("mapping", "field"),
    [("{not json", "mapping"), ('["a"]', "mapping"), ('{"a": 3}', "mapping.a")],
)
def test_a_bad_mapping_is_a_field_error_and_queues_nothing(
    api: Api, mapping: str, field: str
) -> None:
    cid = campaign(api)
    before = job_count(api)
    invalid(api.upload(f"/campaigns/{cid}/imports", "a.csv", gbk(ROSTER), mapping=mapping), field)
    assert job_count(api) == before


def test_an_upload_without_a_file_is_a_field_error(api: Api) -> None:
    cid = campaign(api)
    resp = api.http.post(f"/campaigns/{cid}/imports", data={"mapping": "{}"})
    invalid(resp, "file")
    assert job_count(api) == 0


def test_imports_into_a_missing_or_closed_campaign_are_refused(api: Api) -> None:
    resp = api.upload("/campaigns/987654321/imports", "a.csv", gbk(ROSTER))
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    cid = campaign(api)
    api.ok(api.post(f"/campaigns/{cid}/cancel"))
    resp = api.upload(f"/campaigns/{cid}/imports", "a.csv", gbk(ROSTER))
    assert resp.status_code == 409, resp.text
    assert job_count(api) == 0


def test_a_file_over_the_size_limit_is_refused(api: Api, monkeypatch: Any) -> None:
    monkeypatch.setattr(limits, "IMPORT_BYTES_MAX", 64)
    cid = campaign(api)
    resp = api.upload(f"/campaigns/{cid}/imports", "a.csv", gbk(ROSTER))
    assert resp.status_code == 422 and resp.json()["code"] == "limit_exceeded"
    assert fields(resp) == {"file"}
    assert job_count(api) == 0


def test_jobs_are_the_tenants_own(new_tenant: Any) -> None:
    owner, other = new_tenant(), new_tenant()
    cid = campaign(owner)
    job = finished(
        owner, owner.ok(owner.upload(f"/campaigns/{cid}/imports", "a.csv", gbk(ROSTER)), 202)
    )
    for path in (f"/jobs/{job['id']}", f"/jobs/{job['id']}/report"):
        assert other.get(path).status_code == 404
    assert other.post(f"/jobs/{job['id']}/cancel").status_code == 404
    assert other.ok(other.get("/jobs"))["total"] == 0
    listed = owner.ok(owner.get("/jobs", kind="contact_import", state="succeeded"))
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    invalid(owner.get("/jobs", state="done"), "state")
    invalid(owner.get("/jobs", campaign_id="x"), "campaign_id")
    invalid(owner.get("/jobs", colour="red"), "colour")


def test_a_finished_job_cannot_be_cancelled(api: Api) -> None:
    cid = campaign(api)
    job = finished(api, api.ok(api.upload(f"/campaigns/{cid}/imports", "a.csv", gbk(ROSTER)), 202))
    resp = api.post(f"/jobs/{job['id']}/cancel")
    assert resp.status_code == 409 and resp.json()["state"] == "succeeded"


# --- export -----------------------------------------------------------------------------------


def _export(api: Api, cid: int, **body: Any) -> dict[str, Any]:
    job = api.ok(api.post(f"/campaigns/{cid}/exports", body), 202)
    assert job["kind"] == "export" and job["download_url"] is None
    done = finished(api, job)
    assert done["state"] == "succeeded", done
    return done


def _filled(api: Api, server: tuple[str, Services]) -> tuple[int, list[dict[str, Any]]]:
    cid = campaign(api, timezone="Asia/Shanghai")
    finished(api, api.ok(api.upload(f"/campaigns/{cid}/imports", "a.csv", gbk(ROSTER)), 202))
    contacts = api.ok(api.get(f"/campaigns/{cid}/contacts"))["items"]
    with server[1].store.write() as conn:
        for contact in contacts:
            conn.execute(ended_attempt(api, cid, contact, talk_seconds=12.5))
    return cid, contacts


def test_contacts_export_to_csv_downloads_with_its_signed_link(
    api: Api, anonymous: Api, server: tuple[str, Services]
) -> None:
    cid, contacts = _filled(api, server)
    done = _export(api, cid)
    assert done["result"]["rows"] == 3 and done["progress"]["percent"] == 100.0
    assert done["file_name"] == f"campaign-{cid}-contacts.csv"

    resp = httpx2.get(done["download_url"])  # no API key
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert [r["phone"] for r in rows] == [c["phones"][0]["number"] for c in contacts]
    first = rows[0]
    assert (first["external_id"], first["name"], first["other_phones"]) == (
        "A1",
        "张三",
        "+8613900000001",
    )
    assert first["attributes"] == "城市=杭州" and first["notes"] == "老客户"
    with_key = api.http.get(f"/jobs/{done['id']}/file")
    assert with_key.status_code == 200 and with_key.content == resp.content

    tampered = done["download_url"].replace("signature=", "signature=0")
    assert httpx2.get(tampered).status_code == 403
    other_file = done["download_url"].replace("contacts.csv", "attempts.csv")
    assert httpx2.get(other_file).status_code == 403


def test_attempts_export_to_xlsx_with_chinese_headers(
    api: Api, server: tuple[str, Services], tmp_path: Path
) -> None:
    cid, contacts = _filled(api, server)
    done = _export(api, cid, subject="attempts", format="xlsx", language="zh")
    assert done["file_name"].endswith("attempts.xlsx")
    resp = httpx2.get(done["download_url"])
    assert resp.headers["content-type"].startswith("application/vnd.openxmlformats")
    path = tmp_path / "a.xlsx"
    path.write_bytes(resp.content)
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    header, body = sheet[0], sheet[1:]
    assert header[:5] == ["呼叫ID", "联系人ID", "客户编号", "姓名", "被叫号码"]
    assert len(body) == 3
    by_number = {row[4]: row for row in body}
    assert set(by_number) == {c["phones"][0]["number"] for c in contacts}
    talk = header.index("通话时长(秒)")
    outcome = header.index("结果")
    assert {row[talk] for row in body} == {12.5}
    assert {row[outcome] for row in body} == {"no_answer"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "calls"}, "subject"),
        ({"format": "pdf"}, "format"),
        ({"language": "fr"}, "language"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_export_requests_are_field_errors(api: Api, body: dict[str, Any], field: str) -> None:
    cid = campaign(api)
    invalid(api.post(f"/campaigns/{cid}/exports", body), field)
    assert job_count(api) == 0


def test_export_of_a_missing_campaign_is_not_found(api: Api) -> None:
    resp = api.post("/campaigns/987654321/exports", {})
    assert resp.status_code == 404
    assert job_count(api) == 0


# --- DNC uploads ------------------------------------------------------------------------------

DNC_FILE = [
    ["手机号", "备注"],
    ["13800000001", "投诉"],
    ["13800000002", ""],
    ["abc", "bad"],
    ["13800000001", "twice"],
]


def test_a_dnc_file_lists_its_numbers_and_import_then_refuses_them(api: Api) -> None:
    job = api.ok(api.upload("/dnc/imports", "dnc.csv", gbk(DNC_FILE), reason="uploaded"), 202)
    done = finished(api, job)
    assert done["state"] == "succeeded", done
    result = done["result"]
    assert (result["listed"], result["already_listed"], result["rejected"]) == (2, 0, 1)
    assert [(p["row"], p["column"]) for p in result["problems"]] == [(4, "手机号")]
    entries = {e["number"]: e for e in api.ok(api.get("/dnc"))["items"]}
    assert entries["+8613800000001"]["reason"] == "投诉"
    assert entries["+8613800000002"]["reason"] == "uploaded"
    assert {e["source"] for e in entries.values()} == {"upload"}

    again = finished(api, api.ok(api.upload("/dnc/imports", "dnc.csv", gbk(DNC_FILE)), 202))
    assert (again["result"]["listed"], again["result"]["already_listed"]) == (0, 2)

    cid = campaign(api)
    imported = finished(
        api, api.ok(api.upload(f"/campaigns/{cid}/imports", "a.csv", gbk(ROSTER)), 202)
    )
    assert {p["type"] for p in imported["result"]["problems"]} >= {"dnc"}
    assert "+8613800000001" not in contact_numbers(api, cid)


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),  # no zone
        ({"source": "x" * 33}, "source"),
        ({"reason": "x" * 201}, "reason"),
        ({"mapping": "{"}, "mapping"),
    ],
)
def test_bad_dnc_upload_options_are_field_errors(
    api: Api, form: dict[str, str], field: str
) -> None:
    invalid(api.upload("/dnc/imports", "dnc.csv", gbk(DNC_FILE), **form), field)
    assert job_count(api) == 0 and api.ok(api.get("/dnc"))["total"] == 0


def test_the_operators_list_holds_for_every_tenant(admin: Api, new_tenant: Any) -> None:
    number = f"1370{time.time_ns() % 10**7:07d}"
    entry = admin.ok(admin.post("/admin/dnc", {"number": number, "reason": "regulator"}), 201)
    assert entry["tenant_id"] is None and entry["number"] == f"+86{number}"
    try:
        tenant = new_tenant()
        cid = campaign(tenant)
        resp = tenant.post(
            f"/campaigns/{cid}/contacts", {"contacts": [{"phones": [{"number": number}]}]}
        )
        report = tenant.ok(resp)
        assert report["results"][0]["errors"][0]["type"] == "dnc"
        assert tenant.get("/admin/dnc").status_code == 401  # a tenant key is not the admin's
        assert number not in str(tenant.ok(tenant.get("/dnc")))  # not on the tenant's own list
    finally:
        admin.ok(admin.delete(f"/admin/dnc/{entry['id']}"), 204)


def test_the_operator_uploads_a_dnc_file(admin: Api) -> None:
    numbers = [f"1360{time.time_ns() % 10**7 + k:07d}" for k in range(3)]
    content = "\n".join(numbers).encode()  # no header at all
    job = admin.ok(admin.upload("/admin/dnc/imports", "dnc.txt", content), 202)
    assert job["tenant_id"] is None
    done = finished(admin, job, base="/admin/jobs")
    assert done["state"] == "succeeded" and done["result"]["listed"] == 3, done
    listed = admin.ok(admin.get("/admin/dnc", source="upload", page_size=500))["items"]
    mine = [e for e in listed if e["number"][3:] in numbers]
    assert len(mine) == 3
    for e in mine:
        admin.ok(admin.delete(f"/admin/dnc/{e['id']}"), 204)
    report = admin.http.get(done["report_url"])
    assert report.status_code == 200
