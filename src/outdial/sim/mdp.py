"""Exact constrained-MDP optimum of the Markov calibration cell (dialing.md §4.2).

Model: ``N`` agents; state ``(b, r)`` with ``b`` busy agents (handle ~ Exp(mean_handle)) and
``r`` pending dials (each resolves ~ Exp(mean_resolve)); a resolution is a live answer with
probability ``p``; a live answer is connected if ``b < N`` and abandoned otherwise (zero
patience). At every event the dialer may raise ``r`` to any ``r' >= r`` (dials cannot be
cancelled), up to the cap ``3·N·mean_resolve/(mean_handle·p) + 20``. Objective: maximise the
long-run connect rate (equivalently the occupancy ``E[b]/N``, since connects = ``E[b]/handle``)
subject to ``abandons / live answers <= α``.

Method: Lagrangian reward ``1 + λα`` per connect and ``-λ(1-α)`` per abandon; relative value
iteration on the post-decision values after uniformisation, the max over ``r' >= r`` being a
suffix max along ``r`` (O(states) per iteration); a search on ``λ`` that keeps two deterministic
policies bracketing ``α`` (bisection, accelerated by trying the ``λ`` where the two policies'
Lagrangian gains cross, and stopping exactly when that ``λ`` yields nothing better); then the
time-sharing of the two policies that spends exactly ``α``. A policy is evaluated through the
stationary distribution of its post-decision chain (power iteration). With ``α = 0`` the
constraint allows no state from which an abandon is possible (``r > N - b``), so the solver
maximises over the dials that keep ``r <= N - b``, and finds progressive dialing.
Everything is vectorised with numpy over the whole ``(b, r)`` grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["MdpResult", "PolicyEvaluation", "pending_cap", "progressive_occupancy", "solve"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

_RVI_TOLERANCE = 1e-10  # span of T(W) - W, in reward units per uniformised step
_RVI_TOLERANCE_FLOOR = 1e-13  # float64 noise on values of order 10-100
_RVI_MAX_ITERATIONS = 500_000
_STATIONARY_TOLERANCE = 1e-13  # L1 change of the distribution over one check period
_STATIONARY_CHECK_EVERY = 64
_STATIONARY_MAX_ITERATIONS = 2_000_000
_TIE_TOLERANCE = 1e-11  # dial no more than needed when values tie
_LAMBDA_RELATIVE_WIDTH = 1e-9
_LAMBDA_MAX = 1e12
_DUAL_MAX_STEPS = 200
_LAGRANGIAN_TOLERANCE = 1e-9  # relative: both bracketing policies are optimal at this λ
_FEASIBILITY_SLACK = 1e-9  # abandonment may exceed α by this (absolute, on the ratio)


@dataclass(frozen=True)
class PolicyEvaluation:
    """Long-run performance of one deterministic policy."""

    targets: tuple[int, ...]  # dial-up-to level from r = 0, per b = 0..N
    occupancy: float  # E[b] / N
    live_per_second: float
    abandons_per_second: float
    connects_per_second: float

    @property
    def abandonment(self) -> float:
        """Abandoned live answers over live answers (FCC definition)."""
        return self.abandons_per_second / self.live_per_second if self.live_per_second else 0.0


@dataclass(frozen=True)
class MdpResult:
    """The constrained optimum: a randomisation of two deterministic policies."""

    occupancy: float
    abandonment: float
    connects_per_second: float
    # Dial-up-to level per b (r' = max(r, policy[b])) of the deterministic policy nearest the
    # target, i.e. the one the randomisation uses most.
    policy: tuple[int, ...]
    lam: float  # the Lagrange multiplier (0.0 when the constraint does not bind, or α = 0)
    weight: float = 1.0  # share of time on the feasible policy (1.0: no randomisation)
    feasible: PolicyEvaluation | None = field(default=None, repr=False)
    infeasible: PolicyEvaluation | None = field(default=None, repr=False)


def progressive_occupancy(
    answer_rate: float, mean_handle: float = 130.0, mean_resolve: float = 15.0
) -> float:
    """Occupancy of progressive dialing (the α = 0 optimum): ``h / (h + resolve / p)``."""
    return mean_handle / (mean_handle + mean_resolve / answer_rate)


def pending_cap(
    agents: int, answer_rate: float, mean_handle: float = 130.0, mean_resolve: float = 15.0
) -> int:
    """Largest number of pending dials the model allows."""
    return math.floor(3 * agents * mean_resolve / (mean_handle * answer_rate) + 20)


class _Cell:
    """The uniformised post-decision chain of one cell, as arrays over the ``(b, r)`` grid."""

    def __init__(
        self,
        agents: int,
        answer_rate: float,
        mean_handle: float,
        mean_resolve: float,
        *,
        safe_only: bool = False,
    ) -> None:
        self.agents = agents
        self.p = answer_rate
        self.cap = pending_cap(agents, answer_rate, mean_handle, mean_resolve)
        mu, nu = 1.0 / mean_handle, 1.0 / mean_resolve
        # 5 % headroom keeps a self-loop in every state (aperiodicity).
        self.rate = 1.05 * (mu * agents + nu * self.cap)
        self.b = np.arange(agents + 1, dtype=np.float64)[:, None]
        r = np.arange(self.cap + 1, dtype=np.float64)[None, :]
        self.p_down = mu * self.b / self.rate  # a handle ends
        p_resolve = np.broadcast_to(nu * r / self.rate, (agents + 1, self.cap + 1))
        self.p_stay = 1.0 - self.p_down - p_resolve
        self.live = p_resolve * answer_rate  # per-step probability of a live answer
        self.p_miss = p_resolve * (1.0 - answer_rate)
        self.row_offset = (np.arange(agents + 1, dtype=np.intp) * (self.cap + 1))[:, None]
        self.columns = np.broadcast_to(np.arange(self.cap + 1, dtype=np.intp), self.shape)
        # With α = 0 no post-decision state may risk an abandon, i.e. have r > N - b: dials may
        # then only raise r up to N - b (states already beyond it are left alone).
        self.unsafe = self.columns > agents - self.b if safe_only else None

    @property
    def shape(self) -> tuple[int, int]:
        return (self.agents + 1, self.cap + 1)

    def bellman(self, w: FloatArray, reward: FloatArray) -> FloatArray:
        """One application of the uniformised Bellman operator to post-decision values."""
        v = self.decide(w)
        out = self.p_stay * v
        out += reward
        out[1:] += self.p_down[1:] * v[:-1]  # a handle ends: (b - 1, r)
        out[:, 1:] += self.p_miss[:, 1:] * v[:, :-1]  # not live: (b, r - 1)
        out[:-1, 1:] += self.live[:-1, 1:] * v[1:, :-1]  # connected: (b + 1, r - 1)
        out[-1, 1:] += self.live[-1, 1:] * v[-1, :-1]  # abandoned: (N, r - 1)
        return out

    def decide(self, w: FloatArray) -> FloatArray:
        """Pre-decision values: the best allowed ``r' >= r``."""
        if self.unsafe is None:
            return _suffix_max(w)
        return np.maximum(w, _suffix_max(np.where(self.unsafe, -np.inf, w)))

    def greedy(self, w: FloatArray) -> IntArray:
        """Smallest allowed ``r' >= r`` that (up to ties) maximises the post-decision value."""
        if self.unsafe is None:
            return _greedy_action(w, self.columns)
        action = _greedy_action(np.where(self.unsafe, -np.inf, w), self.columns)
        return np.where(self.unsafe, self.columns, action).astype(np.intp)

    def step(self, post: FloatArray, action: IntArray) -> FloatArray:
        """Push a distribution over post-decision states through one uniformised step."""
        pre = post * self.p_stay
        pre[:-1] += self.p_down[1:] * post[1:]
        pre[:, :-1] += self.p_miss[:, 1:] * post[:, 1:]
        pre[1:, :-1] += self.live[:-1, 1:] * post[:-1, 1:]
        pre[-1, :-1] += self.live[-1, 1:] * post[-1, 1:]
        moved = np.bincount(action.ravel(), weights=pre.ravel(), minlength=post.size)
        return moved.astype(np.float64, copy=False).reshape(self.shape)


