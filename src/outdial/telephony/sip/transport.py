"""The bytes under the SIP driver: one UDP socket, or one TCP connection, per line.

Every request goes to the trunk (it is our outbound proxy, in-dialog requests included);
whatever arrives is parsed and handed to ``on_message``. Unparseable datagrams are dropped
(logged); on TCP an unusable frame closes the connection, and ``on_lost`` tells the driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

from outdial.telephony.sip.dialog import Local
from outdial.telephony.sip.message import Message, SipParseError, frame_length, parse

log = logging.getLogger("outdial.sip")

OnMessage = Callable[[Message], None]
OnLost = Callable[[str], None]
CONNECT_TIMEOUT = 5.0
READ_BATCH = 10_000  # datagrams read per wake-up at most
SOCKET_BUFFER = 4 * 1024 * 1024  # asked for; the kernel caps it at net.core.[rw]mem_max


class TransportError(Exception):
    """The trunk cannot be reached (name not resolved, TCP connection refused)."""


async def resolve(host: str, port: int) -> tuple[str, int]:
    """The trunk's address (first A/AAAA record; SRV/NAPTR are not looked up)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise TransportError(f"cannot resolve {host}: {exc}") from exc
    address = infos[0][4]
    return str(address[0]), int(address[1])


def route_address(peer: tuple[str, int]) -> str:
    """Our address on the route to ``peer`` (what goes in Via and Contact)."""
    family = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect(peer)
        return str(probe.getsockname()[0])


class UdpTransport:
    """A non-blocking UDP socket on the loop's selector. Each wake-up reads every datagram
    waiting (up to ``READ_BATCH``), so after the loop was busy the responses that came in are
    handled before the timers that fell due meanwhile (a ring timeout must not CANCEL a call
    whose 200 OK is already in the socket buffer)."""

    def __init__(self, on_message: OnMessage, sock: socket.socket, peer: tuple[str, int]):
        self.on_message, self.sock, self.peer = on_message, sock, peer
        self.local = Local("", 0, "UDP")
        self.dropped = 0  # unparseable datagrams
        self.send_failures = 0  # datagrams the kernel would not take (retransmission covers)
        self._open = True

    @classmethod
    async def open(
        cls, on_message: OnMessage, peer: tuple[str, int], host: str = "", port: int = 0
    ) -> UdpTransport:
        advertised = host or route_address(peer)
        family = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):  # bursts of many datagrams
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
            sock.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        except OSError as exc:
            sock.close()
            raise TransportError(f"cannot bind UDP {host or '*'}:{port}: {exc}") from exc
        self = cls(on_message, sock, peer)
        self.local = Local(advertised, int(sock.getsockname()[1]))
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        return self

    def _readable(self) -> None:
        for _ in range(READ_BATCH):
            try:
                data = self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP port unreachable and the like: Timer B will tell
                log.debug("sip: udp error: %s", exc)
                continue
            self._received(data)

    def _received(self, data: bytes) -> None:
        if not data.strip():
            return  # a keep-alive
        try:
            message = parse(data)
        except SipParseError as exc:
            self.dropped += 1
            log.debug("sip: dropped a datagram: %s", exc)
            return
        self.on_message(message)

    def send(self, data: bytes) -> None:
        if not self._open:
            return
        try:
            self.sock.sendto(data, self.peer)
        except OSError as exc:
            self.send_failures += 1
            log.debug("sip: udp send: %s", exc)

    @property
    def alive(self) -> bool:
        return self._open

    async def close(self) -> None:
        if self._open:
            self._open = False
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()


class TcpTransport:
    """One connection to the trunk; a lost one is reported and made again on the next call."""

    def __init__(self, on_message: OnMessage, on_lost: OnLost):
        self.on_message, self.on_lost = on_message, on_lost
        self.writer: asyncio.StreamWriter | None = None
        self.local = Local("", 0, "TCP")
        self._reader_task: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    async def open(
        cls, on_message: OnMessage, on_lost: OnLost, peer: tuple[str, int], host: str = ""
    ) -> TcpTransport:
        self = cls(on_message, on_lost)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(peer[0], peer[1]), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            raise TransportError(f"cannot connect TCP {peer[0]}:{peer[1]}: {exc}") from exc
        self.writer = writer
        sock = writer.get_extra_info("sockname")
        self.local = Local(host or str(sock[0]), int(sock[1]), "TCP")
        self._reader_task = asyncio.ensure_future(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        reason = "closed by the trunk"
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buffer += chunk
                buffer = self._frames(buffer)
        except (OSError, SipParseError) as exc:
            reason = str(exc)
        finally:
            if self.writer is not None:
                self.writer.close()
            if not self._closing:
                self.on_lost(reason)

    def _frames(self, buffer: bytes) -> bytes:
        while (n := frame_length(buffer)) is not None:
            frame, buffer = buffer[:n], buffer[n:]
            self.on_message(parse(frame.lstrip(b"\r\n")))
        return buffer if buffer.strip(b"\r\n") else b""

    def send(self, data: bytes) -> None:
        if self.alive:
            assert self.writer is not None
            self.writer.write(data)

    @property
    def alive(self) -> bool:
        return self.writer is not None and not self.writer.is_closing()

    async def close(self) -> None:
        self._closing = True
        if self.writer is not None:
            self.writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
