"""Which driver serves a line: chosen by the line's ``driver`` and built from its settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outdial.clock import Clock
from outdial.engine.ports import Telephony
from outdial.engine.worker import DriverFactory
from outdial.sim.callees import CalleeModel
from outdial.telephony.freeswitch.driver import FreeSwitchTelephony
from outdial.telephony.freeswitch.pool import EslPool
from outdial.telephony.sim import SimTelephony
from outdial.telephony.sip.driver import SipTelephony

AVAILABLE_DRIVERS = frozenset({"sim", "freeswitch", "sip"})
"""Drivers this build can run; starting a campaign on a line with another is refused."""


class DriverUnavailable(Exception):
    """The line names a driver this build cannot run (yet)."""


def driver_factory(clock: Clock, open_secret: Callable[[str], str] | None = None) -> DriverFactory:
    """``open_secret`` turns a line's stored (sealed) password into the password: the SIP
    password, each FreeSWITCH node's Event Socket password."""
    pool = EslPool()  # one Event Socket connection per FreeSWITCH node, whichever lines use it

    def build(line: dict[str, Any]) -> Telephony:
        settings = line.get("settings") or {}
        if line.get("driver") == "sim":
            model = CalleeModel.from_mapping(
                settings.get("callees") or {}, seed=int(settings.get("seed") or 1)
            )
            return SimTelephony(model, clock, speed=float(settings.get("speed") or 1.0))
        if line.get("driver") == "freeswitch":
            nodes = [
                {**node, "password": opened(line, node.get("password") or "", open_secret)}
                for node in settings.get("nodes") or []
            ]
            return FreeSwitchTelephony(
                {**line, "settings": {**settings, "nodes": nodes}}, clock, pool
            )
        if line.get("driver") == "sip":
            password = opened(line, settings.get("password") or "", open_secret)
            return SipTelephony(line, clock, password)
        raise DriverUnavailable(
            f"line {line.get('id')}: driver {line.get('driver')!r} is not available in this build"
        )

    return build


def opened(line: dict[str, Any], stored: str, open_secret: Callable[[str], str] | None) -> str:
    """A password of the line as the driver sends it; refused without the key to open it."""
    if not stored:
        return ""
    if open_secret is None:
        raise DriverUnavailable(f"line {line.get('id')}: no key to open its password")
    return open_secret(stored)
