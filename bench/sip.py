"""SIP driver throughput against real sipp: call attempts per second and concurrent calls
sustained, with every call's outcome checked against what its number makes sipp do.

    nice -n 10 .venv/bin/python -m bench.sip [--rate 200] [--seconds 30] [--hold 5]
        [--ring-ms 300] [--transport udp|tcp] [--engine [--database-url URL]]

Without ``--engine`` the benchmark drives the driver directly: it originates ``rate`` calls a
second for ``seconds`` (numbers mixed: 70 % answered and held ``hold`` s, then BYE; 10 %
busy; 10 % declined after ringing; 5 % not found; 5 % ringing until the 1 s ring timeout's
CANCEL). With ``--engine`` a campaign of ``rate × seconds`` contacts runs through the real
engine (SQLite file, or the PostgreSQL at ``--database-url``, which must be an empty
database), its concurrency limited to ``rate × (hold + 1)``; the attempt ledger is checked.

sipp runs with ``-m <calls>``, so its exit code is its own verdict on every call. A call is
*lost* when no hangup came within 60 s of the last originate; *mis-classified* when its
outcome is not the one its number asks for.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import resource
import subprocess
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from outdial.clock import SystemClock
from outdial.domain.outcomes import Outcome
from outdial.engine.ports import CallEvent, CallEventKind, OriginateRequest
from outdial.telephony.sip.driver import SipTelephony
from tests.sipp_callee import Sipp, sipp_callee

MIX = [  # (weight, number suffix, outcome)
    (70, "001", Outcome.ANSWERED),
    (10, "486", Outcome.BUSY),
    (10, "603", Outcome.REJECTED),
    (5, "404", Outcome.INVALID_NUMBER),
    (5, "408", Outcome.NO_ANSWER),
]
DRAIN_SECONDS = 60.0


def plan(calls: int) -> list[tuple[str, Outcome]]:
    """``calls`` numbers in a fixed interleaving of the mix (every 20 calls hold the mix)."""
    cycle = [(s, o) for w, s, o in MIX for _ in range(w // 5)]
    out = []
    for i in range(calls):
        suffix, outcome = cycle[(i * 7) % len(cycle)]
        out.append((f"+86139{i:05d}{suffix}", outcome))
    return out


@dataclass
class Tally:
    started: dict[str, float] = field(default_factory=dict)
    expected: dict[str, Outcome] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    wrong: list[tuple[str, str, str]] = field(default_factory=list)
    ended: int = 0
    live: int = 0
    peak: int = 0
    answered_live: int = 0
    peak_answered: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    total: int = 0

    def on_event(self, event: CallEvent) -> None:
        if event.kind is CallEventKind.ANSWERED:
            self.answered_live += 1
            self.peak_answered = max(self.peak_answered, self.answered_live)
        if event.kind is not CallEventKind.HANGUP:
            return
        self.live -= 1
        if event.outcome is Outcome.ANSWERED:
            self.answered_live -= 1
        self.ended += 1
        assert event.outcome is not None
        self.outcomes[event.outcome.value] += 1
        if event.outcome is not self.expected.get(event.call_id):
            self.wrong.append((event.call_id, event.outcome.value, event.native_cause))
        if self.ended == self.total:
            self.done.set()

    def originated(self, call_id: str, outcome: Outcome) -> None:
        self.expected[call_id] = outcome
        self.live += 1
        self.peak = max(self.peak, self.live)


async def drive(args: argparse.Namespace, sipp: Sipp) -> dict[str, Any]:
    settings = {
        "host": sipp.host,
        "port": sipp.port,
        "transport": args.transport,
        "max_call_seconds": args.hold,
    }
    driver = SipTelephony({"id": 1, "driver": "sip", "settings": settings}, SystemClock())
    calls = plan(args.rate * args.seconds)
    tally = Tally(total=len(calls))
    driver.subscribe(tally.on_event)
    loop = asyncio.get_running_loop()
    start = loop.time()
    late = 0.0
    for i, (number, outcome) in enumerate(calls):
        due = start + i / args.rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        call_id = str(uuid.uuid4())
        tally.originated(call_id, outcome)
        await driver.originate(OriginateRequest(call_id, number, "95187", 1, line={}))
    offered = loop.time() - start
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.done.wait(), DRAIN_SECONDS + args.hold)
    elapsed = loop.time() - start
    stray = driver.stray
    await driver.close()
    return {
        "calls": len(calls),
        "offered_seconds": offered,
        "cps": len(calls) / offered,
        "max_lag": late,
        "elapsed": elapsed,
        "peak": tally.peak,
        "peak_answered": tally.peak_answered,
        "ended": tally.ended,
        "lost": len(calls) - tally.ended,
        "wrong": tally.wrong,
        "outcomes": dict(tally.outcomes),
        "stray": stray,
    }


async def engine_run(args: argparse.Namespace, sipp: Sipp, workdir: Path) -> dict[str, Any]:
    from bench.sip_engine import run_campaign  # the store and services only when asked

    return await run_campaign(args, sipp, workdir, plan(args.rate * args.seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=200, help="call attempts per second")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--hold", type=int, default=5, help="answered calls last this long")
    parser.add_argument("--ring-ms", type=int, default=300)
    parser.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    parser.add_argument("--engine", action="store_true", help="through the engine")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--sipp-errors", default="", help="keep sipp's error file here")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="engine: max_concurrency (rate × (hold + 2))"
    )
    args = parser.parse_args()
    console = Console()
    calls = args.rate * args.seconds
    with tempfile.TemporaryDirectory(prefix="bench-sip-") as tmp:
        workdir = Path(tmp)
        sipp_args = ("-buff_size", "4194304", "-max_recv_loops", "10000")
        with sipp_callee(
            workdir, args.ring_ms, calls, transport=args.transport, extra=sipp_args
        ) as sipp:
            ours0 = resource.getrusage(resource.RUSAGE_SELF)
            if args.engine:
                result = asyncio.run(engine_run(args, sipp, workdir))
            else:
                result = asyncio.run(drive(args, sipp))
            ours1 = resource.getrusage(resource.RUSAGE_SELF)
            with contextlib.suppress(subprocess.TimeoutExpired):
                sipp.process.wait(timeout=30)
            verdict = sipp.process.returncode
            children = resource.getrusage(resource.RUSAGE_CHILDREN)  # sipp, once reaped
            sipp_cpu = children.ru_utime + children.ru_stime
            sipp_errors = sipp.error_text().splitlines()
            if args.sipp_errors:
                Path(args.sipp_errors).write_text("\n".join(sipp_errors))
    ours = (ours1.ru_utime - ours0.ru_utime) + (ours1.ru_stime - ours0.ru_stime)
    report(console, args, result, ours, sipp_cpu, verdict, sipp_errors)


EVENT = re.compile(r"^'?\d{4}-\d\d-\d\d\s+\S+\s+\S+: (.*)$")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def sipp_events(lines: list[str]) -> Counter[str]:
    """sipp's error file by kind of event (call ids and the message's first line cut)."""
    kinds: Counter[str] = Counter()
    for i, line in enumerate(lines):
        match = EVENT.match(line)
        if match:
            text = " ".join([match.group(1), *lines[i + 1 : i + 2]])
            text = UUID.sub("<call>", text)
            kinds[re.sub(r" (sip:\S+|SIP/2.0.*)", "", text)[:120]] += 1
    return kinds


def offered(args: argparse.Namespace) -> str:
    if args.engine:
        cap = args.concurrency or args.rate * (args.hold + 2)
        return f"a campaign of {args.rate * args.seconds:,} contacts, max_concurrency {cap:,}"
    return f"{args.rate} /s for {args.seconds} s"


def achieved(args: argparse.Namespace, r: dict[str, Any]) -> str:
    if args.engine:
        return f"{r['cps']:.1f} /s (attempts over {r['offered_seconds']:.1f} s of dialing)"
    return f"{r['cps']:.1f} /s (worst lag {r['max_lag'] * 1000:.0f} ms)"


def report(
    console: Console,
    args: argparse.Namespace,
    r: dict[str, Any],
    ours: float,
    sipp_cpu: float,
    verdict: int | None,
    sipp_errors: list[str],
) -> None:
    mode = "engine" if args.engine else "driver"
    table = Table(title=f"SIP {mode} → sipp ({args.transport}, hold {args.hold} s)")
    for column in ("measure", "value"):
        table.add_column(column)
    rows = [
        ("call attempts", f"{r['calls']:,}"),
        ("offered", offered(args)),
        ("achieved rate", achieved(args, r)),
        ("peak concurrent calls", f"{r['peak']:,} ({r['peak_answered']:,} answered at once)"),
        ("ended / lost", f"{r['ended']:,} / {r['lost']:,}"),
        ("mis-classified", f"{len(r['wrong']):,}"),
        ("outcomes", ", ".join(f"{k} {v:,}" for k, v in sorted(r["outcomes"].items()))),
        ("stray messages", f"{r.get('stray', 0):,}"),
        ("sipp verdict (-m N)", f"exit {verdict} ({len(sipp_errors)} error lines)"),
        ("CPU: outdial / sipp", f"{ours:.1f} s / {sipp_cpu:.1f} s in {r['elapsed']:.1f} s"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for kind, count in sipp_events(sipp_errors).most_common(10):
        console.print(f"  sipp: {count:,} × {kind}")
    for call_id, outcome, cause in r["wrong"][:10]:
        console.print(f"  wrong: {call_id} {outcome} {cause}")


if __name__ == "__main__":
    main()
