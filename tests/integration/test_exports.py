"""Exports write times in the campaign's zone, the same whichever way they are computed (the
database's formatting, SQLite's fixed shift, or Python's zone rules), on both stores."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from outdial.services import exports
from outdial.services.common import PageRequest, Tenant
from outdial.services.container import Services
from outdial.services.exports import ATTEMPT_COLUMNS, ExportRequest
from outdial.services.models import CampaignIn, ContactAppendIn, TenantIn
from outdial.store.schema import attempts, contacts

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


# --- the attempts' CSV made by the database is csv.writer's, byte for byte -------------------

NAMES = ["张三", "Zhang, San", 'say "hi"', "two\nlines", "cr\rhere", "", "a\r\nb", ",", '"']
CAUSES = ["NORMAL_CLEARING", "486 Busy Here, really", 'q"uote', "", "USER_BUSY"]
TALKS = [0.0, 51.0, 51.234567, 0.1 + 0.2, 1e-4, 123456.789, 7.5, 1e14 + 0.5, 2.0 / 3.0]


def awkward_ledger(services: Services, zone: str) -> tuple[Tenant, int]:
    """Contacts and attempts holding every value CSV must quote, empty strings and NULLs,
    floats whose digits are hard to print, times at .9996 of a second and across a change
    of the zone's offset."""
    tenant = Tenant.from_row(services.tenants.create(TenantIn(name="t")))
    campaign = services.campaigns.create(tenant, CampaignIn(name="c", timezone=zone))["id"]
    people = [{"name": f"p{k}", "phones": [{"number": f"1380000{k:04d}"}]} for k in range(9)]
    services.contacts.append(tenant, campaign, ContactAppendIn(contacts=people))
    listed = services.contacts.list(tenant, campaign, PageRequest(page_size=100), {}).items
    start = datetime(2026, 10, 30, 23, 59, 59, 999600, tzinfo=UTC)
    with services.store.write() as conn:
        for k, person in enumerate(listed):
            conn.execute(
                contacts.update()
                .where(contacts.c.id == person["id"])
                .values(name=NAMES[k % len(NAMES)], external_id=[None, "", "E,1", "E2"][k % 4])
            )
        for n in range(60):
            person = listed[n % len(listed)]
            at = start + timedelta(hours=7 * n, microseconds=n)
            conn.execute(
                attempts.insert().values(
                    uuid=f"00000000-0000-4000-8000-{n:012d}",
                    tenant_id=tenant.id,
                    campaign_id=campaign,
                    contact_id=person["id"],
                    phone_id=person["phones"][0]["id"],
                    number=person["phones"][0]["number"],
                    caller_number=["95187", "", "9,5"][n % 3],
                    worker_id="test",
                    created_at=at,
                    ringing_at=None if n % 4 == 0 else at + timedelta(seconds=2),
                    answered_at=at + timedelta(seconds=8) if n % 2 else None,
                    ended_at=at + timedelta(seconds=60, microseconds=999_999),
                    outcome=None if n % 5 == 0 else "answered",
                    native_cause=CAUSES[n % len(CAUSES)],
                    talk_seconds=TALKS[n % len(TALKS)],
                    abandoned=n % 7 == 0,
                    transfer_result=None if n % 3 else "connected",
                    data={},
                )
            )
    return tenant, campaign


def as_csv_writer_writes(services: Services, campaign: int, zone: str) -> bytes:
    """The export as the attempts' values read by Python and written by csv.writer."""
    local = ZoneInfo(zone)
    times = ("created_at", "ringing_at", "answered_at", "connected_at", "ended_at")
    query = (
        select(attempts, contacts.c.external_id, contacts.c.name)
        .join(contacts, contacts.c.id == attempts.c.contact_id)
        .where(attempts.c.campaign_id == campaign)
        .order_by(attempts.c.id)
    )
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([c.en for c in ATTEMPT_COLUMNS])
    with services.store.read() as conn:
        for row in conn.execute(query).mappings():
            values = dict(row)
            for key in times:
                if values[key] is not None:
                    values[key] = values[key].astimezone(local).replace(tzinfo=None, microsecond=0)
            values["abandoned"] = int(values["abandoned"])
            writer.writerow([values[c.key] for c in ATTEMPT_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode()


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "America/New_York"])
def test_attempts_csv_is_byte_for_byte_what_csv_writer_writes(
    services: Services, tmp_path: Path, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "BATCH", 7)  # batches with and without values to quote
    tenant, campaign = awkward_ledger(services, zone)
    path = tmp_path / "a.csv"
    result = services.exports.run(tenant, campaign, ExportRequest("attempts", "csv"), path)
    assert result["rows"] == 60
    assert path.read_bytes() == as_csv_writer_writes(services, campaign, zone)


def test_attempts_csv_of_plain_values_is_byte_for_byte_too(
    services: Services, tmp_path: Path
) -> None:
    """Every batch plain: the lines go out exactly as the database made them."""
    tenant, campaign = ledger(services, "Asia/Shanghai")
    path = tmp_path / "a.csv"
    services.exports.run(tenant, campaign, ExportRequest("attempts", "csv"), path)
    assert path.read_bytes() == as_csv_writer_writes(services, campaign, "Asia/Shanghai")


@pytest.mark.parametrize("talk", [1e16, 5e-05, float("inf")])
def test_attempts_csv_with_a_float_printed_otherwise_is_byte_for_byte_too(
    services: Services, tmp_path: Path, talk: float
) -> None:
    """Talk times PostgreSQL prints unlike repr() (1e+16, …) take the rows through Python."""
    tenant, campaign = ledger(services, "Asia/Shanghai")
    with services.store.write() as conn:
        first = conn.scalar(select(attempts.c.id).where(attempts.c.campaign_id == campaign))
        conn.execute(attempts.update().where(attempts.c.id == first).values(talk_seconds=talk))
    path = tmp_path / "a.csv"
    services.exports.run(tenant, campaign, ExportRequest("attempts", "csv"), path)
    assert path.read_bytes() == as_csv_writer_writes(services, campaign, "Asia/Shanghai")
