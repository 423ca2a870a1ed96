"""The webhook delivery settings from the environment: the lease, and when an endpoint that
keeps failing is disabled; each bad value refused naming its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from outdial.io.webhooks import DeliverySettings
from outdial.settings import load_settings


def test_defaults_and_given_values(tmp_path: Path) -> None:
    plain = DeliverySettings.from_settings(load_settings(tmp_path, env={}))
    assert (plain.lease_seconds, plain.timeout_seconds) == (30.0, 10.0)
    assert (plain.disable_after_seconds, plain.disable_after_dead) == (72 * 3600.0, None)
    env = {
        "OUTDIAL_WEBHOOK_LEASE_SECONDS": "45",
        "OUTDIAL_WEBHOOK_DISABLE_AFTER_HOURS": "0",
        "OUTDIAL_WEBHOOK_DISABLE_AFTER_DEAD": "20",
    }
    given = DeliverySettings.from_settings(load_settings(tmp_path, env=env))
    assert given.lease_seconds == 45.0
    assert (given.disable_after_seconds, given.disable_after_dead) == (None, 20)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OUTDIAL_WEBHOOK_LEASE_SECONDS", "10"),  # no longer than a request may take
        ("OUTDIAL_WEBHOOK_LEASE_SECONDS", "0"),
        ("OUTDIAL_WEBHOOK_LEASE_SECONDS", "thirty"),
        ("OUTDIAL_WEBHOOK_DISABLE_AFTER_HOURS", "-1"),
        ("OUTDIAL_WEBHOOK_DISABLE_AFTER_HOURS", "1.5"),
        ("OUTDIAL_WEBHOOK_DISABLE_AFTER_DEAD", "many"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        load_settings(tmp_path, env={name: value})
