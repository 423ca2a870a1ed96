"""One inbound Event Socket connection to one FreeSWITCH node, kept up with back-off.

FreeSWITCH answers a client's commands in the order they were sent (``command/reply`` for
``auth``, ``event`` and ``bgapi``; ``api/response`` for ``api``), so the replies are matched to
a queue of waiting futures; events come in between, to the listeners. A lost connection fails
the commands in flight, and the connection is made again with back-off (doubling, capped);
after each (re)connect the ``on_connect`` callbacks run (the driver reconciles its calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from outdial.telephony.freeswitch.protocol import (
    Message,
    ProtocolError,
    command,
    parse_event,
    read_message,
)

log = logging.getLogger("outdial.freeswitch")

EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CHANNEL_HANGUP_COMPLETE",
    "BACKGROUND_JOB",
    "CUSTOM",
    "outdial::handoff",
)
"""What the driver listens to; CUSTOM ``outdial::handoff`` is the script asking for a human."""

EventListener = Callable[[dict[str, str]], None]
ConnectListener = Callable[[], Awaitable[None]]


class EslError(Exception):
    """A command failed: the node is not connected, the connection dropped, or it timed out."""


@dataclass(frozen=True)
class Backoff:
    first: float = 0.5
    factor: float = 2.0
    cap: float = 30.0


class EslConnection:
    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        events: Sequence[str] = EVENTS,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
    ):
        self.host, self.port, self.password = host, port, password
        self.events, self.backoff, self.timeout = tuple(events), backoff or Backoff(), timeout
        self.name = f"{host}:{port}"
        self.connected = asyncio.Event()
        self.listeners: list[EventListener] = []
        self.on_connect: list[ConnectListener] = []
        self._writer: asyncio.StreamWriter | None = None
        self._pending: deque[asyncio.Future[Message]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    # --- life --------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._keep_up())

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            self._writer.close()
        for task in (*self._tasks, self._task):
            if task is not None:
                task.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._fail_pending("connection closed")

    async def wait_connected(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), timeout)
        return self.connected.is_set()

    async def _keep_up(self) -> None:
        delay = self.backoff.first
        while not self._closing:
            try:
                reader = await self._open()
                delay = self.backoff.first  # a good connection resets the back-off
                await self._serve(reader)
            except (OSError, EOFError, ProtocolError, EslError, TimeoutError) as exc:
                log.warning("freeswitch %s: %s", self.name, exc or type(exc).__name__)
            finally:
                self._lost()
            if not self._closing:
                await asyncio.sleep(delay)
                delay = min(self.backoff.cap, delay * self.backoff.factor)

    async def _open(self) -> asyncio.StreamReader:
        """Connect, authenticate, subscribe: the reader, ready for the read loop."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.timeout
        )
        self._writer = writer
        greeting = await asyncio.wait_for(read_message(reader), self.timeout)
        if greeting.content_type != "auth/request":
            raise ProtocolError(f"expected auth/request, got {greeting.content_type!r}")
        await self._handshake(reader, f"auth {self.password}", "authentication")
        await self._handshake(reader, "event json " + " ".join(self.events), "event subscribe")
        return reader

    async def _handshake(self, reader: asyncio.StreamReader, text: str, what: str) -> None:
        assert self._writer is not None
        self._writer.write(command(text))
        reply = await asyncio.wait_for(read_message(reader), self.timeout)
        answer = reply.headers.get("Reply-Text", "")
        if not answer.startswith("+OK"):
            raise EslError(f"{what} refused: {answer or reply.content_type}")

    async def _serve(self, reader: asyncio.StreamReader) -> None:
        self.connected.set()
        log.info("freeswitch %s: connected", self.name)
        for listener in self.on_connect:
            task = asyncio.ensure_future(self._connected(listener))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        while True:
            try:
                message = await read_message(reader)
            except asyncio.IncompleteReadError as exc:
                raise EOFError("connection closed by FreeSWITCH") from exc
            self._route(message)

    async def _connected(self, listener: ConnectListener) -> None:
        try:
            await listener()
        except Exception:
            log.exception("freeswitch %s: reconnect handler failed", self.name)

    def _route(self, message: Message) -> None:
        kind = message.content_type
        if kind in ("command/reply", "api/response"):
            if self._pending:
                future = self._pending.popleft()
                if not future.done():
                    future.set_result(message)
        elif kind in ("text/event-json", "text/event-plain"):
            try:
                event = parse_event(message)
            except ProtocolError as exc:
                log.warning("freeswitch %s: event skipped: %s", self.name, exc)
                return
            for listener in self.listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("freeswitch %s: event listener failed", self.name)
        elif kind in ("text/disconnect-notice", "text/rude-rejection"):
            raise EOFError(f"{kind}: {message.body.strip()[:200]}")

    def _lost(self) -> None:
        self.connected.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._fail_pending(f"connection to {self.name} lost")

    def _fail_pending(self, why: str) -> None:
        while self._pending:
            future = self._pending.popleft()
            if not future.done():
                future.set_exception(EslError(why))

    # --- commands ----------------------------------------------------------------------------

    async def send(self, text: str, **headers: str) -> Message:
        """Send one command and wait for its reply."""
        if self._writer is None or not self.connected.is_set():
            raise EslError(f"not connected to {self.name}")
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending.append(future)
        self._writer.write(command(text, **headers))
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError as exc:
            raise EslError(f"{self.name}: no reply to {text.split()[0:2]} in time") from exc

    async def api(self, text: str) -> str:
        """``api`` — the command's output (``+OK …``, ``-ERR …`` or data)."""
        return (await self.send(f"api {text}")).body

    async def bgapi(self, text: str, job_uuid: str) -> str:
        """``bgapi`` with our own Job-UUID — the Reply-Text; the result comes as BACKGROUND_JOB."""
        reply = await self.send(f"bgapi {text}", **{"Job-UUID": job_uuid})
        return reply.headers.get("Reply-Text", "")
