"""Suspend, resume and cancel on single contacts: which states each move takes, and which it
refuses."""

from __future__ import annotations

import pytest

from outdial.domain.contact_actions import ContactAction, contact_target
from outdial.domain.errors import IllegalTransition
from outdial.domain.outcomes import ContactState

C, A = ContactState, ContactAction
MOVES = [
    (C.PENDING, A.SUSPEND, C.PAUSED),
    (C.PAUSED, A.SUSPEND, None),
    (C.PAUSED, A.RESUME, C.PENDING),
    (C.PENDING, A.RESUME, None),
    (C.PENDING, A.CANCEL, C.CANCELLED),
    (C.PAUSED, A.CANCEL, C.CANCELLED),
    (C.CANCELLED, A.CANCEL, None),
]
REFUSED = [(state, action) for action in A for state in (C.IN_PROGRESS, C.SUCCEEDED, C.FAILED)] + [
    (C.CANCELLED, A.SUSPEND),
    (C.CANCELLED, A.RESUME),
]


@pytest.mark.parametrize(("state", "action", "target"), MOVES)
def test_allowed_moves(
    state: ContactState, action: ContactAction, target: ContactState | None
) -> None:
    assert contact_target(state, action) is target


@pytest.mark.parametrize(("state", "action"), REFUSED)
def test_a_contact_on_a_call_or_finished_is_not_moved(
    state: ContactState, action: ContactAction
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        contact_target(state, action)
    assert caught.value.extra == {"state": state.value, "action": action.value}
