"""Agents' working state through the API: login, ready, not ready, logout."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from outdial.services.container import Services
from outdial.store.schema import agents
from tests.support import Api


def _agent(api: Api) -> dict[str, Any]:
    return dict(api.ok(api.post("/agents", {"name": "Li Lei", "endpoint": "user/1001"}), 201))


def _act(api: Api, agent: dict[str, Any], action: str) -> Any:
    return api.post(f"/agents/{agent['id']}/{action}")


def test_a_working_day(api: Api) -> None:
    agent = _agent(api)
    assert agent["state"] == "offline"
    seen = [
        api.ok(_act(api, agent, a))["state"]
        for a in ("login", "ready", "not-ready", "ready", "logout")
    ]
    assert seen == ["not_ready", "ready", "not_ready", "ready", "offline"]
    listed = api.ok(api.get("/agents", state="offline"))["items"]
    assert [a["id"] for a in listed] == [agent["id"]]


def test_state_changed_at_moves_only_on_a_change(api: Api) -> None:
    agent = _agent(api)
    first = api.ok(_act(api, agent, "login"))
    again = api.ok(_act(api, agent, "not-ready"))  # already not ready: allowed, no change
    assert again["state_changed_at"] == first["state_changed_at"]
    assert api.ok(_act(api, agent, "ready"))["state_changed_at"] > first["state_changed_at"]


@pytest.mark.parametrize(
    ("start", "action"),
    [
        ("offline", "ready"),
        ("offline", "not-ready"),
        ("offline", "logout"),
        ("not_ready", "login"),
        ("on_call", "logout"),
        ("on_call", "ready"),
        ("reserved", "not-ready"),
    ],
)
def test_illegal_moves_are_409_with_the_state_and_change_nothing(
    api: Api, server: tuple[str, Services], start: str, action: str
) -> None:
    agent = _agent(api)
    with server[1].store.write() as conn:
        conn.execute(update(agents).where(agents.c.id == agent["id"]).values(state=start))
    before = api.ok(api.get(f"/agents/{agent['id']}"))
    refused = _act(api, agent, action)
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "illegal_transition" and body["state"] == start
    assert api.ok(api.get(f"/agents/{agent['id']}")) == before


def test_after_call_work_can_end_early_or_go_not_ready(
    api: Api, server: tuple[str, Services]
) -> None:
    agent = _agent(api)
    for action, state in (("ready", "ready"), ("not-ready", "not_ready")):
        with server[1].store.write() as conn:
            conn.execute(
                update(agents).where(agents.c.id == agent["id"]).values(state="after_call_work")
            )
        assert api.ok(_act(api, agent, action))["state"] == state


def test_foreign_and_unknown_agents(api: Api, new_tenant: Any) -> None:
    agent = _agent(api)
    assert _act(new_tenant(), agent, "login").status_code == 404
    assert api.post("/agents/999999/login").status_code == 404
    assert _act(api, agent, "dance").status_code in (404, 405)
