"""The constrained-MDP oracle of the Markov calibration cell (dialing.md §4.2, §5.2 item 1)."""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import pytest

from outdial.sim.mdp import MdpResult, pending_cap, progressive_occupancy, solve

HANDLE, RESOLVE = 130.0, 15.0

# dialing.md §4.2, occupancy of the optimal non-anticipating dialer: (α, N, p) -> occupancy.
REFERENCE = {
    (0.03, 5, 0.20): 0.760,
    (0.03, 5, 0.35): 0.807,
    (0.03, 5, 0.60): 0.856,
    (0.03, 20, 0.20): 0.877,
    (0.03, 20, 0.35): 0.886,
    (0.03, 20, 0.60): 0.900,
    (0.03, 100, 0.35): 0.957,
    (0.03, 100, 0.60): 0.959,
    (0.01, 5, 0.35): 0.778,
    (0.01, 20, 0.35): 0.858,
    (0.01, 100, 0.35): 0.943,
}
# Not run here, to keep this file fast: (0.03, 100, 0.20) -> 0.955 (about 10 s on its own).
PROGRESSIVE = {0.20: 0.634, 0.35: 0.752, 0.60: 0.839}


@cache
def solved(alpha: float, agents: int, answer_rate: float) -> MdpResult:
    return solve(agents, answer_rate, alpha, mean_handle=HANDLE, mean_resolve=RESOLVE)


@pytest.mark.parametrize(("alpha", "agents", "answer_rate"), sorted(REFERENCE))
def test_reproduces_the_reference_optimum(alpha: float, agents: int, answer_rate: float) -> None:
    result = solved(alpha, agents, answer_rate)
    assert result.occupancy == pytest.approx(REFERENCE[alpha, agents, answer_rate], abs=0.003)


@pytest.mark.parametrize(("alpha", "agents", "answer_rate"), sorted(REFERENCE))
def test_meets_the_abandonment_target_exactly(
    alpha: float, agents: int, answer_rate: float
) -> None:
    result = solved(alpha, agents, answer_rate)
    assert result.abandonment <= alpha + 1e-6
    # The target binds: randomising the two bracketing policies spends all of it.
    assert result.abandonment == pytest.approx(alpha, abs=1e-6)
    assert result.feasible is not None and result.infeasible is not None
    assert result.feasible.abandonment <= alpha + 1e-6 < result.infeasible.abandonment
    assert 0.0 < result.weight <= 1.0
    assert result.lam > 0.0


@pytest.mark.parametrize(("alpha", "agents", "answer_rate"), sorted(REFERENCE))
def test_flow_balance(alpha: float, agents: int, answer_rate: float) -> None:
    """In steady state connects equal handle completions: E[b] / mean handle."""
    result = solved(alpha, agents, answer_rate)
    busy_per_second = result.occupancy * agents / HANDLE
    assert result.connects_per_second == pytest.approx(busy_per_second, rel=1e-7)


@pytest.mark.parametrize("agents", [5, 20])
@pytest.mark.parametrize("answer_rate", sorted(PROGRESSIVE))
def test_zero_target_is_progressive(agents: int, answer_rate: float) -> None:
    result = solved(0.0, agents, answer_rate)
    closed_form = progressive_occupancy(answer_rate, HANDLE, RESOLVE)
    assert closed_form == pytest.approx(PROGRESSIVE[answer_rate], abs=5e-4)
    assert result.occupancy == pytest.approx(closed_form, abs=1e-9)
    assert result.abandonment == 0.0
    assert result.policy == tuple(agents - busy for busy in range(agents + 1))


def test_occupancy_rises_with_the_target() -> None:
    occupancies = [solved(alpha, 20, 0.35).occupancy for alpha in (0.0, 0.01, 0.03)]
    assert occupancies == sorted(occupancies)
    assert occupancies[0] < occupancies[1] - 0.05