def _suffix_max(w: FloatArray) -> FloatArray:
    return np.maximum.accumulate(w[:, ::-1], axis=1)[:, ::-1]


def _greedy_action(w: FloatArray, index: IntArray) -> IntArray:
    """Smallest ``r' >= r`` that (up to ties) maximises the post-decision value, per state."""
    best_after = np.full_like(w, -np.inf)
    best_after[:, :-1] = _suffix_max(w)[:, 1:]
    margin = _TIE_TOLERANCE * (1.0 + np.abs(np.maximum(best_after, -1.0 / _TIE_TOLERANCE)))
    own = np.where(w >= best_after - margin, index, w.shape[1])
    chosen: IntArray = np.minimum.accumulate(own[:, ::-1], axis=1)[:, ::-1]
    return chosen


class _Solver:
    def __init__(self, cell: _Cell, alpha: float) -> None:
        self.cell = cell
        self.alpha = alpha
        self.values = np.zeros(cell.shape)
        self.distribution = np.zeros(cell.shape)
        self.distribution[0, min(cell.agents, cell.cap)] = 1.0
        self.evaluations: dict[bytes, PolicyEvaluation] = {}

    def reward(self, lam: float) -> FloatArray:
        """Lagrangian reward per uniformised step, scaled by ``1 / (1 + λ)`` to stay bounded."""
        per_live = np.full((self.cell.agents + 1, 1), (1.0 + lam * self.alpha) / (1.0 + lam))
        per_live[-1] = -lam * (1.0 - self.alpha) / (1.0 + lam)
        reward: FloatArray = self.cell.live * per_live
        return reward

    def optimal_action(self, lam: float) -> IntArray:
        """Relative value iteration, warm-started from the last solve."""
        reward = self.reward(lam)
        tolerance = max(_RVI_TOLERANCE / (1.0 + lam), _RVI_TOLERANCE_FLOOR)
        w = self.values
        for _ in range(_RVI_MAX_ITERATIONS):
            new = self.cell.bellman(w, reward)
            change = new - w
            new -= new[0, 0]
            w = new
            if float(change.max() - change.min()) < tolerance:
                break
        else:
            raise RuntimeError(f"relative value iteration did not converge (λ = {lam})")
        self.values = w
        return self.cell.greedy(w)

    def evaluate(self, action: IntArray) -> PolicyEvaluation:
        key = action.tobytes()
        if key not in self.evaluations:
            self.evaluations[key] = self._evaluate(action)
        return self.evaluations[key]

    def _evaluate(self, action: IntArray) -> PolicyEvaluation:
        cell = self.cell
        flat = action + cell.row_offset
        post = self.distribution
        for iteration in range(_STATIONARY_MAX_ITERATIONS):
            new = cell.step(post, flat)
            if iteration % _STATIONARY_CHECK_EVERY == 0:
                new /= new.sum()
                if float(np.abs(new - post).sum()) < _STATIONARY_TOLERANCE:
                    post = new
                    break
            post = new
        else:
            raise RuntimeError("stationary distribution did not converge")
        self.distribution = post
        live = float((post * cell.live).sum()) * cell.rate
        abandons = float((post[-1] * cell.live[-1]).sum()) * cell.rate
        busy = float((post * cell.b).sum())
        return PolicyEvaluation(
            targets=tuple(int(t) for t in action[:, 0]),
            occupancy=busy / cell.agents,
            live_per_second=live,
            abandons_per_second=abandons,
            connects_per_second=live - abandons,
        )

    def at(self, lam: float) -> PolicyEvaluation:
        return self.evaluate(self.optimal_action(lam))

    def lagrangian(self, evaluation: PolicyEvaluation, lam: float) -> float:
        """Long-run Lagrangian gain per second (connects + λ·(α·live − abandons))."""
        slack = self.alpha * evaluation.live_per_second - evaluation.abandons_per_second
        return evaluation.connects_per_second + lam * slack

    def feasible(self, evaluation: PolicyEvaluation) -> bool:
        excess = evaluation.abandons_per_second - self.alpha * evaluation.live_per_second
        return excess <= _FEASIBILITY_SLACK * evaluation.live_per_second


