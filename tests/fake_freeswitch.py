"""A fake FreeSWITCH for the driver's tests: an asyncio server that speaks the inbound Event
Socket wire protocol (auth/request, command/reply, api/response, text/event-json with
Content-Length framing, text/disconnect-notice) and plays calls as FreeSWITCH reports them.

Each ``bgapi originate {vars}<dial string> &park()`` creates a channel whose uuid is the
``origination_uuid``; the callee's behaviour is chosen by ``plan(number)`` (the dial string's
last part). The event sequences follow what FreeSWITCH sends for an outbound leg:
CHANNEL_CREATE, CHANNEL_PROGRESS (180) or CHANNEL_PROGRESS_MEDIA (183), then CHANNEL_ANSWER
and BACKGROUND_JOB ``+OK <uuid>``, or CHANNEL_HANGUP_COMPLETE (Hangup-Cause, and
variable_sip_term_status) with BACKGROUND_JOB ``-ERR <cause>``. ``uuid_transfer``,
``uuid_kill``, ``uuid_setvar_multi``, ``uuid_exists`` and ``show channels as json`` act on the
channel table. Durations are seconds times ``scale``, so tests run fast in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from outdial.telephony.freeswitch.protocol import encode

CORE_UUID = "6a4b2c8e-0d3f-4e27-9b1a-5c7d8e9f0a1b"
DISCONNECT = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


@dataclass(frozen=True)
class Callee:
    """How a dialled number behaves. ``kind``: answer, busy, no_answer, reject, unallocated,
    gateway_down (no channel at all). ``ring``: seconds ringing before the answer or failure;
    ``talk``: seconds the script (or agent) talks before the callee hangs up;
    ``timeout_cause``: what the leg reports when the originate timeout fires;
    ``job_first``: the BACKGROUND_JOB comes before CHANNEL_HANGUP_COMPLETE; ``handoff``: the
    script asks for a human after this many seconds of talk."""

    kind: str = "answer"
    ring: float = 1.0
    talk: float = 2.0
    timeout_cause: str = "NO_ANSWER"
    job_first: bool = False
    handoff: float | None = None
    early_media: bool = False
    patience: float = 30.0  # answered and never transferred: the callee hangs up after this


FAILURES = {
    "busy": ("USER_BUSY", "486"),
    "reject": ("CALL_REJECTED", "603"),
    "unallocated": ("UNALLOCATED_NUMBER", "404"),
}


@dataclass
class Channel:
    uuid: str
    number: str
    dial: str
    variables: dict[str, str]
    callee: Callee
    job_uuid: str
    created: float = field(default_factory=time.time)
    state: str = "CS_INIT"
    callstate: str = "DOWN"
    answered_at: float = 0.0
    application: str = ""
    task: asyncio.Task[None] | None = None
    talk: asyncio.Task[None] | None = None


@dataclass
class Client:
    writer: asyncio.StreamWriter
    authed: bool = False
    events: set[str] = field(default_factory=set)


def parse_originate(args: str) -> tuple[dict[str, str], str, str]:
    """``{a=b,c=d}dial &park()`` → (variables, dial string, destination)."""
    match = re.match(r"^\{(.*?)(?<!\\)\}(\S+)\s+(.*)$", args)
    if not match:
        raise ValueError(f"bad originate: {args}")
    block, dial, dest = match.groups()
    variables = {}
    for part in re.split(r"(?<!\\),", block):
        name, _, value = part.partition("=")
        value = value.replace("\\,", ",")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        variables[name] = value
    return variables, dial, dest


class FakeFreeSwitch:
    def __init__(
        self,
        plan: Callable[[str], Callee] | None = None,
        password: str = "ClueCon",
        scale: float = 0.01,
        create_delay: float = 0.0,
    ):
        self.plan = plan or (lambda number: Callee())
        self.password, self.scale, self.create_delay = password, scale, create_delay
        self.channels: dict[str, Channel] = {}
        self.clients: list[Client] = []
        self.commands: list[str] = []
        self.hung_up: dict[str, str] = {}  # uuid → Hangup-Cause, for every channel that ended
        self.port = 0
        self.sequence = 1000
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self.accepting = True

    # --- the server --------------------------------------------------------------------------

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        for channel in list(self.channels.values()):
            for task in (channel.task, channel.talk):
                if task is not None:
                    task.cancel()
        await self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def drop(self) -> None:
        """Cut every client's connection at once (a network fault: no goodbye)."""
        for client in list(self.clients):
            client.writer.transport.abort()
        self.clients.clear()
        await asyncio.sleep(0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.accepting:
            writer.transport.abort()
            return
        client = Client(writer)
        self.clients.append(client)
        self._send(client, {"Content-Type": "auth/request"})
        try:
            while True:
                block = await reader.readuntil(b"\n\n")
                lines = block.decode().strip("\n").split("\n")
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                if not await self._command(client, lines[0], headers):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if client in self.clients:
                self.clients.remove(client)
            writer.close()

    def _send(self, client: Client, headers: dict[str, str], body: str = "") -> None:
        if not client.writer.is_closing():
            client.writer.write(encode(headers, body))

    def _reply(self, client: Client, text: str, **headers: str) -> None:
        self._send(client, {"Content-Type": "command/reply", "Reply-Text": text, **headers})

    async def _command(self, client: Client, line: str, headers: dict[str, str]) -> bool:
        self.commands.append(line)
        verb, _, rest = line.partition(" ")
        if not client.authed:
            if verb == "auth" and rest == self.password:
                client.authed = True
                self._reply(client, "+OK accepted")
                return True
            self._reply(client, "-ERR invalid")
            self._send(client, {"Content-Type": "text/disconnect-notice"}, DISCONNECT)
            return False
        if verb == "event":
            fmt, _, names = rest.partition(" ")
            client.events |= set(names.split())
            self._reply(client, f"+OK event listener enabled {fmt}")
        elif verb == "api":
            body = self._api(rest)
            self._send(client, {"Content-Type": "api/response"}, body)
        elif verb == "bgapi":
            job = headers.get("Job-UUID") or str(uuid.uuid4())
            self._reply(client, f"+OK Job-UUID: {job}", **{"Job-UUID": job})
            self._bgapi(rest, job)
        elif verb == "exit":
            self._reply(client, "+OK bye")
            self._send(client, {"Content-Type": "text/disconnect-notice"}, DISCONNECT)
            return False
        else:
            self._reply(client, "-ERR command not found")
        return True

    # --- api ---------------------------------------------------------------------------------

    def _api(self, text: str) -> str:
        verb, _, rest = text.partition(" ")
        args = rest.split()
        if text.strip() == "show channels as json":
            return self._show_channels()
        if verb == "uuid_exists":
            return "true" if args and args[0] in self.channels else "false"
        channel = self.channels.get(args[0]) if args else None
        if verb in ("uuid_kill", "uuid_transfer", "uuid_setvar_multi") and channel is None:
            return "-ERR No such channel!\n"
        if verb == "uuid_kill" and channel is not None:
            cause = args[1] if len(args) > 1 else "MANAGER_REQUEST"
            sip = "487" if channel.callstate != "ACTIVE" else ""
            self._hangup(channel, cause, sip, job_error="ORIGINATOR_CANCEL")
            return "+OK\n"
        if verb == "uuid_setvar_multi" and channel is not None:
            for pair in rest.split(" ", 1)[1].split(";"):
                name, _, value = pair.partition("=")
                channel.variables[name] = value
            return "+OK\n"
        if verb == "uuid_transfer" and channel is not None:
            self._transfer(channel, rest.split(" ", 1)[1])
            return "+OK\n"
        return f"-ERR {verb} Command not found!\n"

    def _show_channels(self) -> str:
        rows = [
            {
                "uuid": c.uuid,
                "direction": "outbound",
                "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c.created)),
                "created_epoch": str(int(c.created)),
                "name": f"sofia/external/{c.number}",
                "state": c.state,
                "cid_name": "Outbound Call",
                "cid_num": c.variables.get("origination_caller_id_number", ""),
                "ip_addr": "",
                "dest": c.number,
                "application": c.application,
                "application_data": "",
                "dialplan": "XML",
                "context": "default",
                "read_codec": "PCMA",
                "read_rate": "8000",
                "write_codec": "PCMA",
                "write_rate": "8000",
                "secure": "",
                "hostname": "fs-test",
                "presence_id": "",
                "presence_data": "",
                "accountcode": "",
                "callstate": c.callstate,
                "callee_name": "",
                "callee_num": "",
                "callee_direction": "",
                "call_uuid": "",
                "sent_callee_name": "",
                "sent_callee_num": "",
                "initial_cid_name": "Outbound Call",
                "initial_cid_num": c.variables.get("origination_caller_id_number", ""),
                "initial_ip_addr": "",
                "initial_dest": c.number,
                "initial_dialplan": "XML",
                "initial_context": "default",
            }
            for c in self.channels.values()
        ]
        if not rows:
            return json.dumps({"row_count": 0})
        return json.dumps({"row_count": len(rows), "rows": rows})

    # --- calls -------------------------------------------------------------------------------

    def _bgapi(self, text: str, job: str) -> None:
        verb, _, rest = text.partition(" ")
        if verb != "originate":
            self._job(job, f"-ERR {verb} Command not found!\n", verb)
            return
        variables, dial, _ = parse_originate(rest)
        number = dial.rsplit("/", 1)[-1]
        callee = self.plan(number)
        if callee.kind == "gateway_down":
            self._job(job, "-ERR GATEWAY_DOWN\n", "originate", rest)
            return
        channel_uuid = variables.get("origination_uuid") or str(uuid.uuid4())
        channel = Channel(channel_uuid, number, dial, variables, callee, job)
        channel.task = asyncio.ensure_future(self._play(channel))

    async def _play(self, channel: Channel) -> None:
        callee = channel.callee
        if self.create_delay:  # the bgapi thread has not made the channel yet
            await asyncio.sleep(self.create_delay)
        self.channels[channel.uuid] = channel
        self._event("CHANNEL_CREATE", channel)
        await self._wait(0.2)
        channel.state, channel.callstate = "CS_CONSUME_MEDIA", "RINGING"
        if callee.early_media or callee.kind == "unallocated":
            channel.callstate = "EARLY"
            self._event("CHANNEL_PROGRESS_MEDIA", channel)
        else:
            self._event("CHANNEL_PROGRESS", channel)
        timeout = float(channel.variables.get("originate_timeout", "60"))
        if callee.kind == "no_answer" or (callee.kind == "answer" and callee.ring >= timeout):
            await self._wait(timeout)
            sip = "487" if callee.timeout_cause == "ORIGINATOR_CANCEL" else ""
            self._hangup(channel, callee.timeout_cause, sip, job_error="NO_ANSWER")
            return
        await self._wait(callee.ring)
        if callee.kind in FAILURES:
            cause, sip = FAILURES[callee.kind]
            self._hangup(channel, cause, sip, job_error=cause)
            return
        self._answer(channel)

    def _answer(self, channel: Channel) -> None:
        channel.state, channel.callstate = "CS_EXECUTE", "ACTIVE"
        channel.answered_at = time.time()
        channel.application = "park"
        self._event("CHANNEL_ANSWER", channel)
        self._job(channel.job_uuid, f"+OK {channel.uuid}\n", "originate")
        # Nobody takes the call: the callee hangs up on the silence after a while.
        channel.talk = asyncio.ensure_future(self._talk(channel, channel.callee.patience))

    def _transfer(self, channel: Channel, args: str) -> None:
        if channel.talk is not None:
            channel.talk.cancel()
        parts = args.split()
        channel.application = "bridge" if parts[-1] == "inline" else "transfer"
        handoff = channel.callee.handoff
        back = channel.variables.get("outdial_transfer") == "no_agent"
        if channel.application == "transfer" and handoff is not None and not back:
            channel.talk = asyncio.ensure_future(self._hand_off(channel, handoff))
            return
        channel.talk = asyncio.ensure_future(self._talk(channel, channel.callee.talk))

    async def _hand_off(self, channel: Channel, after: float) -> None:
        await self._wait(after)
        self._event("CUSTOM", channel, {"Event-Subclass": "outdial::handoff"})
        await self._wait(60.0)  # on hold; nobody came
        self._hangup(channel, "NORMAL_CLEARING", "200")

    async def _talk(self, channel: Channel, seconds: float) -> None:
        await self._wait(seconds)
        self._hangup(channel, "NORMAL_CLEARING", "200")

    def _hangup(self, channel: Channel, cause: str, sip: str, job_error: str = "") -> None:
        if self.channels.pop(channel.uuid, None) is None:
            return
        current = asyncio.current_task()
        for task in (channel.task, channel.talk):
            if task is not None and task is not current:
                task.cancel()
        self.hung_up[channel.uuid] = cause
        channel.state, channel.callstate = "CS_REPORTING", "HANGUP"
        extra = {"Hangup-Cause": cause, "variable_hangup_cause": cause}
        if sip:
            extra["variable_sip_term_status"] = sip
        answered = channel.answered_at > 0
        job = None if answered else f"-ERR {job_error or cause}\n"
        if job is not None and channel.callee.job_first:
            self._job(channel.job_uuid, job, "originate")
        self._event("CHANNEL_HANGUP_COMPLETE", channel, extra)
        if job is not None and not channel.callee.job_first:
            self._job(channel.job_uuid, job, "originate")

    async def _wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self.scale)

    # --- events ------------------------------------------------------------------------------

    def _event(self, name: str, channel: Channel, extra: dict[str, str] | None = None) -> None:
        headers = self._base(name)
        headers.update(self._channel_headers(channel))
        headers.update(extra or {})
        self._publish(headers)

    def _job(self, job: str, result: str, command: str, args: str = "") -> None:
        headers = self._base("BACKGROUND_JOB")
        headers.update({"Job-UUID": job, "Job-Command": command, "Job-Command-Arg": args})
        headers["Content-Length"] = str(len(result.encode()))
        headers["_body"] = result
        self._publish(headers)

    def _base(self, name: str) -> dict[str, str]:
        self.sequence += 1
        now = time.time()
        return {
            "Event-Name": name,
            "Core-UUID": CORE_UUID,
            "FreeSWITCH-Hostname": "fs-test",
            "FreeSWITCH-Switchname": "fs-test",
            "FreeSWITCH-IPv4": "127.0.0.1",
            "FreeSWITCH-IPv6": "::1",
            "Event-Date-Local": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
            "Event-Date-GMT": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)),
            "Event-Date-Timestamp": str(int(now * 1_000_000)),
            "Event-Calling-File": "switch_channel.c",
            "Event-Calling-Function": "switch_channel_perform_mark_answered",
            "Event-Calling-Line-Number": "3740",
            "Event-Sequence": str(self.sequence),
        }

    def _channel_headers(self, channel: Channel) -> dict[str, str]:
        micros = str(int(channel.created * 1_000_000))
        answered = str(int(channel.answered_at * 1_000_000)) if channel.answered_at else "0"
        caller = channel.variables.get("origination_caller_id_number", "0000000000")
        headers = {
            "Channel-State": channel.state,
            "Channel-Call-State": channel.callstate,
            "Channel-State-Number": "4",
            "Channel-Name": f"sofia/external/{channel.number}",
            "Unique-ID": channel.uuid,
            "Call-Direction": "outbound",
            "Presence-Call-Direction": "outbound",
            "Channel-HIT-Dialplan": "false",
            "Channel-Presence-ID": "",
            "Channel-Call-UUID": channel.uuid,
            "Answer-State": "answered" if channel.answered_at else "ringing",
            "Caller-Direction": "outbound",
            "Caller-Logical-Direction": "outbound",
            "Caller-Username": "",
            "Caller-Dialplan": "XML",
            "Caller-Caller-ID-Name": "客户",  # multi-byte text: Content-Length counts bytes
            "Caller-Caller-ID-Number": caller,
            "Caller-Orig-Caller-ID-Name": "客户",
            "Caller-Orig-Caller-ID-Number": caller,
            "Caller-Callee-ID-Name": "Outbound Call",
            "Caller-Callee-ID-Number": channel.number,
            "Caller-Network-Addr": "",
            "Caller-ANI": caller,
            "Caller-Destination-Number": channel.number,
            "Caller-Unique-ID": channel.uuid,
            "Caller-Source": "src/switch_ivr_originate.c",
            "Caller-Context": "default",
            "Caller-Channel-Name": f"sofia/external/{channel.number}",
            "Caller-Profile-Index": "1",
            "Caller-Profile-Created-Time": micros,
            "Caller-Channel-Created-Time": micros,
            "Caller-Channel-Answered-Time": answered,
            "Caller-Channel-Progress-Time": "0",
            "Caller-Channel-Progress-Media-Time": "0",
            "Caller-Channel-Hangup-Time": "0",
            "Caller-Channel-Transfer-Time": "0",
            "Caller-Screen-Bit": "true",
            "Caller-Privacy-Hide-Name": "false",
            "Caller-Privacy-Hide-Number": "false",
            "variable_direction": "outbound",
            "variable_uuid": channel.uuid,
            "variable_session_id": str(self.sequence),
            "variable_sip_profile_name": "external",
            "variable_channel_name": f"sofia/external/{channel.number}",
            "variable_sip_destination_url": f"sip:{channel.number}@carrier.example",
        }
        headers.update({f"variable_{k}": v for k, v in channel.variables.items()})
        return headers

    def _publish(self, headers: dict[str, str]) -> None:
        name = headers["Event-Name"]
        subclass = headers.get("Event-Subclass", "")
        body = json.dumps(headers, ensure_ascii=False)
        for client in self.clients:
            wanted = client.events
            if not client.authed or not (name in wanted or "ALL" in wanted):
                continue
            if name == "CUSTOM" and subclass not in wanted and "ALL" not in wanted:
                continue
            self._send(client, {"Content-Type": "text/event-json"}, body)

    # --- test helpers ------------------------------------------------------------------------

    def answer_now(self, channel_uuid: str) -> None:
        """The callee answers now (while nobody may be listening)."""
        channel = self.channels[channel_uuid]
        if channel.task is not None:
            channel.task.cancel()
        self._answer(channel)

    async def hang_up_remotely(self, channel_uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        """The callee hangs up (while nobody may be listening)."""
        channel = self.channels.get(channel_uuid)
        if channel is not None:
            self._hangup(channel, cause, "200" if channel.answered_at else "")


@contextlib.asynccontextmanager
async def running(fake: FakeFreeSwitch) -> Any:
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
