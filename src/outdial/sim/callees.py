"""Simulated callees: what happens when a number is dialed, seeded and deterministic.

Each number has a persistent trait (a dead number stays dead: 空号, 停机, 欠费) and each attempt
draws its behaviour from a random stream keyed by (seed, number, attempt), so every policy and
every run sees the same callees (common random numbers).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from outdial.domain.outcomes import Outcome


@dataclass(frozen=True)
class Dist:
    """A non-negative duration distribution in seconds."""

    kind: str = "fixed"
    a: float = 0.0
    b: float = 0.0

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "exponential":
            return rng.expovariate(1 / self.a) if self.a > 0 else 0.0
        if self.kind == "lognormal":  # a = median, b = sigma of the log
            return rng.lognormvariate(math.log(self.a), self.b)
        raise ValueError(f"unknown distribution {self.kind!r}")

    @classmethod
    def parse(cls, spec: Mapping[str, Any] | float | int) -> Dist:
        """``{"dist": "lognormal", "median": 9, "sigma": 0.42}``, ``{"mean": 60, "cv": 1}``,
        ``{"dist": "uniform", "low": 1, "high": 3}``, ``{"dist": "exponential", "mean": 15}``, or
        a number (fixed)."""
        if isinstance(spec, int | float):
            return cls("fixed", float(spec))
        kind = str(spec.get("dist", "fixed"))
        if kind == "lognormal":
            if "median" in spec:
                return cls(kind, float(spec["median"]), float(spec.get("sigma", 0.5)))
            mean, cv = float(spec["mean"]), float(spec.get("cv", 1.0))
            sigma = math.sqrt(math.log(1 + cv * cv))
            return cls(kind, mean / math.exp(sigma * sigma / 2), sigma)
        if kind == "uniform":
            return cls(kind, float(spec["low"]), float(spec["high"]))
        if kind == "exponential":
            return cls(kind, float(spec["mean"]))
        if kind == "fixed":
            return cls(kind, float(spec.get("value", 0)))
        raise ValueError(f"unknown distribution {kind!r}")


DEAD_TRAITS = (Outcome.INVALID_NUMBER, Outcome.SUSPENDED, Outcome.IN_ARREARS)
PER_ATTEMPT = (
    Outcome.ANSWERED,
    Outcome.ANSWERED_MACHINE,
    Outcome.BUSY,
    Outcome.REJECTED,
    Outcome.POWERED_OFF,
    Outcome.UNREACHABLE,
    Outcome.CARRIER_FAILURE,
)
DISTRIBUTIONS = (
    "pdd",
    "ring_answer",
    "ring_reject",
    "announcement",
    "talk",
    "machine_detect",
    "handoff_after",
    "agent_talk",
)
NATIVE_CAUSE = {
    Outcome.ANSWERED: "NORMAL_CLEARING",
    Outcome.ANSWERED_MACHINE: "NORMAL_CLEARING",
    Outcome.NO_ANSWER: "NO_ANSWER",
    Outcome.BUSY: "USER_BUSY",
    Outcome.REJECTED: "CALL_REJECTED",
    Outcome.POWERED_OFF: "SUBSCRIBER_ABSENT",
    Outcome.UNREACHABLE: "NO_ROUTE_DESTINATION",
    Outcome.INVALID_NUMBER: "UNALLOCATED_NUMBER",
    Outcome.SUSPENDED: "OUTGOING_CALL_BARRED",
    Outcome.IN_ARREARS: "OUTGOING_CALL_BARRED",
    Outcome.CARRIER_FAILURE: "NETWORK_OUT_OF_ORDER",
}


@dataclass(frozen=True)
class CalleeModel:
    """Who answers and how: rates per outcome (the rest do not answer) and durations."""

    rates: Mapping[Outcome, float] = field(
        default_factory=lambda: {Outcome.ANSWERED: 0.35, Outcome.BUSY: 0.05}
    )
    pdd: Dist = Dist("uniform", 1, 3)  # post-dial delay before ringing or a fast failure
    ring_answer: Dist = Dist("lognormal", 9, 0.42)  # ringing before a human/machine answers
    ring_reject: Dist = Dist("uniform", 2, 8)
    announcement: Dist = Dist("uniform", 4, 10)  # 关机/空号 announcements before release
    talk: Dist = Dist("lognormal", 45, 0.8)  # the script's conversation with a human
    machine_detect: Dist = Dist("fixed", 3)
    handoff_share: float = 0.0  # of the people the script talks to, who ask for a human
    handoff_after: Dist = Dist("uniform", 10, 40)  # script talk before the hand-off
    agent_talk: Dist | None = None  # talk with the agent after a hand-off (default: talk)
    seed: int = 1

    def __post_init__(self) -> None:
        if sum(self.rates.values()) > 1.0 + 1e-9:
            raise ValueError("outcome rates add up to more than 1")
        if not 0.0 <= self.handoff_share <= 1.0:
            raise ValueError("handoff_share must be within 0 and 1")

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any], seed: int = 1) -> CalleeModel:
        rates = {
            Outcome(k.removesuffix("_rate")): float(v)
            for k, v in spec.items()
            if k.endswith("_rate")
        }
        dists = {k: Dist.parse(v) for k, v in spec.items() if k in DISTRIBUTIONS}
        return cls(
            rates=rates,
            seed=int(spec.get("seed", seed)),
            handoff_share=float(spec.get("handoff_share", 0.0)),
            **dists,
        )

    def handoff(self, number: str, attempt: int) -> tuple[float, float] | None:
        """(script talk before the hand-off, talk with the agent) if this person asks for a
        human; drawn from its own stream, so the other draws stay as they were."""
        if self.handoff_share <= 0.0:
            return None
        rng = _stream(self.seed, f"{number}#handoff", attempt)
        if rng.random() >= self.handoff_share:
            return None
        return self.handoff_after.sample(rng), (self.agent_talk or self.talk).sample(rng)

    def trait(self, number: str) -> Outcome | None:
        """A persistent dead-number trait, or None for a working number."""
        draw = _stream(self.seed, number, -1).random()
        edge = 0.0
        for outcome in DEAD_TRAITS:
            edge += self.rates.get(outcome, 0.0)
            if draw < edge:
                return outcome
        return None

    def behaviour(self, number: str, attempt: int) -> tuple[Outcome, random.Random]:
        """This attempt's outcome class (before ring timeouts) and its random stream."""
        rng = _stream(self.seed, number, attempt)
        if (dead := self.trait(number)) is not None:
            return dead, rng
        alive = 1.0 - sum(self.rates.get(o, 0.0) for o in DEAD_TRAITS)
        draw = rng.random() * alive
        edge = 0.0
        for outcome in PER_ATTEMPT:
            edge += self.rates.get(outcome, 0.0)
            if draw < edge:
                return outcome, rng
        return Outcome.NO_ANSWER, rng


def _stream(seed: int, number: str, attempt: int) -> random.Random:
    digest = hashlib.blake2b(f"{seed}:{number}:{attempt}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))