def test_optimal_policy_structure_at_20_agents() -> None:
    """dialing.md §4.2: about 2.6 pending dials per idle agent, none when all agents are busy."""
    result = solved(0.03, 20, 0.35)
    targets = result.policy
    assert targets[20] == 0
    assert (targets[19], targets[18], targets[14]) == (1, 4, 15)
    # The reference gives b = 16 -> 9. At the optimal λ both bracketing policies dial up to 10
    # there (9 wins only for λ a little above it, where abandonment is 2.6-3.0 %).
    assert targets[16] == 10
    for busy in range(12, 18):
        assert targets[busy] == pytest.approx(2.6 * (20 - busy), abs=1.0)
    assert list(targets) == sorted(targets, reverse=True)


# --- an independent check on a tiny cell: exact CTMC evaluation of every threshold policy -------


def _threshold_performance(
    agents: int, answer_rate: float, targets: tuple[int, ...]
) -> tuple[float, float, float]:
    """(connects/s, abandons/s, live/s) of 'dial up to targets[b]', from the CTMC generator."""
    cap = pending_cap(agents, answer_rate, HANDLE, RESOLVE)
    width = cap + 1
    size = (agents + 1) * width

    def after(busy: int, pending: int) -> int:
        return busy * width + max(pending, targets[busy])

    generator = np.zeros((size, size))
    for busy, pending in itertools.product(range(agents + 1), range(width)):
        here = busy * width + pending
        moves = [(busy / HANDLE, after(busy - 1, pending))] if busy else []
        if pending:
            resolve = pending / RESOLVE
            live_to = after(min(busy + 1, agents), pending - 1)
            moves += [(resolve * answer_rate, live_to)]
            moves += [(resolve * (1 - answer_rate), after(busy, pending - 1))]
        if pending < targets[busy]:  # never entered: leave at once for where the dialer puts it
            moves = [(1.0, after(busy, pending))]
        for rate, there in moves:
            generator[here, there] += rate
            generator[here, here] -= rate
    system = generator.T.copy()  # balance equations; any one of them follows from the others
    system[-1] = 1.0  # ... so replace it by the normalisation
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    stationary = np.linalg.solve(system, rhs).reshape(agents + 1, width)
    live = float((stationary * np.arange(width)).sum()) * answer_rate / RESOLVE
    abandons = float((stationary[-1] * np.arange(width)).sum()) * answer_rate / RESOLVE
    return live - abandons, abandons, live


def _best_threshold_mixture(agents: int, answer_rate: float, alpha: float) -> float:
    """Best connects/s over time-sharings of two threshold policies with abandonment ≤ α."""
    cap = pending_cap(agents, answer_rate, HANDLE, RESOLVE)
    rows = []
    for head in itertools.combinations_with_replacement(range(cap, -1, -1), agents):
        rows.append(_threshold_performance(agents, answer_rate, (*head, 0)))
    connects, abandons, live = np.array(rows).T
    slack = alpha * live - abandons
    feasible, infeasible = slack >= 0, slack < 0
    best = float(connects[feasible].max())
    f_slack, i_slack = slack[feasible][:, None], -slack[infeasible][None, :]
    weight = i_slack / (f_slack + i_slack)  # share of the feasible one: slack exactly spent
    mixed = weight * connects[feasible][:, None] + (1 - weight) * connects[infeasible][None, :]
    return max(best, float(mixed.max()))


@pytest.mark.parametrize(("agents", "answer_rate"), [(2, 0.35), (2, 0.6), (3, 0.35)])
def test_matches_brute_force_over_threshold_policies_on_a_tiny_cell(
    agents: int, answer_rate: float
) -> None:
    result = solve(agents, answer_rate, 0.03, mean_handle=HANDLE, mean_resolve=RESOLVE)
    assert result.connects_per_second == pytest.approx(
        _best_threshold_mixture(agents, answer_rate, 0.03), rel=1e-7
    )
    assert result.feasible is not None
    exact = _threshold_performance(agents, answer_rate, result.feasible.targets)
    assert result.feasible.connects_per_second == pytest.approx(exact[0], rel=1e-8)
    assert result.feasible.abandons_per_second == pytest.approx(exact[1], rel=1e-6, abs=1e-12)