def solve(
    agents: int,
    answer_rate: float,
    abandon_target: float,
    mean_handle: float = 130.0,
    mean_resolve: float = 15.0,
) -> MdpResult:
    """Best non-anticipating dialer of the Markov cell at abandonment ≤ ``abandon_target``."""
    if agents < 1 or not 0.0 < answer_rate <= 1.0 or not 0.0 <= abandon_target < 1.0:
        raise ValueError("need agents >= 1, 0 < answer_rate <= 1, 0 <= abandon_target < 1")
    if mean_handle <= 0.0 or mean_resolve <= 0.0:
        raise ValueError("mean times must be positive")
    cell = _Cell(agents, answer_rate, mean_handle, mean_resolve, safe_only=abandon_target == 0.0)
    solver = _Solver(cell, abandon_target)
    lo, low = 0.0, solver.at(0.0)
    if solver.feasible(low):
        return _single(low)
    hi, high = 1.0, solver.at(1.0)
    while not solver.feasible(high):
        lo, low = hi, high
        hi *= 8.0
        if hi > _LAMBDA_MAX:
            raise RuntimeError("no feasible policy found")
        high = solver.at(hi)
    for _ in range(_DUAL_MAX_STEPS):
        lam = _crossing(low, high, abandon_target)
        if not lo < lam < hi or hi - lo <= _LAMBDA_RELATIVE_WIDTH * hi:
            lam = 0.5 * (lo + hi)
        middle = solver.at(lam)
        if (
            middle in (low, high)
            or solver.lagrangian(middle, lam)
            <= solver.lagrangian(low, lam)
            + _LAGRANGIAN_TOLERANCE * (1.0 + lam) * low.connects_per_second
        ):
            return _randomise(high, low, abandon_target, lam)
        if solver.feasible(middle):
            hi, high = lam, middle
        else:
            lo, low = lam, middle
        if hi - lo <= _LAMBDA_RELATIVE_WIDTH * hi:
            break
    return _randomise(high, low, abandon_target, hi)


