"""SIP messages (RFC 3261 §7): parsing and building, pure functions over bytes and text.

A message keeps its headers as an ordered list of (name, value) pairs, names in their canonical
long form (compact forms such as ``v`` and ``i`` are expanded when parsed), so a header that
appears several times (Via, Record-Route) keeps its order. Header values are kept as text;
the helpers below read the parts a user agent client needs: a header's parameters (``tag``,
``branch``), the URI of a name-addr, the CSeq number and method.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

COMPACT = {
    "v": "Via",
    "f": "From",
    "t": "To",
    "i": "Call-ID",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "r": "Refer-To",
}
CANONICAL = {
    name.lower(): name
    for name in (
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Content-Length",
        "Content-Type",
        "Max-Forwards",
        "Record-Route",
        "Route",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "Authorization",
        "Proxy-Authorization",
        "User-Agent",
        "Allow",
        "Supported",
        "Reason",
        "Refer-To",
        "Event",
        "Subject",
        "Content-Encoding",
    )
}
MULTI_VALUE = frozenset({"Via", "Record-Route", "Route", "Contact", "Allow", "Supported"})
"""Headers whose comma-separated values are separate entries (RFC 3261 §7.3.1)."""

MAX_MESSAGE = 65_535
BRANCH_MAGIC = "z9hG4bK"


class SipParseError(ValueError):
    """Bytes that are not a SIP message."""


@dataclass(frozen=True)
class Message:
    """A request (``method`` and ``uri`` set) or a response (``status`` set)."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    def get(self, name: str, default: str = "") -> str:
        """The first value of header ``name`` (any case, compact form accepted)."""
        wanted = canonical(name)
        for key, value in self.headers:
            if key == wanted:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        wanted = canonical(name)
        return [value for key, value in self.headers if key == wanted]

    def with_header(self, name: str, value: str) -> Message:
        """A copy with ``name`` set to ``value`` (replacing every earlier value)."""
        wanted = canonical(name)
        kept = tuple((k, v) for k, v in self.headers if k != wanted)
        return replace(self, headers=(*kept, (wanted, value)))

    def without(self, name: str) -> Message:
        wanted = canonical(name)
        return replace(self, headers=tuple((k, v) for k, v in self.headers if k != wanted))

    # --- the parts a transaction and a dialog read ------------------------------------------

    @property
    def call_id(self) -> str:
        return self.get("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.get("CSeq"))

    @property
    def branch(self) -> str:
        """The top Via's branch: the transaction's key (with the CSeq method)."""
        return param(self.get("Via"), "branch")

    @property
    def from_tag(self) -> str:
        return param(self.get("From"), "tag")

    @property
    def to_tag(self) -> str:
        return param(self.get("To"), "tag")

    def encode(self) -> bytes:
        return encode(self)


@dataclass(frozen=True)
class NameAddr:
    """``"Display" <sip:user@host>;tag=x`` parsed: the URI and the header parameters."""

    uri: str
    display: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        display = f'"{self.display}" ' if self.display else ""
        params = "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params.items())
        return f"{display}<{self.uri}>{params}"


def canonical(name: str) -> str:
    lowered = name.strip().lower()
    if lowered in COMPACT:
        return COMPACT[lowered]
    return CANONICAL.get(lowered) or "-".join(p.capitalize() for p in lowered.split("-"))


# --- parsing -------------------------------------------------------------------------------


def parse(data: bytes) -> Message:
    """One whole message (a UDP datagram, or a frame cut by :func:`frame_length`)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    if not sep:
        raise SipParseError("no blank line after the headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError(f"headers are not UTF-8: {exc}") from exc
    lines = unfold(text.lstrip("\r\n").split("\n"))
    if not lines:
        raise SipParseError("empty message")
    message = start_line(lines[0])
    headers = tuple(h for line in lines[1:] if line for h in header_entries(line))
    message = replace(message, headers=headers)
    return replace(message, body=body_of(message, body))


def unfold(lines: list[str]) -> list[str]:
    """Lines with their trailing CR removed and continuation lines joined (RFC 3261 §7.3.1)."""
    out: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r")
        if line[:1] in (" ", "\t") and out:
            out[-1] = out[-1] + " " + line.strip()
        else:
            out.append(line)
    return out


def start_line(line: str) -> Message:
    parts = line.split(" ", 2)
    if len(parts) < 3 and not (len(parts) == 2 and parts[0] == "SIP/2.0"):
        raise SipParseError(f"not a SIP start line: {line[:80]!r}")
    if parts[0] == "SIP/2.0":
        if not (parts[1].isdigit() and len(parts[1]) == 3):
            raise SipParseError(f"bad status code {parts[1][:10]!r}")
        status = int(parts[1])
        if not 100 <= status <= 699:
            raise SipParseError(f"status code {status} out of range")
        return Message(status=status, reason=parts[2] if len(parts) > 2 else "")
    method, uri, version = parts
    if version != "SIP/2.0":
        raise SipParseError(f"not SIP/2.0: {version[:20]!r}")
    if not method.isalpha() or not method.isupper():
        raise SipParseError(f"bad method {method[:20]!r}")
    return Message(method=method, uri=uri)


def header_entries(line: str) -> list[tuple[str, str]]:
    name, sep, value = line.partition(":")
    if not sep or not name.strip() or " " in name.strip():
        raise SipParseError(f"not a header line: {line[:80]!r}")
    key = canonical(name)
    value = value.strip()
    if key in MULTI_VALUE:
        return [(key, v) for v in split_commas(value)]
    return [(key, value)]


def split_commas(value: str) -> list[str]:
    """Split at commas outside quotes and angle brackets."""
    parts: list[str] = []
    current: list[str] = []
    quoted = angle = False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle = True
        elif ch == ">" and not quoted:
            angle = False
        if ch == "," and not quoted and not angle:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def body_of(message: Message, rest: bytes) -> bytes:
    length = message.get("Content-Length")
    if not length:
        return rest
    if not length.isdigit():
        raise SipParseError(f"bad Content-Length {length[:20]!r}")
    if int(length) > len(rest):
        raise SipParseError(f"body shorter than Content-Length {length}")
    return rest[: int(length)]


def frame_length(buffer: bytes) -> int | None:
    """For a stream (TCP): the length of the first whole message in ``buffer`` (leading CRLF
    keep-alives included), or None while it is incomplete. Raises on an unusable frame."""
    stripped = buffer.lstrip(b"\r\n")
    skipped = len(buffer) - len(stripped)
    end = stripped.find(b"\r\n\r\n")
    if end < 0:
        if len(stripped) > MAX_MESSAGE:
            raise SipParseError("headers longer than 64 KiB")
        return None
    head = stripped[:end].decode("utf-8", "replace")
    match = re.search(r"^(?:content-length|l)[ \t]*:[ \t]*(\d+)", head, re.I | re.M)
    if match is None:
        raise SipParseError("a message on a stream must carry Content-Length")
    total = skipped + end + 4 + int(match.group(1))
    return total if len(buffer) >= total else None


# --- header values -------------------------------------------------------------------------


def params_of(value: str) -> dict[str, str]:
    """A header value's parameters: those after ``>`` for a name-addr, else after the first
    ``;`` (names lower-cased, quotes kept off)."""
    tail = value[value.index(">") + 1 :] if ">" in value else value.partition(";")[2]
    tail = tail.lstrip(";") if ">" in value else tail
    out: dict[str, str] = {}
    for item in tail.split(";"):
        name, _, val = item.strip().partition("=")
        if name:
            out[name.lower()] = val.strip().strip('"')
    return out


def param(value: str, name: str) -> str:
    return params_of(value).get(name, "")


def name_addr(value: str) -> NameAddr:
    """``From`` / ``To`` / ``Contact`` / ``Record-Route`` values."""
    value = value.strip()
    if "<" in value:
        display, _, rest = value.partition("<")
        uri, _, _ = rest.partition(">")
        return NameAddr(uri.strip(), display.strip().strip('"'), params_of(value))
    uri, _, _ = value.partition(";")
    return NameAddr(uri.strip(), "", params_of(value))


def parse_cseq(value: str) -> tuple[int, str]:
    number, _, method = value.strip().partition(" ")
    if not number.isdigit():
        raise SipParseError(f"bad CSeq {value[:40]!r}")
    return int(number), method.strip()


def uri_host_port(uri: str, default_port: int = 5060) -> tuple[str, int]:
    """Host and port of a ``sip:`` URI (``sip:user@host:port;params``)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split("@", 1)[-1].split(";", 1)[0].split("?", 1)[0]
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = rest.partition(":")
    return host, int(port) if port.isdigit() else default_port


def via_sent_by(value: str) -> tuple[str, str, int]:
    """(transport, host, port) of a Via value: ``SIP/2.0/UDP host:port;branch=…``."""
    proto, _, rest = value.strip().partition(" ")
    transport = proto.rsplit("/", 1)[-1].upper()
    host, port = uri_host_port("sip:" + rest.split(";", 1)[0].strip())
    return transport, host, port


# --- building ------------------------------------------------------------------------------


def request(method: str, uri: str, headers: list[tuple[str, str]], body: bytes = b"") -> Message:
    return Message(method=method, uri=uri, headers=tuple(headers), body=body)


def in_invite_transaction(method: str, invite: Message, to: str) -> Message:
    """A request that travels in the INVITE's own client transaction — CANCEL (§9.1) or the
    ACK of a 3xx–6xx (§17.1.1.3): the INVITE's Request-URI, top Via (same branch), Route,
    From, Call-ID and CSeq number, with ``to`` as To."""
    number, _ = invite.cseq
    headers = [("Via", invite.get("Via"))]
    headers += [("Route", r) for r in invite.get_all("Route")]
    headers += [
        ("Max-Forwards", "70"),
        ("From", invite.get("From")),
        ("To", to),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{number} {method}"),
    ]
    return request(method, invite.uri, headers)


def response_to(req: Message, status: int, reason: str, to_tag: str = "") -> Message:
    """A response to ``req`` (a UAS's, for the requests we answer: BYE, OPTIONS): Via, From,
    To (with ``to_tag`` added when it has none), Call-ID and CSeq copied (RFC 3261 §8.2.6)."""
    headers = [(k, v) for k, v in req.headers if k in ("Via", "From", "To", "Call-ID", "CSeq")]
    if to_tag:
        headers = [
            (k, f"{v};tag={to_tag}" if k == "To" and not param(v, "tag") else v) for k, v in headers
        ]
    return Message(status=status, reason=reason, headers=tuple(headers))


def encode(message: Message) -> bytes:
    """The wire form; Content-Length is always (re)written to the body's length."""
    if message.is_request:
        first = f"{message.method} {message.uri} SIP/2.0"
    else:
        first = f"SIP/2.0 {message.status} {message.reason}"
    lines = [first]
    lines.extend(f"{k}: {v}" for k, v in message.headers if k != "Content-Length")
    lines.append(f"Content-Length: {len(message.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + message.body
