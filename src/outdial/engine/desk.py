"""The agent desk: answered calls of an agent-mode campaign go to the longest-idle ready agent
of its skill group; a call no agent takes within the grace time is abandoned; an agent does
after-call work for the campaign's ACW, then is ready again."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outdial.engine.runner import CampaignRunner

ABANDON_GRACE_SECONDS = 2.0  # FCC/Ofcom: connect within 2 s of the answer, or it is abandoned


@dataclass
class AgentDesk:
    runner: CampaignRunner
    skill_group_id: int
    waiting: OrderedDict[str, datetime] = field(default_factory=OrderedDict)
    timers: dict[int, asyncio.TimerHandle] = field(default_factory=dict)

    def answered(self, call_id: str, at: datetime) -> None:
        """A person answered: connect an agent now, or queue the call for the grace time."""
        if not self._connect(call_id):
            self.waiting[call_id] = at
            asyncio.get_running_loop().call_later(ABANDON_GRACE_SECONDS, self._give_up, call_id)

    def hung_up(self, call_id: str, agent_id: int | None, at: datetime) -> None:
        self.waiting.pop(call_id, None)
        if agent_id is None:
            return
        self.runner.ledger.agent_to_wrap(agent_id, at)
        acw = float(self.runner.campaign["acw_seconds"])
        self.timers[agent_id] = asyncio.get_running_loop().call_later(acw, self._wrapped, agent_id)

    def close(self) -> None:
        for handle in self.timers.values():
            handle.cancel()
        for agent_id in list(self.timers):
            self._wrapped(agent_id)

    def _connect(self, call_id: str) -> bool:
        runner = self.runner
        taken = runner.ledger.take_agent(self.skill_group_id, runner.now())
        if taken is None:
            return False
        agent_id, endpoint = taken
        self._observe(abandoned=False)
        call = runner.active[call_id]
        call.attempt.agent_id = agent_id
        runner.spawn(runner.driver.bridge_to_agent(call_id, endpoint))
        return True

    def _give_up(self, call_id: str) -> None:
        """Nobody took it in time: the call is abandoned (a message, then hang up)."""
        if self.waiting.pop(call_id, None) is None:
            return
        call = self.runner.active.get(call_id)
        self._observe(abandoned=True)
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
        while self.waiting:  # a caller is waiting: the agent takes them at once
            call_id = next(iter(self.waiting))
            if not self._connect(call_id):
                break
            self.waiting.pop(call_id)
        self.runner.poke()
