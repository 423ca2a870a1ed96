"""A SIP line's settings as the driver uses them (validated at line creation: services/models.py,
SipLineSettings, with the rules here). The password arrives already opened (the store keeps it
sealed, services/secrets.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from outdial.telephony.freeswitch.config import national
from outdial.telephony.sip.transaction import TimerConfig

NUMBER_FORMATS = ("e164", "digits", "national")
"""How the dialled number is written in the Request-URI's user part: +8613800000000,
8613800000000, or 13800000000 (after the line's ``prefix``)."""

USER_PART = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]*$")
"""Characters a SIP URI's user part may hold unescaped (RFC 3261 §25.1)."""
HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*|[A-Za-z0-9.\-]+)$")
"""A host name, an IPv4 address, or an IPv6 one (bare or in brackets)."""


@dataclass(frozen=True)
class SipLineConfig:
    line_id: int
    host: str
    port: int = 5060
    transport: str = "udp"
    username: str = ""  # digest user; empty: the trunk does not challenge
    password: str = ""
    from_user: str = ""  # empty: the caller number
    from_domain: str = ""  # empty: the trunk host
    number_format: str = "e164"
    prefix: str = ""
    local_host: str = ""  # empty: the address that routes to the trunk
    local_port: int = 0  # 0: any free port
    max_call_seconds: int = 0  # 0: an answered call lasts until someone hangs up
    timers: TimerConfig = field(default_factory=TimerConfig)

    @classmethod
    def from_line(cls, line: Mapping[str, Any], password: str = "") -> SipLineConfig:
        s = line.get("settings") or {}
        t1 = float(s.get("t1_ms") or 500) / 1000
        return cls(
            line_id=int(line["id"]),
            host=s["host"],
            port=int(s.get("port") or 5060),
            transport=s.get("transport") or "udp",
            username=s.get("username") or "",
            password=password,
            from_user=s.get("from_user") or "",
            from_domain=s.get("from_domain") or "",
            number_format=s.get("number_format") or "e164",
            prefix=s.get("prefix") or "",
            local_host=s.get("local_host") or "",
            local_port=int(s.get("local_port") or 0),
            max_call_seconds=int(s.get("max_call_seconds") or 0),
            timers=TimerConfig(t1=t1, t2=max(t1, 4.0)),
        )

    @property
    def reliable(self) -> bool:
        return self.transport == "tcp"

    def user(self, number: str) -> str:
        """The Request-URI's user part for ``number`` (E.164)."""
        if self.number_format == "digits":
            written = number.lstrip("+")
        elif self.number_format == "national":
            written = national(number)
        else:
            written = number
        return self.prefix + written

    def request_uri(self, number: str) -> str:
        suffix = ";transport=tcp" if self.reliable else ""
        return f"sip:{self.user(number)}@{self.hostport}{suffix}"

    def to_uri(self, number: str) -> str:
        return f"sip:{self.user(number)}@{self.domain}"

    def from_uri(self, caller_number: str) -> str:
        return f"sip:{self.from_user or caller_number or 'anonymous'}@{self.domain}"

    @property
    def domain(self) -> str:
        return self.from_domain or self.host

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return host if self.port == 5060 else f"{host}:{self.port}"
