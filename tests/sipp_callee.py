"""sipp as the callee of the SIP driver's tests (testing-recipes.md §2): found on PATH (CI installs
it through scripts/test-services.sh), started on a free loopback port with the router scenario
tests/sipp/callee_router.xml, stopped with SIGTERM; its error file must stay empty."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).parent / "sipp"
ROUTER = SCENARIOS / "callee_router.xml"
USERNAME, PASSWORD = "outdial", "s3cret"  # what the router's ...401 numbers accept


class SippMissing(RuntimeError):
    pass


def sipp_binary() -> str:
    """sipp's path; missing sipp is an error, never a skip (make test installs it)."""
    found = shutil.which("sipp")
    if found is None:
        raise SippMissing(
            "sipp is not installed: run scripts/test-services.sh "
            "(apt-get install sip-tester) — the SIP driver's tests need it"
        )
    return found


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@dataclass
class Sipp:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    errors: Path
    log: Path

    def error_text(self) -> str:
        return self.errors.read_text(errors="replace").strip() if self.errors.exists() else ""


@contextlib.contextmanager
def sipp_callee(
    workdir: Path,
    ring_ms: int = 300,
    calls: int | None = None,
    transport: str = "udp",
    extra: tuple[str, ...] = (),
) -> Iterator[Sipp]:
    """A router sipp on 127.0.0.1; ``calls``: exit after that many (its exit code is then a
    verdict). Yields once the port is bound."""
    binary = sipp_binary()
    port = free_udp_port()
    errors, log = workdir / f"sipp-{port}-errors.log", workdir / f"sipp-{port}.out"
    args = [binary, "-sf", str(ROUTER), "-i", "127.0.0.1", "-p", str(port)]
    args += ["-mi", "127.0.0.1", "-d", str(ring_ms), "-nostdin", "-trace_err"]
    args += ["-error_file", str(errors), "-t", "u1" if transport == "udp" else "t1"]
    args += ["-cp", str(free_udp_port()), *extra]
    if calls is not None:
        args += ["-m", str(calls)]
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    sipp = Sipp("127.0.0.1", port, process, errors, log)
    try:
        wait_bound(sipp, transport)
        yield sipp
    finally:
        if process.poll() is None:
            process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_bound(sipp: Sipp, transport: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sipp.process.poll() is not None:
            out = sipp.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"sipp exited {sipp.process.returncode}: {out}")
        if transport == "udp" and udp_port_taken(sipp.port):
            return
        if transport == "tcp":
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", sipp.port), timeout=0.2),
            ):
                return
        time.sleep(0.05)
    raise RuntimeError(f"sipp did not bind 127.0.0.1:{sipp.port} in {timeout} s")


def in_ci() -> bool:
    return bool(os.environ.get("CI"))
