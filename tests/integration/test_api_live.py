"""Why not now? and the campaign event stream, through the real HTTP server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from outdial.services.container import Services
from outdial.store.schema import contacts, events
from tests.support import Api, ended_attempt, fields


def _campaign(api: Api, **over: Any) -> dict[str, Any]:
    line = api.ok(
        api.post("/lines", {"name": "l", "channels": 2, "caller_numbers": [{"number": "95187"}]}),
        201,
    )
    script = api.ok(api.post("/scripts", {"name": "s"}), 201)
    body = {
        "name": "c",
        "line_id": line["id"],
        "script_id": script["id"],
        "timezone": "UTC",
        **over,
    }
    campaign = api.ok(api.post("/campaigns", body), 201)
    api.ok(
        api.post(
            f"/campaigns/{campaign['id']}/contacts",
            {"contacts": [{"phones": [{"number": "13800000001"}]}]},
        )
    )
    return campaign


def _why(api: Api, campaign: dict[str, Any]) -> dict[str, Any]:
    contact = api.ok(api.get(f"/campaigns/{campaign['id']}/contacts"))["items"][0]
    return dict(
        api.ok(api.get(f"/campaigns/{campaign['id']}/contacts/{contact['id']}/eligibility"))
    )


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_running_campaign_in_its_window_may_dial_now(api: Api) -> None:
    campaign = _campaign(api)
    api.ok(api.post(f"/campaigns/{campaign['id']}/start"))
    answer = _why(api, campaign)
    assert answer["eligible"] is True and answer["reasons"] == []
    assert answer["phone"] == {"position": 0, "number": "+8613800000001"}
    assert answer["time_zones"] == ["UTC"]


def test_a_draft_outside_its_window_says_both_and_when(api: Api) -> None:
    now = datetime.now(UTC)
    start = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=1)
    campaign = _campaign(
        api, windows=[{"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}]
    )
    answer = _why(api, campaign)
    assert answer["eligible"] is False
    assert answer["reasons"] == ["campaign_not_started", "outside_window"]
    assert _at(answer["next_eligible_at"]) == start


def test_retry_back_off_daily_cap_and_dnc(api: Api, server: tuple[str, Services]) -> None:
    campaign = _campaign(api, max_attempts_per_day=1)
    api.ok(api.post(f"/campaigns/{campaign['id']}/start"))
    contact = api.ok(api.get(f"/campaigns/{campaign['id']}/contacts"))["items"][0]
    now = datetime.now(UTC)
    later = now + timedelta(minutes=30)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = today + timedelta(days=1)
    with server[1].store.write() as conn:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == contact["id"])
            .values(next_eligible_at=later, reason="redial_wait")
        )
        earlier_today = max(now - timedelta(minutes=5), today)
        conn.execute(
            ended_attempt(
                api,
                campaign["id"],
                contact,
                line_id=campaign["line_id"],
                outcome="busy",
                created_at=earlier_today,
                ended_at=earlier_today + timedelta(seconds=1),
            )
        )
    answer = _why(api, campaign)
    assert answer["reasons"] == ["redial_wait", "daily_cap"]
    # the later of the back-off and the next day (UTC): the back-off wins within 30 min of midnight
    assert _at(answer["next_eligible_at"]) == max(later, tomorrow)
    api.ok(api.post("/dnc", {"number": "13800000001"}), 201)
    answer = _why(api, campaign)
    assert "dnc" in answer["reasons"] and answer["next_eligible_at"] is None


def test_terminal_contacts_and_foreign_ids(api: Api, new_tenant: Any) -> None:
    campaign = _campaign(api)
    other = new_tenant()
    contact = api.ok(api.get(f"/campaigns/{campaign['id']}/contacts"))["items"][0]
    path = f"/campaigns/{campaign['id']}/contacts/{contact['id']}/eligibility"
    assert other.get(path).status_code == 404
    assert api.get(f"/campaigns/{campaign['id']}/contacts/999999/eligibility").status_code == 404


def _read_events(api: Api, path: str, count: int, **headers: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with api.http.stream("GET", path, headers=headers, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        frame: dict[str, Any] = {}
        for line in response.iter_lines():
            if line.startswith("id: "):
                frame["id"] = int(line[4:])
            elif line.startswith("event: "):
                frame["event"] = line[7:]
            elif line.startswith("data: "):
                frame["data"] = json.loads(line[6:])
            elif line == "" and frame:
                out.append(frame)
                frame = {}
                if len(out) == count:
                    break
    return out


def test_event_stream_replays_and_resumes(api: Api, server: tuple[str, Services]) -> None:
    campaign = _campaign(api)
    with server[1].store.write() as conn:
        for n in range(3):
            conn.execute(
                insert(events).values(
                    tenant_id=api.tenant["id"],
                    campaign_id=campaign["id"],  # type: ignore[attr-defined]
                    kind="attempt.ended",
                    data={"n": n},
                    created_at=datetime.now(UTC),
                )
            )
    path = f"/campaigns/{campaign['id']}/events"
    first = _read_events(api, f"{path}?after=0", 3)
    assert [e["data"]["n"] for e in first] == [0, 1, 2]
    assert {e["event"] for e in first} == {"attempt.ended"}
    resumed = _read_events(api, path, 2, **{"Last-Event-ID": str(first[0]["id"])})
    assert [e["data"]["n"] for e in resumed] == [1, 2]


def test_event_stream_errors(api: Api, new_tenant: Any) -> None:
    campaign = _campaign(api)
    path = f"/campaigns/{campaign['id']}/events"
    assert new_tenant().get(path).status_code == 404
    bad = api.get(path, after="x")
    assert bad.status_code == 422 and fields(bad) == {"after"}
    unknown = api.get(path, since="1")
    assert unknown.status_code == 422 and fields(unknown) == {"since"}


def test_a_campaign_on_a_sip_line_starts(api: Api) -> None:
    """Every driver a line can name now runs (sim, freeswitch, sip): none is refused."""
    line = api.ok(
        api.post(
            "/lines",
            {
                "name": "sip",
                "channels": 2,
                "driver": "sip",
                "settings": {"host": "sbc.example"},
            },
        ),
        201,
    )
    script = api.ok(api.post("/scripts", {"name": "s"}), 201)
    campaign = api.ok(
        api.post("/campaigns", {"name": "c", "line_id": line["id"], "script_id": script["id"]}), 201
    )
    started = api.ok(api.post(f"/campaigns/{campaign['id']}/start"))
    assert started["state"] == "running"


def test_pacing_view_shows_the_team_and_the_latest_decisions(
    api: Api, server: tuple[str, Services], new_tenant: Any
) -> None:
    group = api.ok(api.post("/skill-groups", {"name": "sales"}), 201)
    made = [
        api.ok(
            api.post(
                "/agents",
                {"name": f"a{n}", "endpoint": f"user/{1000 + n}", "skill_group_ids": [group["id"]]},
            ),
            201,
        )
        for n in range(3)
    ]
    for agent in made[:2]:
        api.ok(api.post(f"/agents/{agent['id']}/login"))
    api.ok(api.post(f"/agents/{made[0]['id']}/ready"))
    campaign = api.ok(
        api.post(
            "/campaigns",
            {"name": "p", "pacing_mode": "predictive", "skill_group_id": group["id"]},
        ),
        201,
    )
    with server[1].store.write() as conn:
        for n in range(3):
            conn.execute(
                insert(events).values(
                    tenant_id=api.tenant["id"],  # type: ignore[attr-defined]
                    campaign_id=campaign["id"],
                    kind="pacing.decision",
                    data={"law": "predictive", "launch": n, "reason": "forecast", "figures": {}},
                    created_at=datetime.now(UTC),
                )
            )
    path = f"/campaigns/{campaign['id']}/pacing"
    view = api.ok(api.get(path, limit="2"))
    assert view["pacing_mode"] == "predictive" and view["skill_group_id"] == group["id"]
    assert view["agent_states"]["ready"] == 1 and view["agent_states"]["not_ready"] == 1
    assert view["agent_states"]["offline"] == 1 and len(view["agents"]) == 3
    assert [d["launch"] for d in view["decisions"]] == [2, 1]  # newest first
    for bad in ("0", "501", "x"):
        resp = api.get(path, limit=bad)
        assert resp.status_code == 422 and fields(resp) == {"limit"}
    unknown = api.get(path, since="1")
    assert unknown.status_code == 422 and fields(unknown) == {"since"}
    assert new_tenant().get(path).status_code == 404
    assert api.get("/campaigns/999999/pacing").status_code == 404
