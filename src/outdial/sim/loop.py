"""Virtual time for asyncio: the engine's own code runs unchanged, as fast as it can.

``VirtualEventLoop`` is a selector event loop whose clock only moves when the loop would
otherwise wait: its selector jumps the clock to the next timer instead of sleeping. Nothing in
a simulation does real I/O, so no wait is ever for a socket.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.BaseSelector):
    def __init__(self, loop: VirtualEventLoop):
        self._loop = loop
        self._keys: dict[Any, selectors.SelectorKey] = {}

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = selectors.SelectorKey(fileobj, _fd(fileobj), events, data)
        self._keys[fileobj] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._keys.pop(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise RuntimeError("virtual time: every task waits and no timer is set (deadlock)")
        if timeout > 0:
            self._loop.virtual_now += timeout
        return []

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._keys

    def close(self) -> None:
        self._keys.clear()


def _fd(fileobj: Any) -> int:
    return fileobj if isinstance(fileobj, int) else int(fileobj.fileno())


class VirtualEventLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.virtual_now = 0.0
        super().__init__(selector=_JumpingSelector(self))

    def time(self) -> float:
        return self.virtual_now


class LoopClock:
    """A Clock reading the running loop's time from a start instant (virtual or real)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, start: datetime):
        self.loop, self.start, self._origin = loop, start, loop.time()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.loop.time() - self._origin)


def run_virtual(coro: Coroutine[Any, Any, T], loop: VirtualEventLoop) -> T:
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
