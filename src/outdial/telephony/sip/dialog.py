"""The UAC side of one call: the requests it sends and the dialog state they build on.

Pure: a ``Leg`` holds the identifiers (Call-ID, our tag, CSeq) and what the responses taught
(the remote tag, the remote target from Contact, the route set from Record-Route); its
methods build the INVITE, the ACK of a 2xx, BYE and CANCEL (RFC 3261 §12, §13, §9), and the
SDP offer. The branch values come in from the caller, as does every random identifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from outdial.telephony.sip.message import (
    BRANCH_MAGIC,
    Message,
    in_invite_transaction,
    name_addr,
    request,
)

USER_AGENT = "outdial"
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"


@dataclass(frozen=True)
class Local:
    """Where we are: the transport and the address put in Via and Contact."""

    host: str
    port: int
    transport: str = "UDP"  # UDP or TCP


def via(local: Local, branch: str) -> str:
    return f"SIP/2.0/{local.transport} {hostport(local.host, local.port)};branch={branch};rport"


def hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def new_branch(token: str) -> str:
    return BRANCH_MAGIC + token


def sdp_offer(host: str, port: int, session_id: int) -> bytes:
    """An audio offer, PCMU/PCMA and telephone-event (signalling only: nothing listens)."""
    ip = "IP6" if ":" in host else "IP4"
    lines = [
        "v=0",
        f"o=outdial {session_id} {session_id} IN {ip} {host}",
        "s=outdial",
        f"c=IN {ip} {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass
class Leg:
    """One outgoing call's dialog (early, then confirmed)."""

    local: Local
    call_id: str
    local_tag: str
    request_uri: str  # sip:<number>@<trunk>
    from_uri: str  # sip:<caller>@<domain>
    to_uri: str
    display: str = ""
    cseq: int = 1
    remote_tag: str = ""
    remote_target: str = ""
    route_set: list[str] = field(default_factory=list)
    invite: Message | None = None  # the INVITE last sent (with credentials, if any)
    extra_headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def from_header(self) -> str:
        display = f'"{self.display}" ' if self.display else ""
        return f"{display}<{self.from_uri}>;tag={self.local_tag}"

    def to_header(self, with_tag: bool = True) -> str:
        tag = f";tag={self.remote_tag}" if with_tag and self.remote_tag else ""
        return f"<{self.to_uri}>{tag}"

    @property
    def contact(self) -> str:
        return f"<sip:outdial@{hostport(self.local.host, self.local.port)}>"

    def build_invite(self, branch: str, sdp: bytes, auth: tuple[str, str] | None = None) -> Message:
        """The INVITE (again with credentials after a 401/407: a new CSeq and branch)."""
        headers = [
            ("Via", via(self.local, branch)),
            ("Max-Forwards", "70"),
            ("From", self.from_header),
            ("To", self.to_header(with_tag=False)),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} INVITE"),
            ("Contact", self.contact),
            ("Allow", ALLOW),
            ("User-Agent", USER_AGENT),
            *self.extra_headers,
        ]
        if auth is not None:
            headers.append(auth)
        headers.append(("Content-Type", "application/sdp"))
        self.invite = request("INVITE", self.request_uri, headers, sdp)
        return self.invite

    def learn(self, response: Message) -> None:
        """Remote tag, target and route set from a 1xx with a tag or a 2xx (§12.1.2)."""
        tag = response.to_tag
        if not tag or (self.remote_tag and response.status < 200):
            return
        if response.status >= 300:
            return
        if self.remote_tag != tag:
            self.remote_tag = tag
        contact = response.get("Contact")
        if contact:
            self.remote_target = name_addr(contact).uri
        records = response.get_all("Record-Route")
        if records:
            self.route_set = list(reversed(records))

    def _in_dialog(self, method: str, branch: str, cseq: int) -> Message:
        target, routes = self.remote_target or self.request_uri, list(self.route_set)
        if routes and ";lr" not in routes[0]:  # a strict router (RFC 2543): it is the target
            target, routes = name_addr(routes[0]).uri, [*routes[1:], f"<{target}>"]
        headers = [("Via", via(self.local, branch))]
        headers += [("Route", r) for r in routes]
        headers += [
            ("Max-Forwards", "70"),
            ("From", self.from_header),
            ("To", self.to_header()),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
        ]
        return request(method, target, headers)

    def ack(self, branch: str) -> Message:
        """The ACK of a 2xx: its own transaction, the INVITE's CSeq number (§13.2.2.4)."""
        ack = self._in_dialog("ACK", branch, self.cseq)
        if self.invite is not None:
            auth = [(k, v) for k, v in self.invite.headers if k.endswith("Authorization")]
            ack = Message(method="ACK", uri=ack.uri, headers=(*ack.headers, *auth))
        return ack

    def bye(self, branch: str, reason: str = "") -> Message:
        self.cseq += 1
        bye = self._in_dialog("BYE", branch, self.cseq)
        return bye.with_header("Reason", reason) if reason else bye

    def cancel(self) -> Message:
        """CANCEL of the INVITE sent: its Request-URI, Via (branch), From, To, Call-ID, Route
        and CSeq number (§9.1)."""
        invite = self.invite
        assert invite is not None, "nothing to cancel"
        return in_invite_transaction("CANCEL", invite, invite.get("To"))
