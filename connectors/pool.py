"""Connection pools: connections kept open between searches, per target, with a cap.

Opening a Z39.50 association (TCP connect + Init) is the slowest step on real library
servers; a pool keeps associations after a search and hands them to the next one.

    pool = ConnectionPool()
    async with pool.lease(key, open_connection, size=2, idle=60) as lease:
        lease.connection ...          # lease.reused: True if it was pooled before

Rules:

* at most ``size`` connections per key are open at once (idle or leased); a lease waits for
  a free slot; ``size`` 0 means no pooling (a fresh connection each time, closed after);
* an idle connection is watched: if the peer sends anything (a Close, or EOF) it is
  dropped at once, and it is closed politely after ``idle`` seconds without use;
* a connection goes back to the pool only if it says it is reusable (``reusable``) and the
  lease was not ``discard()``-ed; a cancelled lease aborts its connection;
* pools are per event loop: connections of a loop that shuts down are closed when the loop
  cancels its tasks (``asyncio.run`` and pytest-asyncio do), so a module-level pool is safe.

The connection type only needs the small ``Poolable`` interface.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

__all__ = ["ConnectionPool", "Lease", "Poolable"]


class Poolable(Protocol):
    """What a pool needs of a connection."""

    @property
    def reusable(self) -> bool:
        """Whether the connection can serve another request (idle, healthy)."""

    async def watch(self) -> None:
        """Return when the peer speaks or hangs up while the connection is idle.

        The connection is then unusable (``reusable`` False) and has answered or closed as
        its protocol requires. Cancelling ``watch`` must lose no data.
        """

    async def aclose(self) -> None:
        """Close politely if possible (bounded in time), else abort."""

    def shutdown(self) -> None:
        """Close at once without waiting (the event loop is going away)."""


C = TypeVar("C", bound=Poolable)


@dataclass(eq=False)
class Lease(Generic[C]):
    """A connection lent by the pool; ``reused`` says it served an earlier request."""

    connection: C
    reused: bool
    discarded: bool = False

    def discard(self) -> None:
        """Do not return the connection to the pool when the lease ends."""
        self.discarded = True


@dataclass(eq=False)
class _Idle(Generic[C]):
    connection: C
    watcher: asyncio.Task[None] | None = None
    taken: bool = False


@dataclass(eq=False)
class _Slot(Generic[C]):
    """The connections of one key in one event loop."""

    count: int = 0  # open: idle + leased + being opened
    idle: list[_Idle[C]] = field(default_factory=list)
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)

    def wake(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class ConnectionPool(Generic[C]):
    """Keeps up to ``size`` connections per key open for ``idle`` seconds (the defaults).

    >>> pool: ConnectionPool[Any] = ConnectionPool(size=2, idle=60.0)  # doctest: +SKIP
    """

    def __init__(self, *, size: int = 2, idle: float = 60.0) -> None:
        self.size = size
        self.idle = idle
        self._loops: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[Hashable, _Slot[C]]
        ] = weakref.WeakKeyDictionary()

    def _slot(self, key: Hashable) -> _Slot[C]:
        slots = self._loops.setdefault(asyncio.get_running_loop(), {})
        return slots.setdefault(key, _Slot())

    def open_count(self, key: Hashable) -> int:
        """Connections open for ``key`` in the running loop (idle and leased)."""
        return self._slot(key).count

    def idle_count(self, key: Hashable) -> int:
        """Connections waiting in the pool for ``key`` in the running loop."""
        return sum(1 for entry in self._slot(key).idle if not entry.taken)

    @asynccontextmanager
    async def lease(
        self,
        key: Hashable,
        opener: Callable[[], Awaitable[C]],
        *,
        size: int | None = None,
        idle: float | None = None,
        wait: float | None = None,
        prefer: Callable[[C], bool] | None = None,
    ) -> AsyncIterator[Lease[C]]:
        """Lend a pooled connection for ``key``, or one ``opener`` makes; give it back after.

        ``wait`` caps the seconds spent waiting for a free slot (``TimeoutError`` after).
        ``prefer`` picks, among the idle connections, the one to lend first (a Z39.50
        association that keeps a result set); when none is idle, any connection will do.
        Exceptions of ``opener`` propagate; so do those of the block, after the connection
        was returned (if still ``reusable``) or closed.
        """
        size = self.size if size is None else size
        idle = self.idle if idle is None else idle
        if size <= 0:
            async with self._unpooled(opener) as lease:
                yield lease
            return
        slot = self._slot(key)
        lease = await self._acquire(slot, opener, size, wait, prefer)
        try:
            yield lease
        except asyncio.CancelledError:
            lease.connection.shutdown()  # whoever cancelled us wants us gone now
            slot.count -= 1
            slot.wake()
            raise
        except BaseException:
            await self._give_back(slot, lease, idle)
            raise
        await self._give_back(slot, lease, idle)

    @asynccontextmanager
    async def _unpooled(self, opener: Callable[[], Awaitable[C]]) -> AsyncIterator[Lease[C]]:
        lease = Lease(await opener(), reused=False)
        try:
            yield lease
        except asyncio.CancelledError:
            lease.connection.shutdown()
            raise
        except BaseException:
            await lease.connection.aclose()
            raise
        await lease.connection.aclose()

    async def _acquire(
        self,
        slot: _Slot[C],
        opener: Callable[[], Awaitable[C]],
        size: int,
        wait: float | None,
        prefer: Callable[[C], bool] | None = None,
    ) -> Lease[C]:
        deadline = None if wait is None else asyncio.get_running_loop().time() + wait
        while True:
            if prefer is not None:
                wanted = next((e for e in reversed(slot.idle) if prefer(e.connection)), None)
                if wanted is not None:
                    slot.idle.remove(wanted)
                    if await self._take(slot, wanted):
                        return Lease(wanted.connection, reused=True)
            while slot.idle:
                entry = slot.idle.pop()  # the most recently used: least likely to be stale
                if await self._take(slot, entry):
                    return Lease(entry.connection, reused=True)
            if slot.count < size:
                break
            waiter = asyncio.get_running_loop().create_future()
            slot.waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    slot.wake()  # pass the wake-up we got on to the next in line
                raise
            except TimeoutError:
                if waiter.done() and not waiter.cancelled():
                    slot.wake()
                raise
            finally:
                with suppress(ValueError):
                    slot.waiters.remove(waiter)
        slot.count += 1
        try:
            connection = await opener()
        except BaseException:
            slot.count -= 1
            slot.wake()
            raise
        return Lease(connection, reused=False)

    async def _take(self, slot: _Slot[C], entry: _Idle[C]) -> bool:
        """Stop watching an idle connection and check it is still alive."""
        watcher = entry.watcher
        if watcher is not None and watcher.done():
            return False  # the watcher saw the peer go and has already counted it out
        entry.taken = True
        try:
            if watcher is not None:
                watcher.cancel()
                await asyncio.wait([watcher])
        except asyncio.CancelledError:
            entry.connection.shutdown()
            slot.count -= 1
            slot.wake()
            raise
        if entry.connection.reusable:
            return True
        entry.connection.shutdown()  # the peer spoke just before we took it
        slot.count -= 1
        slot.wake()
        return False

    async def _give_back(self, slot: _Slot[C], lease: Lease[C], idle: float) -> None:
        connection = lease.connection
        if lease.discarded or not connection.reusable:
            try:
                await connection.aclose()
            finally:
                slot.count -= 1
                slot.wake()
            return
        entry: _Idle[C] = _Idle(connection)
        entry.watcher = asyncio.get_running_loop().create_task(
            self._watch(slot, entry, idle), name="svod-pool-watch"
        )
        slot.idle.append(entry)
        slot.wake()

    async def _watch(self, slot: _Slot[C], entry: _Idle[C], idle: float) -> None:
        try:
            try:
                async with asyncio.timeout(idle):
                    await entry.connection.watch()
            except TimeoutError:
                # out of the pool first: nobody may take it while it says goodbye
                with suppress(ValueError):
                    slot.idle.remove(entry)
                await entry.connection.aclose()
        except asyncio.CancelledError:
            if not entry.taken:
                # nobody took it: the pool is being closed or the event loop is going away
                entry.connection.shutdown()
            raise
        finally:
            if not entry.taken:
                with suppress(ValueError):
                    slot.idle.remove(entry)
                slot.count -= 1
                slot.wake()

    async def close(self) -> None:
        """Close every idle connection of the running loop politely; leased ones stay."""
        slots = self._loops.get(asyncio.get_running_loop(), {})
        for slot in slots.values():
            while slot.idle:
                entry = slot.idle.pop()
                if await self._take(slot, entry):
                    try:
                        await entry.connection.aclose()
                    finally:
                        slot.count -= 1
                        slot.wake()
