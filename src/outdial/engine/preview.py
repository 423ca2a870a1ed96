"""Preview (manual) tasks, 得助 taskType 2: an agent asks for their next contact, reads it, and
dials it or skips it; the engine places the call the agent asked for and bridges it to them.

The agent's side runs in the API (``services/preview.py``): a contact is *held* for the agent
(its lease owner is ``agent:{id}``, for ``preview_seconds``) and the agent is ``reserved``. The
engine's side is a :class:`PreviewDialer` in the campaign's runner. The two share only the
store: a dial request is a ``previews`` row in state ``dial_requested``, which the runner polls
for every :data:`POLL_SECONDS`. Taking it moves the contact's lease from the agent to the
worker; the dial-instant rules are the same as in every mode (``Ledger.open_attempt`` with the
engine's eligibility); the attempt carries the agent from the start; on answer the call is
bridged to that agent at once (there is nobody else to wait for, so it is never abandoned); on
hangup the agent does after-call work for the campaign's ACW, or is ready at once when nobody
answered. A hold that lapses gives the contact back and makes the agent ready again.

Preview states: ``previewing`` → ``dial_requested`` → ``dialing`` → ``dialed``; or ``skipped``,
``expired`` (the hold lapsed), ``refused`` (the rules said not now at the dial instant, or no
channel came free), ``released`` (the campaign stopped dialing, or the engine restarted before
the call was placed).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from outdial.domain.campaign_state import CampaignState
from outdial.domain.eligibility import Eligibility
from outdial.domain.outcomes import ContactState, Outcome
from outdial.domain.redial import Verdict, after_attempt
from outdial.engine.config import CampaignConfig
from outdial.engine.dial_check import DialCheck
from outdial.engine.ledger import LeasedContact, OpenAttempt
from outdial.engine.ports import CallEvent, CallEventKind

if TYPE_CHECKING:
    from outdial.engine.runner import ActiveCall, CampaignRunner

POLL_SECONDS = 0.5  # a dial request is picked up within this (or the state poll, if shorter)
DIAL_PICKUP_SECONDS = 30.0  # a dial request no engine took by then lapses
CHANNEL_WAIT_SECONDS = 30.0  # line or campaign full: a taken request waits this long
DONE_CHECK_SECONDS = 5.0  # look for completion at least this often
AGENT_BUSY = ("reserved", "on_call")


@dataclass
class PreviewJudge:
    """What the API asks when it looks for a contact to offer (the ledger's ``Judge``): may
    it be dialed now, and where it goes if not, exactly as the runner would put it back."""

    campaign: dict[str, Any]
    config: CampaignConfig
    now: datetime

    def check(self, contact: LeasedContact) -> DialCheck:
        return DialCheck(self.campaign, self.config, contact, self.now)

    def put_back(self, contact: LeasedContact, verdict: Eligibility, on_dnc: bool) -> Verdict:
        index = contact.phone_index
        if on_dnc:  # listed after import: never dialed; the next phone, or the end
            settings = self.config.redial(contact.phone.phone_group)
            count, attempts = len(contact.phones), contact.phone.attempt_count
            return after_attempt(settings, Outcome.DNC_BLOCKED, self.now, index, count, attempts)
        if verdict.next_eligible_at is None:  # no opening left in the period
            return Verdict(ContactState.FAILED, "time_up", index, None)
        return Verdict(ContactState.PENDING, verdict.reasons[0], index, verdict.next_eligible_at)


@dataclass
class PreviewCall:
    """A dial request the engine took: the agent, the contact, and the call once placed."""

    preview_id: int
    agent_id: int
    endpoint: str
    contact: LeasedContact
    taken_at: datetime
    attempt: OpenAttempt | None = None


@dataclass
class PreviewDialer:
    runner: CampaignRunner
    waiting: list[PreviewCall] = field(default_factory=list)  # taken, no channel free yet
    calls: dict[str, PreviewCall] = field(default_factory=dict)  # call id → its preview
    timers: dict[int, asyncio.TimerHandle] = field(default_factory=dict)  # agents in ACW
    recovered: bool = False
    next_done_check: datetime | None = None
    changes_seen: int = -1

    @property
    def ledger(self) -> Any:
        return self.runner.ledger

    # --- the poll ----------------------------------------------------------------------------

    async def dial(self, now: datetime) -> None:
        """Take the agents' dial requests and place their calls; lapse expired holds."""
        runner = self.runner
        if not self.recovered:
            self.recover(now)
        requests, lapsed = self.ledger.preview_work(runner.campaign_id, now)
        if lapsed:
            self.ledger.expire_previews(runner.campaign_id, now)
        ttl = runner.worker.settings.contact_lease_seconds
        for request in requests:
            taken = self.ledger.take_preview(request, now, ttl)
            if taken is not None:
                contact, endpoint = taken
                self.waiting.append(
                    PreviewCall(request["id"], request["agent_id"], endpoint, contact, now)
                )
        for call in list(self.waiting):
            await self._place(call, now)
        poll = min(POLL_SECONDS, runner.worker.settings.state_poll_seconds)
        runner.wake_at(now + timedelta(seconds=poll))
        self._check_done(now)

    async def _place(self, call: PreviewCall, now: datetime) -> None:
        """Dial a taken request under the engine's rules at this instant, for its agent."""
        runner, config = self.runner, self.runner.config
        assert config is not None
        contact = call.contact
        caller = config.caller_number(contact.phone.number)
        decide = DialCheck(runner.campaign, config, contact, now)
        result = self.ledger.open_attempt(
            runner.campaign, contact, caller, now, decide, agent_id=call.agent_id
        )
        if result is None:  # the line or the campaign is full (or the contact was taken)
            if (now - call.taken_at).total_seconds() >= CHANNEL_WAIT_SECONDS:
                self.waiting.remove(call)
                self.ledger.release_contacts([contact.id])
                self._end(call, "refused", "no_channel", now)
            return
        self.waiting.remove(call)
        if isinstance(result, Eligibility):
            runner.not_now(contact, result, decide.on_dnc, now)
            self._end(call, "refused", ",".join(result.reasons), now)
            return
        call.attempt = result
        self.ledger.preview_attempt(call.preview_id, result.id, now)
        self.calls[result.uuid] = call
        await runner.originate(result, contact, caller, config)
        if result.uuid not in runner.active:  # the driver could not place the call at all
            self.calls.pop(result.uuid, None)
            self._end(call, "dialed", "originate_failed", now)

    # --- call events -------------------------------------------------------------------------

    def on_event(self, active: ActiveCall, event: CallEvent) -> bool:
        """Handle a preview call's answer and hangup; False for anything else."""
        call = self.calls.get(event.call_id)
        if call is None:
            return False
        if event.kind is CallEventKind.ANSWERED:
            self._answered(active, call, event)
            return True
        if event.kind is CallEventKind.HANGUP:
            assert event.outcome is not None
            self.runner.finish(event.call_id, event.outcome, event.native_cause, event.at)
            self.calls.pop(event.call_id, None)
            self._hung_up(call, event.outcome, event.at)
            return True
        return False

    def _answered(self, active: ActiveCall, call: PreviewCall, event: CallEvent) -> None:
        """Bridge the answer to the agent who asked for the call (a machine too: the agent
        may leave a message)."""
        active.answered = True
        active.attempt.answered_at = active.attempt.connected_at = event.at
        self.ledger.move_agent(call.agent_id, ("reserved",), "on_call", event.at)
        runner = self.runner
        runner.spawn(runner.driver.bridge_to_agent(event.call_id, call.endpoint))

    def _hung_up(self, call: PreviewCall, outcome: Outcome, at: datetime) -> None:
        attempt = call.attempt
        if attempt is not None and attempt.answered_at is not None:
            self._end(call, "dialed", outcome.value, at, ("on_call", "reserved"), "after_call_work")
            self._start_acw(call.agent_id)
        else:
            self._end(call, "dialed", outcome.value, at)

    def _end(
        self,
        call: PreviewCall,
        state: str,
        reason: str,
        at: datetime,
        sources: tuple[str, ...] = AGENT_BUSY,
        target: str = "ready",
    ) -> None:
        self.ledger.end_preview(
            call.preview_id, state, reason, at, (call.agent_id, sources, target)
        )
        self.runner.poke()

    def _start_acw(self, agent_id: int) -> None:
        old = self.timers.pop(agent_id, None)
        if old is not None:
            old.cancel()
        acw = float(self.runner.campaign["acw_seconds"])
        self.timers[agent_id] = asyncio.get_running_loop().call_later(acw, self._wrapped, agent_id)

    def _wrapped(self, agent_id: int) -> None:
        self.timers.pop(agent_id, None)
        self.ledger.agent_wrapped(agent_id, self.runner.now())

    # --- completion, recovery, shutdown ------------------------------------------------------

    def _check_done(self, now: datetime) -> None:
        """Complete the campaign when nothing is left; the API may end contacts too (a number
        listed as DNC), so look again now and then, not only after a call."""
        runner = self.runner
        if runner.active or self.waiting:
            return
        due = self.next_done_check is None or now >= self.next_done_check
        if runner.changes != self.changes_seen or due:
            self.changes_seen = runner.changes
            self.next_done_check = now + timedelta(seconds=DONE_CHECK_SECONDS)
            runner.check_done(now)

    def recover(self, now: datetime) -> None:
        """After a restart: follow the previewed calls still up (the runner adopted them) and
        end the previews whose call ended or was never placed; their agents are ready."""
        self.recovered = True
        for row in self.ledger.previews_dialing(self.runner.campaign_id):
            uuid = row["attempt_uuid"]
            if uuid is None:
                found = self.ledger.open_attempt_of(row["contact_id"], row["agent_id"])
                uuid = None if found is None else found["uuid"]
            active = self.runner.active.get(uuid) if uuid is not None else None
            if active is not None:
                endpoint = self.ledger.agent_endpoint(row["agent_id"])
                call = PreviewCall(row["id"], row["agent_id"], endpoint, active.contact, now)
                call.attempt = active.attempt
                self.calls[active.attempt.uuid] = call
                continue
            if row["attempt_uuid"] is not None:
                state, reason = "dialed", row["outcome"] or "cancelled"
            else:
                state, reason = "released", "engine_restarted"
            self.ledger.end_preview(
                row["id"], state, reason, now, (row["agent_id"], AGENT_BUSY, "ready")
            )

    def close(self) -> None:
        """The runner ends: agents wrapping up are ready again; a campaign that stopped
        dialing releases the contacts its agents still hold."""
        for handle in self.timers.values():
            handle.cancel()
        for agent_id in list(self.timers):
            self._wrapped(agent_id)
        now = self.runner.now()
        for call in self.waiting:
            self.ledger.release_contacts([call.contact.id])
            self._end(call, "released", "engine_stopped", now)
        self.waiting.clear()
        state = CampaignState(self.runner.campaign["state"])
        if state is not CampaignState.RUNNING:
            self.ledger.release_previews(self.runner.campaign_id, f"campaign_{state.value}", now)
