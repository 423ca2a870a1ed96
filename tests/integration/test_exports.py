"""Exports write times in the campaign's zone, the same whichever way they are computed (the
database's formatting, SQLite's fixed shift, or Python's zone rules), on both stores."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from python_calamine import CalamineWorkbook

from outdial.services.common import PageRequest, Tenant
from outdial.services.container import Services
from outdial.services.exports import ExportRequest
from outdial.services.models import CampaignIn, ContactAppendIn, TenantIn
from outdial.store.schema import attempts

# a day before and a day after New York's clocks went back (2026-11-01 06:00 UTC)
TIMES = [
    datetime(2026, 10, 31, 15, 0, 5, 123456, tzinfo=UTC),
    datetime(2026, 11, 2, 15, 0, 5, tzinfo=UTC),
]


def ledger(services: Services, zone: str) -> tuple[Tenant, int]:
    tenant = Tenant.from_row(services.tenants.create(TenantIn(name="t")))
    campaign = services.campaigns.create(tenant, CampaignIn(name="c", timezone=zone))["id"]
    body = ContactAppendIn(contacts=[{"name": "张三", "phones": [{"number": "13800000001"}]}])
    services.contacts.append(tenant, campaign, body)
    contact = services.contacts.list(tenant, campaign, PageRequest(), {}).items[0]
    with services.store.write() as conn:
        for at in TIMES:
            conn.execute(
                attempts.insert().values(
                    uuid=f"00000000-0000-4000-8000-{int(at.timestamp()):012d}",
                    tenant_id=tenant.id,
                    campaign_id=campaign,
                    contact_id=contact["id"],
                    phone_id=contact["phones"][0]["id"],
                    number="+8613800000001",
                    caller_number="95187",
                    worker_id="test",
                    created_at=at,
                    answered_at=at + timedelta(seconds=8),
                    ended_at=at + timedelta(seconds=60),
                    outcome="answered",
                    native_cause="NORMAL_CLEARING",
                    talk_seconds=52.0,
                    abandoned=False,
                    data={},
                )
            )
    return tenant, campaign


def local(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "UTC"])
def test_csv_times_are_local_to_the_campaign(services: Services, tmp_path: Path, zone: str) -> None:
    tenant, campaign = ledger(services, zone)
    path = tmp_path / "a.csv"
    services.exports.run(tenant, campaign, ExportRequest("attempts", "csv"), path)
    with path.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["dialed_at"] for r in rows] == [local(t, zone) for t in TIMES]
    assert [r["ended_at"] for r in rows] == [local(t + timedelta(seconds=60), zone) for t in TIMES]
    assert [r["ringing_at"] for r in rows] == ["", ""]  # no time: an empty cell
    assert {r["abandoned"] for r in rows} == {"0"} and {r["talk_seconds"] for r in rows} == {"52.0"}
    assert {r["name"] for r in rows} == {"张三"}


def test_xlsx_times_are_excel_dates_in_the_campaigns_zone(
    services: Services, tmp_path: Path
) -> None:
    zone = "America/New_York"
    tenant, campaign = ledger(services, zone)
    path = tmp_path / "a.xlsx"
    services.exports.run(tenant, campaign, ExportRequest("attempts", "xlsx"), path)
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    dialed = sheet[0].index("dialed_at")
    assert [row[dialed] for row in sheet[1:]] == [
        t.astimezone(ZoneInfo(zone)).replace(tzinfo=None, microsecond=0) for t in TIMES
    ]


def test_the_result_counts_the_rows_and_bytes(services: Services, tmp_path: Path) -> None:
    tenant, campaign = ledger(services, "UTC")
    path = tmp_path / "a.csv"
    result = services.exports.run(tenant, campaign, ExportRequest("attempts", "csv"), path)
    assert result["rows"] == 2 and result["bytes"] == path.stat().st_size
