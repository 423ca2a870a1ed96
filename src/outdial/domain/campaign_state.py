"""Campaign lifecycle.

draft → scheduled → running ⇄ paused → completed | expired | cancelled | failed
"""

from __future__ import annotations

from enum import StrEnum

from outdial.domain.errors import IllegalTransition


class CampaignState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"


class LifecycleAction(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


S = CampaignState
TERMINAL: frozenset[CampaignState] = frozenset({S.COMPLETED, S.EXPIRED, S.CANCELLED, S.FAILED})
ACTIVE: frozenset[CampaignState] = frozenset({S.SCHEDULED, S.RUNNING})

# Which states each user action may be taken from. Start and resume both lead to "scheduled"
# or "running" depending on the period (see ``started_state``).
_ALLOWED_FROM: dict[LifecycleAction, frozenset[CampaignState]] = {
    LifecycleAction.START: frozenset({S.DRAFT}),
    LifecycleAction.PAUSE: frozenset({S.SCHEDULED, S.RUNNING}),
    LifecycleAction.RESUME: frozenset({S.PAUSED}),
    LifecycleAction.CANCEL: frozenset({S.DRAFT, S.SCHEDULED, S.RUNNING, S.PAUSED}),
}


def started_state(period_has_begun: bool) -> CampaignState:
    """The state a campaign enters when started or resumed."""
    return S.RUNNING if period_has_begun else S.SCHEDULED


def apply_action(
    current: CampaignState, action: LifecycleAction, period_has_begun: bool
) -> CampaignState:
    """The next state for a user action, or IllegalTransition naming the current state."""
    if current not in _ALLOWED_FROM[action]:
        raise IllegalTransition(
            f"cannot {action.value} a campaign that is {current.value}",
            state=current.value,
            action=action.value,
        )
    if action is LifecycleAction.PAUSE:
        return S.PAUSED
    if action is LifecycleAction.CANCEL:
        return S.CANCELLED
    return started_state(period_has_begun)


def is_editable(state: CampaignState) -> bool:
    return state not in TERMINAL
