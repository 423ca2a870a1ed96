"""Who gets which contact in a manual (preview) campaign: 得助 taskAgents ``{agentId, assignNum}``.

A campaign's ``agent_assignments`` list its agents, each with an optional ``assign_count``: how
many of the campaign's contacts the agent gets in all (contacts already handled count). The rule,
applied to the campaign's unassigned pending contacts in the order they were added:

1. agents with a count, in the order listed, each take contacts until they hold their count;
2. agents without a count share the rest: each next contact goes to the one of them holding the
   fewest (ties: the first listed), so a list split between them stays even across appends;
3. what is left (every agent has a count and they are all full) is the **pool**: any agent of the
   campaign may take it, after their own contacts.

The same inputs always give the same answer.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence

Quota = tuple[int, int | None]  # (agent id, assign_count or None: share the rest)


def plan_assignments(
    quotas: Sequence[Quota], held: Mapping[int, int], pool: Sequence[int]
) -> dict[int, list[int]]:
    """Contacts of ``pool`` (ids, in order) for each agent: agent id → contact ids.

    ``held`` is how many contacts each agent holds already. Contacts not in the answer stay in
    the pool."""
    out: dict[int, list[int]] = {}
    remaining = iter(pool)
    for agent_id, count in quotas:
        if count is not None:
            room = count - held.get(agent_id, 0)
            out[agent_id] = list(_take(remaining, room))
    sharers = [(held.get(a, 0), i, a) for i, (a, count) in enumerate(quotas) if count is None]
    heapq.heapify(sharers)  # the sharer holding the fewest, the first listed on a tie
    for contact_id in remaining if sharers else ():
        load, position, agent_id = sharers[0]
        out.setdefault(agent_id, []).append(contact_id)
        heapq.heapreplace(sharers, (load + 1, position, agent_id))
    return {a: ids for a, ids in out.items() if ids}


def over_quota(quotas: Sequence[Quota], held: Mapping[int, int]) -> dict[int, int]:
    """How many contacts each agent holds beyond its count (after the count was lowered)."""
    return {
        agent_id: held.get(agent_id, 0) - count
        for agent_id, count in quotas
        if count is not None and held.get(agent_id, 0) > count
    }


def _take(items: Iterator[int], n: int) -> Iterator[int]:
    for _ in range(max(0, n)):
        item = next(items, None)
        if item is None:
            return
        yield item