def _crossing(low: PolicyEvaluation, high: PolicyEvaluation, alpha: float) -> float:
    """The λ at which the two policies' Lagrangian gains are equal."""
    slack_low = alpha * low.live_per_second - low.abandons_per_second
    slack_high = alpha * high.live_per_second - high.abandons_per_second
    if slack_high <= slack_low:
        return math.nan
    return (low.connects_per_second - high.connects_per_second) / (slack_high - slack_low)


def _single(evaluation: PolicyEvaluation) -> MdpResult:
    return MdpResult(
        occupancy=evaluation.occupancy,
        abandonment=evaluation.abandonment,
        connects_per_second=evaluation.connects_per_second,
        policy=evaluation.targets,
        lam=0.0,
        feasible=evaluation,
    )


def _randomise(
    feasible: PolicyEvaluation, infeasible: PolicyEvaluation, alpha: float, lam: float
) -> MdpResult:
    """Time-share the bracketing policies so that abandons = α · live answers exactly."""
    slack = alpha * feasible.live_per_second - feasible.abandons_per_second
    excess = infeasible.abandons_per_second - alpha * infeasible.live_per_second
    weight = min(1.0, max(0.0, excess / (excess + slack))) if excess + slack > 0 else 1.0

    def mix(a: float, b: float) -> float:
        return weight * a + (1.0 - weight) * b

    live = mix(feasible.live_per_second, infeasible.live_per_second)
    abandons = mix(feasible.abandons_per_second, infeasible.abandons_per_second)
    nearest = feasible if weight >= 0.5 else infeasible
    return MdpResult(
        occupancy=mix(feasible.occupancy, infeasible.occupancy),
        abandonment=abandons / live,
        connects_per_second=mix(feasible.connects_per_second, infeasible.connects_per_second),
        policy=nearest.targets,
        lam=lam,
        weight=weight,
        feasible=feasible,
        infeasible=infeasible,
    )
