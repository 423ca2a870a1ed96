"""`outdial export` and `outdial dnc import` as a user runs them: real subprocesses on a real
data directory; what they write is read back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from outdial.runtime import open_runtime
from outdial.services.common import Tenant
from outdial.services.models import CampaignIn, ContactAppendIn, TenantIn
from outdial.services.validation import validate
from outdial.settings import load_settings
from tests.e2e.processes import ok, run


@pytest.fixture
def filled(tmp_path: Path) -> tuple[Path, int, int]:
    """A data dir with a tenant and a campaign of 30 contacts: (data dir, tenant, campaign)."""
    data = tmp_path / "data"
    runtime = open_runtime(load_settings(data, env={}))
    try:
        services = runtime.services
        tenant = Tenant.from_row(services.tenants.create(validate(TenantIn, {"name": "acme"})))
        made = services.campaigns.create(tenant, validate(CampaignIn, {"name": "renewals"}))
        rows = [{"name": f"客户{i}", "phones": [{"number": f"138{i:08d}"}]} for i in range(30)]
        services.contacts.append(tenant, made["id"], ContactAppendIn(contacts=rows))
    finally:
        runtime.store.close()
    return data, tenant.id, int(made["id"])


def test_export_contacts_to_csv_and_xlsx(filled: tuple[Path, int, int], tmp_path: Path) -> None:
    data, _, campaign = filled
    out = ok("export", str(campaign), str(tmp_path / "c.csv"), "-d", str(data))
    assert "30 contacts" in " ".join(out.split())
    with (tmp_path / "c.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["phone"] for r in rows[:2]] == ["+8613800000000", "+8613800000001"]
    assert rows[0]["name"] == "客户0" and rows[0]["state"] == "pending"

    xlsx = tmp_path / "a.xlsx"
    ok("export", str(campaign), str(xlsx), "-d", str(data), "--subject", "attempts", "--lang", "zh")
    sheet = CalamineWorkbook.from_path(str(xlsx)).get_sheet_by_index(0).to_python()
    assert sheet[0][0] == "呼叫ID" and len(sheet) == 1  # no attempts yet: the header alone


def test_export_refuses_bad_options_by_name(filled: tuple[Path, int, int], tmp_path: Path) -> None:
    data, _, campaign = filled
    bad = run("export", str(campaign), str(tmp_path / "c.pdf"), "-d", str(data))
    assert bad.returncode == 2 and "--format" in bad.stderr
    bad = run("export", str(campaign), str(tmp_path / "c.csv"), "-d", str(data), "--lang", "fr")
    assert bad.returncode == 2 and "--language" in bad.stderr
    missing = run("export", "999", str(tmp_path / "c.csv"), "-d", str(data))
    assert missing.returncode == 2 and "campaign 999 not found" in missing.stderr
    assert not (tmp_path / "c.csv").exists()


def test_dnc_import_lists_numbers_for_a_tenant_and_for_everyone(
    filled: tuple[Path, int, int], tmp_path: Path
) -> None:
    data, tenant, _ = filled
    file = tmp_path / "dnc.csv"
    file.write_bytes("手机号,备注\n13900000001,投诉\n13900000002,\n不是号码,\n".encode("gbk"))
    out = ok("dnc", "import", str(file), "-d", str(data), "--tenant", str(tenant))
    assert "2 listed" in out and "1 rejected" in out and f"tenant {tenant}'s list" in out
    body = json.loads(ok("dnc", "import", str(file), "-d", str(data), "--json"))
    assert (body["listed"], body["already_listed"], body["rejected"]) == (2, 0, 1)
    assert body["problems"][0]["row"] == 4
    again = json.loads(ok("dnc", "import", str(file), "-d", str(data), "--json"))
    assert (again["listed"], again["already_listed"]) == (0, 2)
    bad = run("dnc", "import", str(file), "-d", str(data), "--source", "")
    assert bad.returncode == 2 and "--source" in bad.stderr
