"""The agent desk: answered calls of an agent-mode campaign, and calls a script hands off to a
human, go to the longest-idle ready agent of a skill group. An answered call no agent takes
within the grace time is abandoned; a hand-off no agent takes within the script's wait goes
back to the script's fallback. An agent does after-call work for the campaign's ACW, then is
ready again."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from outdial.domain.transfer import TransferResult

if TYPE_CHECKING:
    from outdial.engine.runner import CampaignRunner

ABANDON_GRACE_SECONDS = 2.0  # FCC/Ofcom: connect within 2 s of the answer, or it is abandoned


@dataclass(frozen=True)
class Waiting:
    since: datetime
    handoff: bool  # a script's hand-off (else a live answer of an agent mode)


@dataclass
class AgentDesk:
    runner: CampaignRunner
    skill_group_id: int
    waiting: OrderedDict[str, Waiting] = field(default_factory=OrderedDict)
    timers: dict[int, asyncio.TimerHandle] = field(default_factory=dict)

    def answered(self, call_id: str, at: datetime) -> None:
        """A person answered: connect an agent now, or queue the call for the grace time."""
        self._queue(call_id, Waiting(at, handoff=False), ABANDON_GRACE_SECONDS)

    def handoff(self, call_id: str, at: datetime, wait: float) -> None:
        """The script asks for a human: connect an agent now, or let the caller wait."""
        self._queue(call_id, Waiting(at, handoff=True), wait)

    def hung_up(self, call_id: str, agent_id: int | None, at: datetime) -> Waiting | None:
        """The call ended; returns how it was waiting if no agent had taken it yet (a caller
        who hangs up on the silence of an agent-mode call is abandoned all the same)."""
        waiting = self.waiting.pop(call_id, None)
        if waiting is not None and not waiting.handoff:
            self._observe(abandoned=True)
        if agent_id is not None:
            self.runner.ledger.agent_to_wrap(agent_id, at)
            acw = float(self.runner.campaign["acw_seconds"])
            loop = asyncio.get_running_loop()
            earlier = self.timers.pop(agent_id, None)  # the agent ended an earlier wrap early
            if earlier is not None:
                earlier.cancel()
            self.timers[agent_id] = loop.call_later(acw, self._wrapped, agent_id)
        return waiting

    def close(self) -> None:
        for handle in self.timers.values():
            handle.cancel()
        for agent_id in list(self.timers):
            self._wrapped(agent_id)

    def _queue(self, call_id: str, waiting: Waiting, grace: float) -> None:
        if self._connect(call_id, waiting):
            return
        self.waiting[call_id] = waiting
        asyncio.get_running_loop().call_later(grace, self._give_up, call_id)
        self.runner.poke()  # the runner looks for a ready agent while the caller waits

    def _connect(self, call_id: str, waiting: Waiting) -> bool:
        runner = self.runner
        call = runner.active.get(call_id)
        if call is None:
            return True  # gone already: nothing to connect
        taken = runner.ledger.take_agent(self.skill_group_id, runner.now())
        if taken is None:
            return False
        agent_id, endpoint = taken
        call.attempt.agent_id, call.attempt.connected_at = agent_id, runner.now()
        if waiting.handoff:
            call.attempt.transfer_result = TransferResult.BRIDGED.value
        else:
            self._observe(abandoned=False)
        runner.spawn(runner.driver.bridge_to_agent(call_id, endpoint))
        return True

    def _give_up(self, call_id: str) -> None:
        """Nobody took the call in time: a live answer is abandoned (a message, then hang up);
        a hand-off goes back to the script's fallback."""
        waiting = self.waiting.pop(call_id, None)
        if waiting is None:
            return
        if waiting.handoff:
            self.runner.handoff_failed(call_id)
            return
        self._observe(abandoned=True)
        call = self.runner.active.get(call_id)
        if call is not None:
            call.abandoned = True
            self.runner.spawn(self.runner.driver.hangup(call_id, "abandoned: no agent"))

    def _observe(self, abandoned: bool) -> None:
        """A live answer was connected or abandoned: the pacer's abandonment feedback."""
        pacer = self.runner.pacer
        if pacer is not None:
            pacer.observer.live_answer(self.runner.now().timestamp(), abandoned)

    def _wrapped(self, agent_id: int) -> None:
        self.timers.pop(agent_id, None)
        if not self.runner.ledger.agent_wrapped(agent_id, self.runner.now()):
            return
        if self.runner.pacer is not None:
            self.runner.pacer.observer.wrap_ended(float(self.runner.campaign["acw_seconds"]))
        self.serve_waiting()
        self.runner.poke()

    def serve_waiting(self) -> None:
        """Callers waiting go to agents now ready (after wrap-up, or who pressed ready through
        the API), oldest first."""
        while self.waiting:
            call_id, waiting = next(iter(self.waiting.items()))
            if not self._connect(call_id, waiting):
                break
            self.waiting.pop(call_id)
