"""What happens to a contact after an attempt: done, retry this phone, next phone, or give up.

The three vendors state redial rules differently; one precedence unites them:

1. a redial policy on the campaign (云蝠 重呼规则): the rule for the outcome gives the number of
   redials and the interval; an outcome in no rule is not redialed;
2. else the phone's group (得助 autoOutboundSwitch / Interval / Times): any failure is redialed;
3. else a per-day cap on the campaign (Alibaba maxAttemptsPerDay / minAttemptInterval): the number
   is redialed, day after day, while the period lasts;
4. else one attempt per phone.

Skip flags (Alibaba RecallStrategy, the policy's skip_*) end a number at once on 空号 / 停机 / 欠费.
When a phone is finished, the contact moves on to its next phone; after the last, it has failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from outdial.domain.outcomes import ContactState, Outcome

DEAD_NUMBER = frozenset({Outcome.INVALID_NUMBER, Outcome.SUSPENDED, Outcome.IN_ARREARS})
UNLIMITED = 1_000_000


@dataclass(frozen=True)
class Rule:
    outcomes: frozenset[Outcome]
    interval_seconds: int
    max_times: int


@dataclass(frozen=True)
class RedialSettings:
    """Everything that decides redials, gathered from campaign, policy and phone group."""

    policy_rules: tuple[Rule, ...] | None = None  # None: the campaign has no redial policy
    skip: frozenset[Outcome] = frozenset()  # dead-number outcomes that end a number
    group_redial: tuple[int, int] | None = None  # (times, interval seconds) of the phone's group
    max_attempts_per_day: int | None = None
    min_attempt_interval_seconds: int = 0


@dataclass(frozen=True)
class Verdict:
    """The contact's next state after an attempt."""

    state: ContactState
    reason: str
    phone_index: int
    next_eligible_at: datetime | None
    outcome: Outcome | None = None  # the contact's final outcome, when terminal
    phone_finished: bool = False


def redials_allowed(settings: RedialSettings, outcome: Outcome) -> tuple[int, int]:
    """(redials, interval seconds) the rules grant this phone for ``outcome``."""
    if settings.policy_rules is not None:
        for rule in settings.policy_rules:
            if outcome in rule.outcomes:
                return rule.max_times, rule.interval_seconds
        return 0, 0
    if settings.group_redial is not None:
        return settings.group_redial
    if settings.max_attempts_per_day is not None:
        return UNLIMITED, settings.min_attempt_interval_seconds
    return 0, 0


def after_attempt(
    settings: RedialSettings,
    outcome: Outcome,
    ended_at: datetime,
    phone_index: int,
    phone_count: int,
    phone_attempts: int,
) -> Verdict:
    """The contact's fate after an attempt on phone ``phone_index`` that ended in ``outcome``.

    ``phone_attempts`` counts the attempts made on that phone, this one included.
    """
    if outcome is Outcome.ANSWERED:
        return Verdict(ContactState.SUCCEEDED, "answered", phone_index, None, outcome)
    if outcome is Outcome.CANCELLED:
        # We ended the call (pause, cancel, lost worker): the contact simply goes back.
        return Verdict(ContactState.PENDING, "requeued", phone_index, ended_at)
    if outcome is Outcome.DNC_BLOCKED or outcome in settings.skip:
        return _next_phone(outcome, ended_at, phone_index, phone_count, outcome.value)
    redials, interval = redials_allowed(settings, outcome)
    if phone_attempts <= redials:
        retry_at = ended_at + timedelta(
            seconds=max(interval, settings.min_attempt_interval_seconds)
        )
        return Verdict(ContactState.PENDING, "redial_wait", phone_index, retry_at)
    return _next_phone(outcome, ended_at, phone_index, phone_count, "exhausted")


def _next_phone(
    outcome: Outcome, ended_at: datetime, phone_index: int, phone_count: int, reason: str
) -> Verdict:
    if phone_index + 1 < phone_count:
        return Verdict(ContactState.PENDING, "next_phone", phone_index + 1, ended_at, None, True)
    return Verdict(ContactState.FAILED, reason, phone_index, None, outcome, True)


def skip_outcomes(flags: Sequence[tuple[bool, Outcome]]) -> frozenset[Outcome]:
    return frozenset(o for on, o in flags if on)
