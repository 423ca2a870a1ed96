"""Agent states and the moves an agent (through the API) or the engine may make.

offline → not_ready ⇄ ready → reserved → on_call → after_call_work → ready …; an agent logs out
from ready or not ready. Calls move agents through reserved/on_call/after_call_work; a person
moves them in and out of work.
"""

from __future__ import annotations

from enum import StrEnum

from outdial.domain.errors import IllegalTransition


class AgentState(StrEnum):
    """Where an agent is in its working cycle (driven by the agent API and the engine)."""

    OFFLINE = "offline"
    READY = "ready"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    AFTER_CALL_WORK = "after_call_work"
    NOT_READY = "not_ready"


class AgentAction(StrEnum):
    """What an agent does through the API."""

    LOGIN = "login"
    READY = "ready"
    NOT_READY = "not-ready"
    LOGOUT = "logout"


A, S = AgentAction, AgentState
_MOVES: dict[AgentAction, tuple[frozenset[AgentState], AgentState]] = {
    A.LOGIN: (frozenset({S.OFFLINE}), S.NOT_READY),
    # Ready ends after-call work early; a not-ready agent starts taking calls.
    A.READY: (frozenset({S.NOT_READY, S.AFTER_CALL_WORK, S.READY}), S.READY),
    A.NOT_READY: (frozenset({S.READY, S.AFTER_CALL_WORK, S.NOT_READY}), S.NOT_READY),
    A.LOGOUT: (frozenset({S.READY, S.NOT_READY, S.AFTER_CALL_WORK}), S.OFFLINE),
}
LOGGED_IN = frozenset(set(AgentState) - {S.OFFLINE})
BUSY = frozenset({S.RESERVED, S.ON_CALL})


def agent_move(current: AgentState, action: AgentAction) -> AgentState:
    """The agent's next state, or IllegalTransition naming the current one (e.g. logging out
    while on a call)."""
    allowed, target = _MOVES[action]
    if current not in allowed:
        raise IllegalTransition(
            f"an agent who is {current.value} cannot {action.value}",
            state=current.value,
            action=action.value,
        )
    return target
