"""One campaign's dialing loop: refresh, decide, dial, track calls, finish.

Eligibility is checked again at the instant of dialing (window, blackout, period, pause, DNC,
daily cap, interval); the attempt row is written before originate; each hangup closes its
attempt and moves the contact on per the redial rules, in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from outdial.domain import pacing
from outdial.domain.campaign_rules import AGENT_MODES
from outdial.domain.campaign_state import CampaignState
from outdial.domain.eligibility import (
    Eligibility,
    first_open_in_all,
    is_closed,
)
from outdial.domain.outcomes import ContactState, Outcome
from outdial.domain.redial import Verdict, after_attempt
from outdial.domain.schedule import PacingMode
from outdial.domain.transfer import TransferFallback, TransferResult
from outdial.engine.config import CampaignConfig, load_config
from outdial.engine.desk import AgentDesk
from outdial.engine.dial_check import DialCheck
from outdial.engine.ledger import (
    Closing,
    Dial,
    LeasedContact,
    OpenAttempt,
    Refusal,
    attempt_from_row,
)
from outdial.engine.pacer import Pacer
from outdial.engine.ports import (
    ATTEMPT_VARIABLE,
    TRANSFER_VARIABLE,
    CallEvent,
    CallEventKind,
    OriginateFailed,
    OriginateRequest,
)
from outdial.engine.preview import PreviewDialer

if TYPE_CHECKING:
    from outdial.engine.worker import Worker

log = logging.getLogger("outdial.engine")
S = CampaignState
SPIN_LIMIT = 10_000
OPEN_BATCH = 100  # attempts opened in one transaction at most (the loop waits on each)
WAITING_LOOK_SECONDS = 0.25  # callers wait at most 2 s: look for a ready agent this often
DECISION_LOG_SECONDS = 2.0  # at most one pacing.decision event per campaign this often
PACER_LAWS = {
    PacingMode.PROGRESSIVE: "progressive",
    PacingMode.RATIO: "ratio",
    PacingMode.PREDICTIVE: "predictive",
}
TERMINAL_CLOSE = {
    S.EXPIRED: (ContactState.FAILED, "time_up"),
    S.CANCELLED: (ContactState.CANCELLED, "campaign_cancelled"),
}


@dataclass
class ActiveCall:
    attempt: OpenAttempt
    contact: LeasedContact
    answered: bool = False
    abandoned: bool = False  # answered, but no agent took it in time


@dataclass
class CampaignRunner:
    worker: Worker
    campaign_id: int
    campaign: dict[str, Any] = field(default_factory=dict)
    config: CampaignConfig | None = None
    active: dict[str, ActiveCall] = field(default_factory=dict)
    hopper: deque[LeasedContact] = field(default_factory=deque)
    slot_free_at: list[datetime] = field(default_factory=list)  # call gap: slots cooling down
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    next_refresh: datetime | None = None
    next_wake: datetime | None = None
    next_progress: datetime | None = None
    exhausted_until: datetime | None = None  # no contact due before this instant
    reopens_at: datetime | None = None  # the campaign's schedule is closed until then
    changes: int = 0  # contacts moved on so far: progress and completion look again on change
    progress_seen: int = -1
    done_seen: int = -1
    finished: bool = False
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    desk: AgentDesk | None = None  # agent modes: routes answered calls to agents
    handoffs: AgentDesk | None = None  # agentless: routes a script's hand-offs to agents
    pacer: Pacer | None = None  # agent modes: how many calls to launch
    preview: PreviewDialer | None = None  # preview: agents' own calls (engine/preview.py)
    next_decision_log: datetime | None = None
    _spins: int = 0
    _last_step: datetime | None = None

    @property
    def ledger(self) -> Any:
        return self.worker.ledger

    def now(self) -> datetime:
        return self.worker.clock.now()

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        self.refresh(self.now())
        await self.reconcile()
        while not self.finished and not self.worker.stopping:
            try:
                await self.step()
            except Exception:
                log.exception("campaign %s: step failed", self.campaign_id)
                self.next_wake = self.now() + timedelta(seconds=1)
            await self._sleep()
        self.ledger.release_contacts([c.id for c in self.hopper])
        self.hopper.clear()
        for desk in (self.desk, self.handoffs):
            if desk is not None:
                desk.close()  # agents still wrapping up are ready again
        if self.preview is not None:
            self.preview.close()

    async def _sleep(self) -> None:
        now = self.now()
        until = min(t for t in (self.next_wake, self.next_refresh) if t is not None)
        delay = max(0.0, (until - now).total_seconds())
        self.next_wake = None
        self._spins = self._spins + 1 if delay == 0 and now == self._last_step else 0
        self._last_step = now
        if self._spins > SPIN_LIMIT:  # a bug would otherwise freeze virtual time
            log.error("campaign %s: runner spinning at %s; backing off", self.campaign_id, now)
            delay, self._spins = 1.0, 0
        if delay > 0 and not self.wake.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), delay)
        self.wake.clear()

    def poke(self) -> None:
        self.wake.set()

    def due_at(self, when: datetime) -> None:
        """A contact becomes due at ``when``: look for contacts again then, not only after the
        idle poll (the hopper gate would otherwise stay shut until the state poll)."""
        if self.exhausted_until is not None and when < self.exhausted_until:
            self.exhausted_until = when
        self.wake_at(when)

    def wake_at(self, when: datetime | None) -> None:
        if when is not None and (self.next_wake is None or when < self.next_wake):
            self.next_wake = when

    def refresh(self, now: datetime) -> None:
        """Re-read the campaign when it changed (settings or state); every state_poll_seconds."""
        if self.campaign:
            state, updated_at = self.ledger.campaign_version(self.campaign_id)
            changed = (state, updated_at) != (self.campaign["state"], self.campaign["updated_at"])
        if not self.campaign or changed:
            self.campaign = self.ledger.campaign(self.campaign_id)
            self.config = load_config(self.worker.store, self.campaign)
            self.reopens_at = None
            self._set_desk()
            self._set_pacer()
        self.next_refresh = now + timedelta(seconds=self.worker.settings.state_poll_seconds)

    def _set_desk(self) -> None:
        """Agent modes: the desk of the campaign's skill group takes answered calls. Agentless:
        the desk of the script's transfer group takes the script's hand-offs."""
        if PacingMode(self.campaign["pacing_mode"]) is PacingMode.PREVIEW:
            self.desk = self.handoffs = None  # the agent who dialed takes the call
            return
        agents_take_calls = PacingMode(self.campaign["pacing_mode"]) in AGENT_MODES
        script = self.config.script if self.config is not None else None
        group = self.campaign["skill_group_id"] if agents_take_calls else None
        transfer_group = None
        if not agents_take_calls and script is not None:
            transfer_group = script.transfer_skill_group_id
        self.desk = self._desk_for(self.desk, group)
        self.handoffs = self._desk_for(self.handoffs, transfer_group)

    def _desk_for(self, desk: AgentDesk | None, group: int | None) -> AgentDesk | None:
        if group is None:
            return None
        if desk is None or desk.skill_group_id != group:
            return AgentDesk(self, group)
        return desk

    def _set_pacer(self) -> None:
        """The pacer of an agent mode; it keeps what it learnt across setting changes, and on
        a new runner starts from the campaign's abandonment so far."""
        law = PACER_LAWS.get(PacingMode(self.campaign["pacing_mode"]))
        if self.desk is None or law is None:
            self.pacer = None
            return
        target = float(self.campaign["abandon_target_percent"]) / 100
        if self.pacer is None:
            self.pacer = Pacer(law, target, float(self.campaign["ratio"]), self.campaign_id)
            abandons, live = self.ledger.abandon_counts(self.campaign_id)
            self.pacer.observer.abandons, self.pacer.observer.live_answers = abandons, live
        else:
            self.pacer.law, self.pacer.target = law, target
            self.pacer.ratio = float(self.campaign["ratio"])

    @property
    def last_decision(self) -> pacing.PacingDecision | None:
        return self.pacer.last if self.pacer is not None else None

    async def step(self) -> None:
        now = self.now()
        if self.next_refresh is None or now >= self.next_refresh:
            self.refresh(now)
        state = S(self.campaign["state"])
        if state is S.SCHEDULED:
            start = self.campaign["period_start"]
            if start is None or start <= now:
                self._move(S.SCHEDULED, S.RUNNING, "period_started", now)
            else:
                self.wake_at(start)
            return
        if state is S.RUNNING:
            end = self.campaign["period_end"]
            if end is not None and now >= end:
                self._move(S.RUNNING, S.EXPIRED, "period_ended", now)
                return
            await self.dial(now)
            self._progress(now)
            return
        await self.stand_down(state, now)

    def _move(self, old: CampaignState, new: CampaignState, reason: str, now: datetime) -> None:
        self.ledger.set_campaign_state(self.campaign_id, old.value, new.value, reason, now)
        self.refresh(now)
        self.poke()

    async def stand_down(self, state: CampaignState, now: datetime) -> None:
        """Paused or ended: dial nothing; on cancel or expiry hang up calls still ringing, and
        once no call is left close the remaining contacts; then the runner ends."""
        if self.hopper:
            self.ledger.release_contacts([c.id for c in self.hopper])
            self.hopper.clear()
        if state in TERMINAL_CLOSE:
            for call_id, call in list(self.active.items()):
                if not call.answered:
                    await self.driver.hangup(call_id, f"campaign {state.value}")
            if not self.active:
                contact_state, reason = TERMINAL_CLOSE[state]
                self.ledger.finish_pending(self.campaign_id, contact_state, reason, now)
        if state is not S.PAUSED and not self.active:
            self._progress(now, force=True)
            self.finished = True

    # --- dialing -----------------------------------------------------------------------------

    @property
    def driver(self) -> Any:
        assert self.config is not None
        return self.worker.driver_for(self.config.line)

    def free_slots(self, now: datetime) -> int:
        self.slot_free_at = [t for t in self.slot_free_at if t > now]
        busy = len(self.active) + len(self.slot_free_at)
        if self.slot_free_at:
            self.wake_at(min(self.slot_free_at))
        return int(self.campaign["max_concurrency"]) - busy

    async def dial(self, now: datetime) -> None:
        if PacingMode(self.campaign["pacing_mode"]) is PacingMode.PREVIEW:
            self.preview = self.preview or PreviewDialer(self)
            await self.preview.dial(now)
            return
        config = self.config
        assert config is not None
        if self.reopens_at is not None and now < self.reopens_at:
            self.wake_at(self.reopens_at)
            return
        if not self.campaign["use_contact_timezone"]:
            zone = [config.schedule.zone]
            if is_closed(config.schedule, zone, now) is not None:
                self.reopens_at = first_open_in_all(config.schedule, zone, now)
                self.wake_at(self.reopens_at)
                self._release_hopper()
                return
        self._serve_waiting(now)
        free = wanted = self.agent_room(self.free_slots(now), now)
        while free > 0:
            batch = self.next_contacts(now, min(free, OPEN_BATCH))
            if not batch:
                break
            launched = await self.dial_batch(batch, config, now)
            if launched is None:  # the line or the campaign is full
                self.wake_at(now + timedelta(seconds=1))
                break
            free -= launched
        if self.pacer is not None:
            self.pacer.dialed(now.timestamp(), wanted - free)
        if not self.active and not self.hopper:
            self.check_done(now)

    async def dial_batch(
        self, batch: list[LeasedContact], config: CampaignConfig, now: datetime
    ) -> int | None:
        """Open the batch's attempts in one transaction, then dial them. Returns the calls
        launched; None when the line or campaign was full (those contacts wait in the hopper).
        A contact taken from this worker meanwhile is dropped."""
        dials = [
            Dial(c, config.caller_number(c.phone.number), DialCheck(self.campaign, config, c, now))
            for c in batch
        ]
        results = self.ledger.open_batch(self.campaign, dials, now)
        waiting = [d.contact for d, r in zip(dials, results, strict=True) if r is Refusal.FULL]
        self.hopper.extendleft(reversed(waiting))
        launched = 0
        for dial, result in zip(dials, results, strict=True):
            if isinstance(result, Eligibility):
                self.not_now(dial.contact, result, dial.decide.on_dnc, now)
            elif isinstance(result, OpenAttempt):
                await self.originate(result, dial.contact, dial.caller_number, config)
                launched += 1
        return None if waiting else launched

    def _serve_waiting(self, now: datetime) -> None:
        """Callers waiting for an agent go to any agent ready now (one who pressed ready
        through the API is seen here); look again soon while somebody waits."""
        for desk in (self.desk, self.handoffs):
            if desk is not None and desk.waiting:
                desk.serve_waiting()
                self.wake_at(now + timedelta(seconds=WAITING_LOOK_SECONDS))

    def agent_room(self, free: int, now: datetime) -> int:
        """How many calls the pacer launches now (robot modes: every free slot)."""
        if self.desk is None or self.pacer is None:
            return free
        ringing = [
            (now - c.attempt.created_at).total_seconds()
            for c in self.active.values()
            if not c.answered
        ]
        talking, wrapping = [], []
        agents = ready = 0
        acw = float(self.campaign["acw_seconds"])
        for state, since in self.ledger.team(self.desk.skill_group_id):
            agents += 1
            elapsed = (now - since).total_seconds()
            if state == "ready":
                ready += 1
            elif state == "on_call":
                talking.append(elapsed)
            elif state == "after_call_work":
                wrapping.append(max(0.0, acw - elapsed))
        observed = pacing.PacingState(
            agents=agents,
            ready=ready,
            waiting=len(self.desk.waiting),
            pending=len(ringing),
            ringing=tuple(ringing),
            talking=tuple(talking),
            wrapping=tuple(wrapping),
            active_calls=len(self.active),
            line_free=free,
            campaign_free=free,
        )
        decision = self.pacer.decide(observed, now.timestamp())
        self._log_decision(decision, now)
        return decision.launch

    def _log_decision(self, decision: pacing.PacingDecision, now: datetime) -> None:
        """A pacing.decision event, at most every DECISION_LOG_SECONDS, when calls were
        launched or the team changed: inspectable through the API and its event stream."""
        if self.next_decision_log is not None and now < self.next_decision_log:
            return
        if decision.launch == 0 and self.pacer is not None and self.pacer.decisions > 1:
            return
        assert self.pacer is not None
        self.next_decision_log = now + timedelta(seconds=DECISION_LOG_SECONDS)
        data = {
            "law": decision.law,
            "launch": decision.launch,
            "reason": decision.reason,
            "figures": decision.figures,
            "decisions": self.pacer.decisions,
            "launched": self.pacer.launched,
        }
        self.ledger.emit_decision(self.campaign_id, int(self.campaign["tenant_id"]), data, now)

    def next_contacts(self, now: datetime, count: int) -> list[LeasedContact]:
        """Up to ``count`` contacts from the hopper, refilled when it runs dry."""
        batch: dict[int, LeasedContact] = {}
        while len(batch) < count:
            contact = self.next_contact(now, count - len(batch))
            if contact is None or contact.id in batch:  # leased again: the hopper ran dry
                break
            batch[contact.id] = contact
        return list(batch.values())

    def next_contact(self, now: datetime, free: int) -> LeasedContact | None:
        if not self.hopper:
            if self.exhausted_until is not None and now < self.exhausted_until:
                return None
            batch = self.ledger.lease_contacts(
                self.campaign_id,
                now,
                limit=max(free * 2, 10),
                ttl=self.worker.settings.contact_lease_seconds,
            )
            self.hopper.extend(batch)
            if not batch:
                self.exhausted_until = now + timedelta(
                    seconds=self.worker.settings.idle_poll_seconds
                )
                self.wake_at(self.exhausted_until)
                return None
        return self.hopper.popleft()

    def not_now(
        self, contact: LeasedContact, verdict: Eligibility, on_dnc: bool, now: datetime
    ) -> None:
        """Give back a contact that may not be dialed now, with its reason and next time."""
        if on_dnc:
            self.finish_blocked(contact, now)
        elif verdict.next_eligible_at is None:
            # No opening is left in the campaign's period: the contact cannot be dialed again.
            ended = Verdict(ContactState.FAILED, "time_up", contact.phone_index, None)
            self.ledger.defer_with_verdict(contact, ended, now, Outcome.CANCELLED, False)
            self.changes += 1
        else:
            self.ledger.defer(contact.id, verdict.next_eligible_at, verdict.reasons[0], now)
            self.due_at(verdict.next_eligible_at)

    def finish_blocked(self, contact: LeasedContact, now: datetime) -> None:
        """A number put on the DNC list after import: never dialed; move to the next phone."""
        verdict = after_attempt(
            self.config.redial(contact.phone.phone_group),  # type: ignore[union-attr]
            Outcome.DNC_BLOCKED,
            now,
            contact.phone_index,
            len(contact.phones),
            contact.phone.attempt_count,
        )
        self.ledger.defer_with_verdict(contact, verdict, now, Outcome.DNC_BLOCKED, True)
        self.changes += 1

    async def originate(
        self, attempt: OpenAttempt, contact: LeasedContact, caller: str, config: CampaignConfig
    ) -> None:
        self.active[attempt.uuid] = ActiveCall(attempt, contact)
        self.worker.track(attempt.uuid, self)
        request = OriginateRequest(
            call_id=attempt.uuid,
            number=attempt.number,
            caller_number=caller,
            ring_timeout_seconds=int(self.campaign["ring_timeout_seconds"]),
            line=config.line,
            variables={
                ATTEMPT_VARIABLE: attempt.uuid,
                "outdial_campaign_id": str(self.campaign_id),
            },
        )
        try:
            await self.driver.originate(request)
        except OriginateFailed as failed:
            self.finish(attempt.uuid, failed.outcome, failed.native_cause, self.now())

    # --- call events -------------------------------------------------------------------------

    def on_event(self, event: CallEvent) -> None:
        call = self.active.get(event.call_id)
        if call is None:
            return
        if self.preview is not None and self.preview.on_event(call, event):
            return
        if event.kind is CallEventKind.RINGING:
            call.attempt.ringing_at = event.at
        elif event.kind is CallEventKind.ANSWERED:
            call.attempt.answered_at = event.at
            call.answered = True
            self._observe_answer(call, event)
            if self.desk is None:
                self.spawn(self.connect(event.call_id))
            elif event.machine:  # an answering machine takes no agent's time
                self.spawn(self.driver.hangup(event.call_id, "answering machine"))
            else:
                self.desk.answered(event.call_id, event.at)
        elif event.kind is CallEventKind.HANDOFF:
            self.handoff(call, event.at)
        elif event.kind is CallEventKind.HANGUP:
            assert event.outcome is not None
            self.finish(event.call_id, event.outcome, event.native_cause, event.at)

    def _observe_answer(self, call: ActiveCall, event: CallEvent) -> None:
        if self.pacer is not None:
            delay = (event.at - call.attempt.created_at).total_seconds()
            self.pacer.observer.dial_resolved(not event.machine, delay)

    async def connect(self, call_id: str) -> None:
        """Agentless: the answered call goes to the campaign's script."""
        config = self.config
        assert config is not None
        if config.script is not None:
            await self.driver.transfer_to_script(call_id, config.script)

    def handoff(self, call: ActiveCall, at: datetime) -> None:
        """The script asks for a human: the transfer group's desk connects an agent, or the
        caller waits the script's transfer wait; no group at all goes straight to fallback."""
        script = self.config.script if self.config is not None else None
        if self.desk is not None or script is None:  # agent modes: an agent has the call
            return
        if not call.answered or call.attempt.transferred_at is not None:
            return
        call.attempt.transferred_at = at
        if self.handoffs is None:
            self.handoff_failed(call.attempt.uuid)
        else:
            self.handoffs.handoff(call.attempt.uuid, at, script.transfer_wait_seconds)

    def handoff_failed(self, call_id: str) -> None:
        """No agent took the hand-off: the script's fallback (carry on, or hang up)."""
        call = self.active.get(call_id)
        script = self.config.script if self.config is not None else None
        if call is None or script is None:
            return
        call.attempt.transfer_result = TransferResult.NO_AGENT.value
        if script.transfer_fallback is TransferFallback.HANGUP:
            self.spawn(self.driver.hangup(call_id, "transfer: no agent"))
        else:
            back = replace(script, variables={TRANSFER_VARIABLE: TransferResult.NO_AGENT.value})
            self.spawn(self.driver.transfer_to_script(call_id, back))

    def finish(self, call_id: str, outcome: Outcome, native_cause: str, at: datetime) -> None:
        call = self.active.pop(call_id, None)
        self.worker.untrack(call_id)
        if call is None:
            return
        for desk in (self.desk, self.handoffs):
            waiting = None if desk is None else desk.hung_up(call_id, call.attempt.agent_id, at)
            if waiting is not None and not waiting.handoff:
                call.abandoned = True  # the caller hung up on the silence before an agent came
            if waiting is not None and waiting.handoff:
                call.attempt.transfer_result = TransferResult.NO_AGENT.value
        if call.abandoned and outcome is Outcome.ANSWERED:
            outcome = Outcome.ABANDONED
        self._observe_end(call, at)
        contact = call.contact
        settings = self.config.redial(contact.phone.phone_group)  # type: ignore[union-attr]
        verdict = after_attempt(
            settings,
            outcome,
            at,
            contact.phone_index,
            len(contact.phones),
            contact.phone.attempt_count,
        )
        verdict = self._for_state(verdict, outcome)
        tenant_id = int(self.campaign["tenant_id"])
        self.ledger.close_attempt(
            Closing(call.attempt, tenant_id, outcome, native_cause, at, verdict)
        )
        gap = float(self.campaign["call_gap_seconds"])
        if gap > 0:
            self.slot_free_at.append(at + timedelta(seconds=gap))
        if verdict.next_eligible_at is not None:
            self.due_at(verdict.next_eligible_at)
        self.changes += 1
        self.poke()

    def _observe_end(self, call: ActiveCall, at: datetime) -> None:
        if self.pacer is None:
            return
        answered = call.attempt.answered_at
        if answered is None:  # no answer, busy or failed: resolved when it hung up
            self.pacer.observer.dial_resolved(False, (at - call.attempt.created_at).total_seconds())
        elif call.attempt.agent_id is not None:
            self.pacer.observer.talk_ended((at - answered).total_seconds())

    def _for_state(self, verdict: Verdict, outcome: Outcome) -> Verdict:
        """A campaign that ended while the call was up closes the contact instead of requeuing."""
        state = S(self.campaign["state"])
        if verdict.state is ContactState.PENDING and state in TERMINAL_CLOSE:
            contact_state, reason = TERMINAL_CLOSE[state]
            return Verdict(contact_state, reason, verdict.phone_index, None, outcome)
        return verdict

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # --- completion, progress, recovery ------------------------------------------------------

    def check_done(self, now: datetime) -> None:
        if self.done_seen == self.changes and self.exhausted_until is not None:
            return  # nothing finished since the last look; the next due contact wakes us
        self.done_seen = self.changes
        pending, earliest, open_attempts = self.ledger.pending_summary(self.campaign_id)
        if pending == 0 and open_attempts == 0:
            self._move(S.RUNNING, S.COMPLETED, "all_contacts_done", now)
            return
        if earliest is not None and earliest > now:
            self.due_at(earliest)

    def _release_hopper(self) -> None:
        if self.hopper:
            self.ledger.release_contacts([c.id for c in self.hopper])
            self.hopper.clear()

    def _progress(self, now: datetime, force: bool = False) -> None:
        if not force and self.next_progress is not None and now < self.next_progress:
            return
        if not force and self.progress_seen == self.changes:
            return  # nothing to report
        self.progress_seen = self.changes
        self.next_progress = now + timedelta(seconds=self.worker.settings.progress_seconds)
        self.ledger.emit_progress(self.campaign_id, int(self.campaign["tenant_id"]), now)

    async def reconcile(self) -> None:
        """Open attempts this runner does not track (a crash, a dead worker): adopt the calls
        the driver still has, close the rest as lost; contacts stuck in progress go back."""
        rows = [
            r for r in self.ledger.open_attempts(self.campaign_id) if r["uuid"] not in self.active
        ]
        now = self.now()
        live = (
            await self.driver.live_calls() if rows and self.config and self.config.line else set()
        )
        for row in rows:
            self.adopt(row)
            if row["call_id"] not in live:
                self.finish(row["uuid"], Outcome.CANCELLED, "lost: engine restarted", now)
        self.ledger.repair_stuck_contacts(self.campaign_id, now)

    def adopt(self, row: dict[str, Any]) -> None:
        """Track an open attempt found in the ledger (its call may still be up)."""
        contact = self.ledger.leased_contact(row["contact_id"])
        answered = row["answered_at"] is not None
        self.active[row["uuid"]] = ActiveCall(attempt_from_row(row), contact, answered=answered)
        self.worker.track(row["uuid"], self)
