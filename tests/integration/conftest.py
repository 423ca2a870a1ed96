"""Fixtures of the engine tests in virtual time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from outdial.store.store import Store
from tests.integration.test_engine_rules import Rig, RigFactory


@pytest.fixture
def make_rig(store: Store) -> Iterator[RigFactory]:
    """A factory of Rigs (tenant, line, script, services and a virtual loop) on ``store``."""
    made: list[Rig] = []

    def make(**options: Any) -> Rig:
        rig = Rig(store, **options)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()
