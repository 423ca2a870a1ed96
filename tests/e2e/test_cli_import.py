"""`outdial import` as a user runs it: a real subprocess on a real data directory and file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from outdial.runtime import open_runtime
from outdial.services.common import Tenant
from outdial.services.models import CampaignIn, TenantIn
from outdial.services.validation import validate
from outdial.settings import load_settings
from tests.e2e.processes import ok, run


@pytest.fixture
def campaign(tmp_path: Path) -> tuple[Path, int]:
    data = tmp_path / "data"
    runtime = open_runtime(load_settings(data, env={}))
    try:
        services = runtime.services
        tenant = Tenant.from_row(services.tenants.create(validate(TenantIn, {"name": "acme"})))
        made = services.campaigns.create(tenant, validate(CampaignIn, {"name": "renewals"}))
    finally:
        runtime.store.close()
    return data, int(made["id"])


def roster(path: Path, rows: int) -> Path:
    lines = ["客户,联系号,备注"] + [f"客户{i},138{i:08d},第{i}行" for i in range(rows)]
    lines.insert(3, "坏行,不是号码,")
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    return path


def test_import_prints_a_summary_and_writes_the_report(
    campaign: tuple[Path, int], tmp_path: Path
) -> None:
    data, campaign_id = campaign
    file = roster(tmp_path / "名单.csv", 50)
    report = tmp_path / "report.csv"
    out = ok(
        "import", str(campaign_id), str(file), "--data-dir", str(data),
        "--map", "联系号=phone", "--report", str(report),
    )  # fmt: skip
    assert "51 rows read, 50 accepted, 1 rejected, 0 empty" in out
    assert "the campaign holds 50 contacts" in " ".join(out.split())
    assert "row 4 联系号:" in out
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "row,column,field,reason,type" and lines[1].startswith("4,联系号,")


def test_import_json(campaign: tuple[Path, int], tmp_path: Path) -> None:
    data, campaign_id = campaign
    file = roster(tmp_path / "r.csv", 5)
    out = ok("import", str(campaign_id), str(file), "-d", str(data), "--map", "2=phone", "--json")
    body = json.loads(out)
    assert (body["accepted"], body["rejected"], body["format"]) == (5, 1, "csv"), body["problems"]
    assert body["columns"][1] == {"column": 2, "header": "联系号", "role": "phone"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "联系号"], "--map: '联系号' is not COLUMN=ROLE"),
        (["--map", "手机=phone"], "mapping.手机: no column '手机' in the file"),
        ([], "mapping: no phone column"),
    ],
)
def test_import_errors_name_the_field_and_change_nothing(
    campaign: tuple[Path, int], tmp_path: Path, args: list[str], message: str
) -> None:
    data, campaign_id = campaign
    file = roster(tmp_path / "r.csv", 5)
    done = run("import", str(campaign_id), str(file), "-d", str(data), *args)
    assert done.returncode == 2 and message in done.stderr
    body = json.loads(ok("import", str(campaign_id), str(file), "-d", str(data), "--map",
                         "2=phone", "--json"))  # fmt: skip
    assert body["total_contacts"] == 5  # nothing was imported by the failed runs
