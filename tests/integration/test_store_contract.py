"""The store contract, run against real SQLite and real PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from outdial.domain.errors import LimitExceeded
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import CampaignIn, ContactAppendIn, TenantIn
from outdial.store.repo import TenantTable
from outdial.store.schema import campaigns, contacts, dnc_entries, lines, tenants
from outdial.store.store import Store

NOW = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)


def _tenant(store: Store, name: str) -> int:
    with store.write() as conn:
        return int(
            conn.scalar(
                insert(tenants)
                .values(
                    uuid=name,
                    name=name,
                    status="active",
                    default_region="CN",
                    timezone="Asia/Shanghai",
                    max_contacts_per_campaign=20000,
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(tenants.c.id)
            )
        )


def _line(tenant_id: int, name: str = "l1", **extra: Any) -> dict[str, Any]:
    return {
        "uuid": f"{tenant_id}-{name}",
        "tenant_id": tenant_id,
        "name": name,
        "description": "",
        "driver": "sim",
        "channels": 3,
        "caller_numbers": [],
        "settings": {},
        "enabled": True,
        "created_at": NOW,
        "updated_at": NOW,
        **extra,
    }


def test_write_commits_and_errors_roll_back(store: Store) -> None:
    t = _tenant(store, "a")
    repo = TenantTable(lines)
    with pytest.raises(RuntimeError), store.write() as conn:
        repo.insert(conn, _line(t))
        raise RuntimeError("boom")
    with store.read() as conn:
        assert repo.page(conn, t, [], 0, 10) == ([], 0)
    with store.write() as conn:
        repo.insert(conn, _line(t))
    with store.read() as conn:
        assert repo.page(conn, t, [], 0, 10)[1] == 1


def test_rows_are_scoped_by_tenant(store: Store) -> None:
    a, b = _tenant(store, "a"), _tenant(store, "b")
    repo = TenantTable(lines)
    with store.write() as conn:
        row = repo.insert(conn, _line(a))
    with store.write() as conn:
        assert repo.get(conn, b, row["id"]) is None
        assert repo.update(conn, b, row["id"], {"name": "x"}) is None
        assert repo.delete(conn, b, row["id"]) is False
        assert repo.existing_ids(conn, b, [row["id"]]) == set()
        assert repo.page(conn, b, [], 0, 10) == ([], 0)
        assert repo.get(conn, a, row["id"])["name"] == "l1"  # type: ignore[index]
        assert repo.name_taken(conn, a, "l1") and not repo.name_taken(conn, b, "l1")
        assert not repo.name_taken(conn, a, "l1", exclude_id=row["id"])


def test_paging_is_ordered_and_counted(store: Store) -> None:
    t = _tenant(store, "a")
    repo = TenantTable(lines)
    with store.write() as conn:
        for i in range(7):
            repo.insert(conn, _line(t, f"l{i}"))
    with store.read() as conn:
        first, total = repo.page(conn, t, [], 0, 3)
        last, _ = repo.page(conn, t, [], 6, 3)
        filtered, n = repo.page(conn, t, [lines.c.name == "l4"], 0, 3)
    assert total == 7 and [r["name"] for r in first] == ["l0", "l1", "l2"]
    assert [r["name"] for r in last] == ["l6"]
    assert n == 1 and filtered[0]["name"] == "l4"


def test_times_are_aware_utc_and_json_keeps_unicode(store: Store) -> None:
    t = _tenant(store, "a")
    shanghai = timezone(timedelta(hours=8))
    expires = datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=shanghai)
    numbers = [{"number": "95187", "region": "杭州", "enabled": True}]
    with store.write() as conn:
        row = TenantTable(lines).insert(conn, _line(t, caller_numbers=numbers, expires_at=expires))
    assert row["expires_at"] == expires and row["expires_at"].tzinfo == UTC
    assert row["caller_numbers"] == numbers
    with pytest.raises(Exception, match="naive"), store.write() as conn:
        TenantTable(lines).insert(conn, _line(t, "l2", expires_at=datetime(2026, 1, 1)))


def test_unique_constraints_hold(store: Store) -> None:
    t = _tenant(store, "a")
    with pytest.raises(IntegrityError), store.write() as conn:
        TenantTable(lines).insert(conn, _line(t))
        TenantTable(lines).insert(conn, _line(t, uuid="other"))


def test_global_dnc_numbers_are_unique_too(store: Store) -> None:
    row = {
        "number": "+8613800000001",
        "reason": "",
        "source": "api",
        "created_at": NOW,
        "updated_at": NOW,
    }
    with store.write() as conn:
        conn.execute(insert(dnc_entries).values(tenant_id=None, **row))
    with pytest.raises(IntegrityError), store.write() as conn:
        conn.execute(insert(dnc_entries).values(tenant_id=None, **row))


def test_deleting_a_tenant_removes_what_it_owns(services: Services, store: Store) -> None:
    made = services.tenants.create(TenantIn(name="gone"))
    tenant = Tenant.from_row(made)
    line = services.lines.create(
        tenant,
        services.lines.kind.model.model_validate(
            {"name": "l", "channels": 2, "caller_numbers": [{"number": "95187"}]}
        ),
    )
    campaign = services.campaigns.create(tenant, CampaignIn(name="c", line_id=line["id"]))
    services.contacts.append(
        tenant, campaign["id"], ContactAppendIn(contacts=[{"phones": [{"number": "13800000001"}]}])
    )
    services.tenants.delete(tenant.id)
    with store.read() as conn:
        for table in (campaigns, contacts, lines):
            assert conn.scalar(select(func.count()).select_from(table)) == 0


def test_readers_do_not_block_each_other_or_the_writer(store: Store) -> None:
    t = _tenant(store, "a")
    with store.read() as r1, store.read() as r2:
        assert r1.scalar(select(func.count()).select_from(lines)) == 0
        with store.write() as w:
            TenantTable(lines).insert(w, _line(t))
        assert r2.scalar(select(func.count()).select_from(lines)) in (0, 1)


def test_concurrent_appends_never_exceed_the_campaign_cap(services: Services) -> None:
    """Appends to one campaign serialise, so the cap check cannot race (guarantee 8)."""
    made = services.tenants.create(TenantIn(name="capped", max_contacts_per_campaign=50))
    tenant = Tenant.from_row(made)
    campaign = services.campaigns.create(tenant, CampaignIn(name="c"))
    outcomes: list[str] = []

    def append(worker: int) -> None:
        rows = [{"phones": [{"number": f"1380000{worker:02d}{i:02d}"}]} for i in range(20)]
        try:
            services.contacts.append(tenant, campaign["id"], ContactAppendIn(contacts=rows))
            outcomes.append("ok")
        except LimitExceeded:
            outcomes.append("full")

    threads = [threading.Thread(target=append, args=(w,)) for w in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    stats = services.campaigns.stats(tenant, campaign["id"])
    assert outcomes.count("ok") == 2 and outcomes.count("full") == 4
    assert stats["contacts"]["total"] == 40


def test_contact_numbers_are_unique_per_campaign(store: Store, services: Services) -> None:
    tenant = Tenant.from_row(services.tenants.create(TenantIn(name="u")))
    campaign = services.campaigns.create(tenant, CampaignIn(name="c"))
    services.contacts.append(
        tenant, campaign["id"], ContactAppendIn(contacts=[{"phones": [{"number": "13800000001"}]}])
    )
    with store.read() as conn:
        row = dict(conn.execute(select(contacts)).one()._mapping)
    row.pop("id")
    row["uuid"] = "another"
    with pytest.raises(IntegrityError), store.write() as conn:
        conn.execute(insert(contacts).values(**row))
    with store.write() as conn:
        conn.execute(delete(contacts))
