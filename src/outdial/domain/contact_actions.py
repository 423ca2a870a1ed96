"""What a user may do to single contacts (Alibaba's SuspendJobs / ResumeJobs / CancelJobs on
jobs): hold one back from dialing, let it go again, or drop it. The engine dials only pending
contacts, so a paused contact waits and a cancelled one is done."""

from __future__ import annotations

from enum import StrEnum

from outdial.domain.errors import IllegalTransition
from outdial.domain.outcomes import ContactState


class ContactAction(StrEnum):
    SUSPEND = "suspend"
    RESUME = "resume"
    CANCEL = "cancel"


C = ContactState
_MOVES: dict[ContactAction, tuple[frozenset[ContactState], ContactState]] = {
    ContactAction.SUSPEND: (frozenset({C.PENDING}), C.PAUSED),
    ContactAction.RESUME: (frozenset({C.PAUSED}), C.PENDING),
    ContactAction.CANCEL: (frozenset({C.PENDING, C.PAUSED}), C.CANCELLED),
}
REASON = {
    ContactAction.SUSPEND: "contact_paused",
    ContactAction.RESUME: "resumed",
    ContactAction.CANCEL: "contact_cancelled",
}


def contact_target(current: ContactState, action: ContactAction) -> ContactState | None:
    """The state ``action`` moves a contact in ``current`` to; None when it is there already.
    A contact on a call, or finished, cannot be moved: IllegalTransition naming its state."""
    sources, target = _MOVES[action]
    if current is target:
        return None
    if current not in sources:
        raise IllegalTransition(
            f"cannot {action.value} a contact that is {current.value}",
            state=current.value,
            action=action.value,
        )
    return target
