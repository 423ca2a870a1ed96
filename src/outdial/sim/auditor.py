"""Checks DESIGN.md's guarantees 1–6 on a finished campaign from the raw ledger rows.

Written apart from the engine's rules: it reads each attempt's local wall-clock time and the
campaign settings and recomputes windows, blackouts, caps, intervals, redial allowances and
concurrency itself, so a wrong engine rule cannot certify itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as pn_timezone
from sqlalchemy import Connection, select

from outdial.services.stats import campaign_stats
from outdial.store.schema import (
    attempts,
    blackout_calendars,
    campaigns,
    contact_phones,
    contacts,
    dnc_entries,
    lines,
    redial_policies,
)
from outdial.store.store import Store

TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Check:
    name: str
    violations: int = 0
    examples: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        self.violations += 1
        if len(self.examples) < 5:
            self.examples.append(what)

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.violations == 0,
            "violations": self.violations,
            "examples": self.examples,
        }


@dataclass
class Audit:
    checks: dict[str, Check]
    peak_concurrency: int
    attempts_by_outcome: dict[str, int]
    contacts_by_state: dict[str, int]

    @property
    def passed(self) -> bool:
        return all(c.violations == 0 for c in self.checks.values())


def audit(store: Store, campaign_id: int) -> Audit:
    with store.read() as conn:
        rows = _load(conn, campaign_id)
        stats = campaign_stats(conn, campaign_id)
    camp = rows["campaign"]
    checks = {
        "1_calling_hours": Check("no call outside the period, the windows or a blackout"),
        "2_number_limits": Check("daily cap, minimum interval and redial counts per number"),
        "3_concurrency": Check("concurrent calls within the campaign and line limits"),
        "4_dnc": Check("no DNC number dialed"),
        "5_contacts": Check("every contact terminal, or pending with a reason and a time"),
        "6_statistics": Check("reported statistics equal the ledger"),
    }
    for a in rows["attempts"]:
        _calling_hours(
            camp, rows["calendar"], rows["contacts"][a["contact_id"]], a, checks["1_calling_hours"]
        )
    _number_limits(camp, rows, checks["2_number_limits"])
    peak = _concurrency(camp, rows["line"], rows["attempts"], checks["3_concurrency"])
    _agents_one_call_each(rows["attempts"], checks["3_concurrency"])
    _dnc(rows["attempts"], rows["dnc"], checks["4_dnc"])
    _contacts(camp, rows, checks["5_contacts"])
    _statistics(rows, stats, checks["6_statistics"])
    return Audit(
        checks=checks,
        peak_concurrency=peak,
        attempts_by_outcome=dict(Counter(a["outcome"] or "open" for a in rows["attempts"])),
        contacts_by_state=dict(Counter(c["state"] for c in rows["contacts"].values())),
    )


def _load(conn: Connection, campaign_id: int) -> dict[str, Any]:
    def one(table: Any, row_id: Any) -> dict[str, Any] | None:
        if row_id is None:
            return None
        return dict(conn.execute(select(table).where(table.c.id == row_id)).one()._mapping)

    camp = one(campaigns, campaign_id)
    assert camp is not None
    found = conn.execute(select(contacts).where(contacts.c.campaign_id == campaign_id))
    contact_rows = {r.id: dict(r._mapping) for r in found}
    phones = [
        dict(r._mapping)
        for r in conn.execute(
            select(contact_phones).where(contact_phones.c.campaign_id == campaign_id)
        )
    ]
    ledger = [
        dict(r._mapping)
        for r in conn.execute(
            select(attempts).where(attempts.c.campaign_id == campaign_id).order_by(attempts.c.id)
        )
    ]
    dnc = [
        dict(r._mapping)
        for r in conn.execute(
            select(dnc_entries).where(
                (dnc_entries.c.tenant_id == camp["tenant_id"]) | dnc_entries.c.tenant_id.is_(None)
            )
        )
    ]
    return {
        "campaign": camp,
        "line": one(lines, camp["line_id"]),
        "calendar": one(blackout_calendars, camp["blackout_calendar_id"]),
        "policy": one(redial_policies, camp["redial_policy_id"]),
        "contacts": contact_rows,
        "phones": {p["id"]: p for p in phones},
        "attempts": ledger,
        "dnc": dnc,
    }


# --- 1: calling hours ----------------------------------------------------------------------


def _zones(camp: dict[str, Any], contact: dict[str, Any], number: str) -> list[ZoneInfo]:
    if contact["timezone"]:
        return [ZoneInfo(contact["timezone"])]
    if camp["use_contact_timezone"]:
        names = [
            z
            for z in pn_timezone.time_zones_for_number(phonenumbers.parse(number))
            if z != "Etc/Unknown"
        ]
        if names:
            return [ZoneInfo(n) for n in names]
    return [ZoneInfo(camp["timezone"])]


def _hms(text: str) -> time | None:
    if text.startswith("24"):
        return None
    h, m, s = (int(x) for x in text.split(":"))
    return time(h, m, s)


def _calling_day(camp: dict[str, Any], day: date) -> bool:
    if camp["repeat_by"] == "week":
        return day.isoweekday() in camp["repeat_days"]
    if camp["repeat_by"] == "month":
        return day.day in camp["repeat_days"]
    return True


def _inside(day: date, clock: time, start: time, end: time | None, day_ok: Any) -> bool:
    if end is None or end > start:
        return bool(day_ok(day)) and start <= clock and (end is None or clock < end)
    return (bool(day_ok(day)) and clock >= start) or (
        bool(day_ok(day - timedelta(days=1))) and clock < end
    )


def _calling_hours(
    camp: dict[str, Any],
    calendar: dict[str, Any] | None,
    contact: dict[str, Any],
    a: dict[str, Any],
    check: Check,
) -> None:
    at: datetime = a["created_at"]
    if camp["period_start"] and at < camp["period_start"]:
        check.fail(f"attempt {a['id']} before the period at {at}")
        return
    if camp["period_end"] and at >= camp["period_end"]:
        check.fail(f"attempt {a['id']} after the period at {at}")
        return
    windows = [(_hms(w["start"]) or time(0), _hms(w["end"])) for w in camp["windows"]] or [
        (time(0), None)
    ]
    for zone in _zones(camp, contact, a["number"]):
        local = at.astimezone(zone)
        day, clock = local.date(), local.time().replace(tzinfo=None)
        if not any(_inside(day, clock, s, e, lambda d: _calling_day(camp, d)) for s, e in windows):
            check.fail(f"attempt {a['id']} at {local.isoformat()} is outside the windows")
            return
        if calendar and _blacked_out(calendar, at, zone):
            check.fail(f"attempt {a['id']} at {local.isoformat()} is inside a blackout")
            return


def _blacked_out(calendar: dict[str, Any], at: datetime, zone: ZoneInfo) -> bool:
    local = at.astimezone(ZoneInfo(calendar["timezone"]) if calendar["timezone"] else zone)
    day, clock = local.date(), local.time().replace(tzinfo=None)
    for block in calendar["weekly"]:
        start, end = _hms(block["start"]) or time(0), _hms(block["end"])
        if _inside(day, clock, start, end, lambda d, b=block: d.isoweekday() in b["days"]):
            return True
    naive = local.replace(tzinfo=None)
    return any(
        datetime.fromisoformat(r["start"]) <= naive < datetime.fromisoformat(r["end"])
        for r in calendar["dated"]
    )


# --- 2: per-number limits and redial counts ------------------------------------------------


def _allowance(rows: dict[str, Any], phone: dict[str, Any], outcome: str) -> tuple[float, int]:
    """(redials allowed after ``outcome``, interval seconds) as the settings state them."""
    camp, policy = rows["campaign"], rows["policy"]
    if policy is not None and policy["enabled"]:
        for rule in policy["rules"]:
            if outcome in rule["outcomes"]:
                return rule["max_times"], rule["interval_seconds"]
        return 0, 0
    group = next((g for g in camp["phone_groups"] if g["identify"] == phone["phone_group"]), None)
    if group and group["redial_enabled"]:
        return group["redial_times"], group["redial_interval_seconds"]
    if camp["max_attempts_per_day"] is not None:
        return float("inf"), camp["min_attempt_interval_seconds"]
    return 0, 0


def _number_limits(camp: dict[str, Any], rows: dict[str, Any], check: Check) -> None:
    by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_phone: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in rows["attempts"]:
        by_number[a["number"]].append(a)
        by_phone[a["phone_id"]].append(a)
    cap, gap = camp["max_attempts_per_day"], camp["min_attempt_interval_seconds"]
    for number, made in by_number.items():
        contact = rows["contacts"][made[0]["contact_id"]]
        zone = _zones(camp, contact, number)[0]
        days = Counter(a["created_at"].astimezone(zone).date() for a in made)
        if cap is not None:
            for day, n in days.items():
                if n > cap:
                    check.fail(f"{number}: {n} attempts on {day}, cap {cap}")
        for before, after in pairwise(made):
            if (after["created_at"] - before["created_at"]).total_seconds() < gap:
                check.fail(
                    f"{number}: attempts {before['id']} and {after['id']} under {gap} s apart"
                )
    for phone_id, made in by_phone.items():
        phone = rows["phones"][phone_id]
        for k in range(1, len(made)):
            prev = made[k - 1]
            if prev["outcome"] == "cancelled":
                continue  # a call we ended ourselves is requeued, not redialed
            allowed, interval = _allowance(rows, phone, prev["outcome"])
            redials = sum(1 for a in made[:k] if a["outcome"] != "cancelled")
            if redials > allowed:
                check.fail(
                    f"phone {phone_id}: redial {redials} after {prev['outcome']}, {allowed} allowed"
                )
            waited = (made[k]["created_at"] - prev["ended_at"]).total_seconds()
            if waited < interval - 1e-6:
                check.fail(f"phone {phone_id}: redialed after {waited:.0f} s, {interval} s needed")


# --- 3: concurrency ------------------------------------------------------------------------


def _concurrency(
    camp: dict[str, Any], line: dict[str, Any] | None, made: list[dict[str, Any]], check: Check
) -> int:
    edges: list[tuple[datetime, int]] = []
    for a in made:
        edges.append((a["created_at"], 1))
        edges.append((a["ended_at"] or datetime.max.replace(tzinfo=a["created_at"].tzinfo), -1))
    edges.sort(key=lambda e: (e[0], e[1]))  # an end and a start at one instant: end first
    limit = min(camp["max_concurrency"], line["channels"] if line else camp["max_concurrency"])
    level = peak = 0
    for at, step in edges:
        level += step
        if level > peak:
            peak = level
        if step > 0 and level > limit:
            check.fail(f"{level} calls at {at}, limit {limit}")
    return peak


def _agents_one_call_each(made: list[dict[str, Any]], check: Check) -> None:
    """No agent is on two calls at once (from being connected to the end)."""
    per_agent: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for a in made:
        if a["agent_id"] is not None and a["connected_at"] and a["ended_at"]:
            per_agent[a["agent_id"]].append((a["connected_at"], a["ended_at"]))
    for agent_id, spans in per_agent.items():
        spans.sort()
        for (_, end), (start, _) in pairwise(spans):
            if start < end:
                check.fail(f"agent {agent_id} took a call at {start} while on another")


# --- 4: DNC --------------------------------------------------------------------------------


def _dnc(made: Iterable[dict[str, Any]], entries: list[dict[str, Any]], check: Check) -> None:
    listed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in entries:
        listed[e["number"]].append(e)
    for a in made:
        for e in listed.get(a["number"], []):
            active = e["created_at"] <= a["created_at"] and (
                e["expires_at"] is None or e["expires_at"] > a["created_at"]
            )
            if active:
                check.fail(
                    f"attempt {a['id']} dialed {a['number']}, listed since {e['created_at']}"
                )


# --- 5: contacts ---------------------------------------------------------------------------


def _contacts(camp: dict[str, Any], rows: dict[str, Any], check: Check) -> None:
    per_contact: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in rows["attempts"]:
        per_contact[a["contact_id"]].append(a)
        if a["ended_at"] is None:
            check.fail(f"attempt {a['id']} never closed")
    for cid, c in rows["contacts"].items():
        made = per_contact.get(cid, [])
        answered = any(a["outcome"] == "answered" for a in made)
        if c["state"] == "in_progress":
            check.fail(f"contact {cid} stuck in progress")
        elif c["state"] == "pending":
            if camp["state"] in ("completed", "expired", "cancelled"):
                check.fail(f"contact {cid} pending in a {camp['state']} campaign")
            if not c["reason"] or c["next_eligible_at"] is None:
                check.fail(f"contact {cid} pending without a reason and a time")
        elif c["state"] in TERMINAL and not c["reason"]:
            check.fail(f"contact {cid} {c['state']} without a reason")
        if (c["state"] == "succeeded") != answered:
            check.fail(f"contact {cid} is {c['state']} but answered={answered}")
        spans = sorted((a["created_at"], a["ended_at"]) for a in made if a["ended_at"])
        for (_, end), (start, _) in pairwise(spans):
            if start < end:
                check.fail(f"contact {cid} had two calls at once at {start}")


# --- 6: statistics -------------------------------------------------------------------------


def _statistics(rows: dict[str, Any], stats: dict[str, Any], check: Check) -> None:
    made = rows["attempts"]
    states = Counter(c["state"] for c in rows["contacts"].values())
    expected = {
        "total": len(rows["contacts"]),
        "completed": sum(states[s] for s in TERMINAL),
        "dialed": len({a["contact_id"] for a in made if a["ended_at"] is not None}),
        "connected": len({a["contact_id"] for a in made if a["outcome"] == "answered"}),
        **{
            s: states.get(s, 0)
            for s in ("pending", "in_progress", "paused", "succeeded", "failed", "cancelled")
        },
    }
    for key, value in expected.items():
        if stats["contacts"][key] != value:
            check.fail(f"contacts.{key}: reported {stats['contacts'][key]}, ledger {value}")
    by_outcome = dict(Counter(a["outcome"] for a in made if a["outcome"]))
    if stats["attempts"]["by_outcome"] != by_outcome:
        check.fail(
            f"attempts by outcome: reported {stats['attempts']['by_outcome']}, ledger {by_outcome}"
        )
    if stats["attempts"]["total"] != len(made):
        check.fail(f"attempts: reported {stats['attempts']['total']}, ledger {len(made)}")
    talk = sum(a["talk_seconds"] for a in made)
    if abs(stats["attempts"]["talk_seconds"] - talk) > 1e-6 * max(1.0, talk):
        check.fail(f"talk seconds: reported {stats['attempts']['talk_seconds']}, ledger {talk}")
    if stats["attempts"]["abandoned"] != sum(1 for a in made if a["abandoned"]):
        check.fail("abandoned count differs")
