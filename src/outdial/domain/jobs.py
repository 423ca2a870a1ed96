"""Background jobs: their kinds, states and the moves between them."""

from __future__ import annotations

from enum import StrEnum

from outdial.domain.errors import IllegalTransition


class JobKind(StrEnum):
    CONTACT_IMPORT = "contact_import"  # a contact file into a campaign
    CONTACT_CHECK = "contact_check"  # a contact file read and checked, nothing written
    DNC_IMPORT = "dnc_import"  # a file of numbers onto a do-not-call list
    EXPORT = "export"  # a campaign's contacts or attempts to a file


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"  # asked to stop; the runner rolls back at its next batch
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
ACTIVE = frozenset({JobState.RUNNING, JobState.CANCELLING})

_MOVES = {
    JobState.QUEUED: {JobState.RUNNING, JobState.CANCELLED},
    JobState.RUNNING: {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLING, JobState.QUEUED},
    JobState.CANCELLING: {JobState.CANCELLED, JobState.SUCCEEDED, JobState.FAILED},
}


def check_move(current: JobState, target: JobState) -> None:
    """Raise IllegalTransition unless a job may go from ``current`` to ``target``. A running
    job goes back to queued when its worker died (its work was all-or-nothing)."""
    if target not in _MOVES.get(current, set()):
        raise IllegalTransition(
            f"a {current.value} job cannot become {target.value}",
            state=current.value,
        )


def cancel_target(current: JobState) -> JobState:
    """What cancelling a job in ``current`` makes of it: a queued job is cancelled at once,
    a running one is asked to stop."""
    target = JobState.CANCELLED if current is JobState.QUEUED else JobState.CANCELLING
    check_move(current, target)
    return target


def percent(done: int, total: int | None) -> float:
    """Progress in percent, 0–100, of ``done`` out of ``total`` (0 when the total is unknown)."""
    if not total:
        return 0.0
    return round(min(100.0, 100.0 * done / total), 1)
