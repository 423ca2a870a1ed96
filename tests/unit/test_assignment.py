"""Who gets which contact of a manual (preview) campaign: 得助 taskAgents {agentId, assignNum}."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from outdial.domain.assignment import over_quota, plan_assignments


def test_counts_first_in_list_order_then_the_pool() -> None:
    plan = plan_assignments([(1, 2), (2, 3)], {}, list(range(100, 110)))
    assert plan == {1: [100, 101], 2: [102, 103, 104]}  # 105…109 stay in the pool


def test_contacts_already_held_count() -> None:
    plan = plan_assignments([(1, 3), (2, 2)], {1: 2, 2: 5}, [7, 8, 9])
    assert plan == {1: [7]}


def test_agents_without_a_count_share_the_rest_evenly() -> None:
    plan = plan_assignments([(1, None), (2, 1), (3, None)], {}, list(range(1, 8)))
    assert plan == {2: [1], 1: [2, 4, 6], 3: [3, 5, 7]}


def test_sharing_evens_out_what_agents_already_hold() -> None:
    plan = plan_assignments([(1, None), (2, None)], {1: 3}, [10, 11, 12, 13, 14])
    assert plan == {2: [10, 11, 12, 14], 1: [13]}  # at 3 each, a tie: the first listed


def test_nobody_listed_leaves_everything_in_the_pool() -> None:
    assert plan_assignments([], {}, [1, 2, 3]) == {}
    assert plan_assignments([(1, 0)], {}, [1, 2, 3]) == {}


def test_over_quota_after_a_count_is_lowered() -> None:
    assert over_quota([(1, 2), (2, None), (3, 5)], {1: 4, 2: 9, 3: 5}) == {1: 2}


@given(
    st.lists(st.tuples(st.integers(1, 8), st.none() | st.integers(0, 6)), max_size=6),
    st.dictionaries(st.integers(1, 8), st.integers(0, 6)),
    st.integers(0, 40),
)
def test_every_contact_once_counts_respected_and_deterministic(
    raw: list[tuple[int, int | None]], held: dict[int, int], n: int
) -> None:
    quotas = list({agent: (agent, count) for agent, count in raw}.values())  # agents once
    pool = list(range(1000, 1000 + n))
    plan = plan_assignments(quotas, held, pool)
    given_out = [c for ids in plan.values() for c in ids]
    assert len(given_out) == len(set(given_out)) and set(given_out) <= set(pool)
    for agent, count in quotas:
        if count is not None:
            assert held.get(agent, 0) + len(plan.get(agent, [])) <= max(count, held.get(agent, 0))
    if any(count is None for _, count in quotas):
        assert sorted(given_out) == pool  # sharers take everything the counts leave
    assert plan == plan_assignments(quotas, held, pool)
