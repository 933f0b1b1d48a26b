"""A live search: fan-out to the targets, the growing cluster list, pages at any moment.

    session = engine.session("dc.title=war and peace")   # parsed now: bad input raises here
    session.start()                                      # one task per target
    while not session.done:
        page = session.page(0, 20, sort="relevance")     # whatever has arrived so far
        show(page)
        await session.changed(since=page.version)        # until something new arrives

A session owns each target's state (connecting / searching / presenting / done / error /
timeout, hit count, records fetched, diagnostic), the incremental clusterer (works >
manifestations > hits), the ranker and the facet cache. Pages are computed from what has
arrived; asking for a page past the records fetched so far fetches more from the targets
that have more (``fetch_more``), up to the session's record cap: the next records of the
result set each target kept (``Connector.fetch``: a Z39.50 Present, an SRU startRecord), or
the search again with a larger limit where a target's connector gave no result set.

``Sessions`` keeps the live sessions of a front end: it expires idle ones and caps how many
there are, closing the least recently used first.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from core import Record, Target, TargetState, TargetStatus
from core.clusters import Cluster, Level, ResultPage
from dedup.cluster import Clusterer
from federator.facets import FACETS, FacetCache, Filters, compute_facets, filter_clusters
from federator.rank import Ranker, sort_clusters

if TYPE_CHECKING:
    from connectors.base import ResultSet
    from federator.engine import Engine

__all__ = ["DEFAULT_MAX_RECORDS", "SearchSession", "Sessions"]

log = logging.getLogger(__name__)

#: records one session may hold, all targets together
DEFAULT_MAX_RECORDS = 5000
#: records asked of each target per fetch when its own ``max_records`` does not say
FETCH_STEP = 20

StatusCallback = Callable[[TargetStatus], None]
_ids = itertools.count(1)


class SearchSession:
    """One federated search, alive while its results are read.

    Create with ``Engine.session`` (or ``Sessions.create``), then ``start()`` inside a running
    event loop. ``page()`` never waits; ``changed()`` and ``wait()`` do.
    """

    def __init__(
        self,
        engine: Engine,
        node: Any,
        targets: Sequence[Target],
        *,
        text: str = "",
        limit: int | None = None,
        on_status: StatusCallback | None = None,
        level: Level | str = Level.WORK,
        max_records: int = DEFAULT_MAX_RECORDS,
        session_id: str | None = None,
    ) -> None:
        self.id = session_id or f"s{next(_ids)}"
        self.text = text
        self.node = node
        self.targets = list(targets)
        self.level = Level(level)
        self.max_records = max_records
        self.clusterer = Clusterer()
        self.ranker = Ranker(node)
        self.facets = FacetCache()
        self.statuses: dict[str, TargetStatus] = {t.id: TargetStatus(t.id) for t in targets}
        #: what idle time is measured with (``Sessions`` sets its own)
        self.clock: Callable[[], float] = time.monotonic
        self.last_used = self.clock()
        self._engine = engine
        self._limit = limit
        self._on_status = on_status
        self._fetched: dict[str, int] = dict.fromkeys(self.statuses, 0)
        #: per target, where its hits can be fetched from (None: search again for more)
        self._result_sets: dict[str, ResultSet | None] = dict.fromkeys(self.statuses)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._version = 0
        self._event: asyncio.Event | None = None
        self._started = False
        self._closed = False
        self._ranked: tuple[int, list[Cluster]] | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Send the search to every target (needs a running event loop)."""
        if self._started:
            return
        self._started = True
        for target in self.targets:
            want = target.max_records if self._limit is None else self._limit
            self._spawn(target, want)

    @property
    def done(self) -> bool:
        """True when every target has finished and nothing more is being fetched."""
        return self._started and all(t.done() for t in self._tasks.values())

    @property
    def version(self) -> int:
        """Grows whenever a status or the cluster list changes."""
        return self._version

    @property
    def records(self) -> int:
        """Records held, all targets together."""
        return len(self.clusterer)

    async def wait(self) -> None:
        """Until every target has finished (and any fetch on demand with them)."""
        while self._tasks and not self.done:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def changed(self, since: int | None = None, timeout: float | None = None) -> bool:
        """Wait until the session changes after version ``since`` (default: now).

        Returns True on a change, False on timeout or when the session is done with
        nothing newer to tell.
        """
        self.touch()
        if since is not None and self._version > since:
            return True
        if self.done or self._closed:
            return False
        event = self._signal()
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop every target's task; the results so far stay readable."""
        self._closed = True
        tasks = [t for t in self._tasks.values() if not t.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._bump()

    def touch(self) -> None:
        """Mark the session as used now (idle expiry counts from here)."""
        self.last_used = self.clock()

    # -- reading ------------------------------------------------------------------------

    def clusters(self, level: Level | str | None = None) -> list[Cluster]:
        """Every cluster so far (works by default), in order of creation."""
        return self.clusterer.clusters(level or self.level)

    def ranked(self, level: Level | str | None = None) -> list[Cluster]:
        """The clusters by relevance (scores set), recomputed only after a change."""
        lvl = Level(level or self.level)
        if lvl is self.level and self._ranked and self._ranked[0] == self.clusterer.version:
            return self._ranked[1]
        ranked = self.ranker.rank(self.clusterer.clusters(lvl))
        if lvl is self.level:
            self._ranked = (self.clusterer.version, ranked)
        return ranked

    def page(
        self,
        offset: int = 0,
        limit: int | None = 20,
        sort: str = "relevance",
        filters: Filters | None = None,
        *,
        level: Level | str | None = None,
        facets: Sequence[str] = FACETS,
        fetch: bool = True,
    ) -> ResultPage:
        """The clusters ``[offset, offset + limit)`` in ``sort`` order after ``filters``, with
        facet counts over the filtered list. Never waits: it shows what has arrived.

        Asking past the end of what was fetched starts ``fetch_more`` (unless ``fetch`` is
        False); ``changed()`` then reports the new records.
        """
        self.touch()
        ranked = self.ranked(level)
        kept = filter_clusters(ranked, filters, self.facets)
        ordered = kept if sort == "relevance" else sort_clusters(kept, sort)
        end = len(ordered) if limit is None else offset + limit
        if fetch and limit is not None and end > len(ordered) and not filters:
            self.fetch_more()
        return ResultPage(
            offset=offset,
            total=len(ordered),
            clusters=tuple(ordered[offset:end]),
            facets=compute_facets(kept, facets, cache=self.facets) if facets else {},
            statuses=tuple(self.statuses[t.id] for t in self.targets),
            complete=self.done,
            sort=sort,
            records=self.records,
            version=self._version,
        )

    # -- fetching -----------------------------------------------------------------------

    def more_available(self) -> dict[str, int]:
        """Per target, how many hits it has beyond the records fetched so far."""
        out = {}
        for t in self.targets:
            s = self.statuses[t.id]
            if s.state is TargetState.DONE and s.hits > self._fetched[t.id]:
                out[t.id] = s.hits - self._fetched[t.id]
        return out

    def fetch_more(self, count: int | None = None) -> bool:
        """Fetch up to ``count`` more records (default each target's ``max_records``) from
        every finished target that has more hits; False when nothing can be fetched (no
        more hits, the session's record cap reached, or a fetch already running)."""
        if self._closed or not self._started:
            return False
        started = False
        for target in self.targets:
            task = self._tasks.get(target.id)
            if task is not None and not task.done():
                continue
            left = self.more_available().get(target.id, 0)
            budget = self.max_records - self.records
            if left <= 0 or budget <= 0:
                continue
            step = min(count or target.max_records or FETCH_STEP, left, budget)
            result_set = self._result_sets[target.id]
            if result_set is None:
                self._spawn(target, self._fetched[target.id] + step)
            else:
                self._tasks[target.id] = asyncio.create_task(
                    self._run_fetch(target, result_set, step),
                    name=f"svod {self.id} {target.id} fetch",
                )
            started = True
        return started

    def _spawn(self, target: Target, want: int) -> None:
        budget = self.max_records - self.records
        want = max(0, min(want, self._fetched[target.id] + budget))
        self._tasks[target.id] = asyncio.create_task(
            self._run(target, want), name=f"svod {self.id} {target.id}"
        )

    async def _run(self, target: Target, want: int) -> None:
        search = self._engine._search_target(target, self.node, want, self._report)
        await self._deliver(target, search, "target")

    async def _run_fetch(self, target: Target, result_set: ResultSet, count: int) -> None:
        """The next ``count`` records of ``target``'s result set; a failure leaves the
        records held as they are and ends in the target's status."""
        fetch = self._engine._fetch_target(
            target,
            result_set,
            self._fetched[target.id] + 1,
            count,
            self.statuses[target.id],
            self._report,
        )
        await self._deliver(target, fetch, "fetch from target")

    async def _deliver(
        self,
        target: Target,
        work: Awaitable[tuple[list[Record], ResultSet | None]],
        what: str,
    ) -> None:
        """Await a search or fetch of ``target``; keep its result set, add its records."""
        try:
            records, result_set = await work
        except asyncio.CancelledError:
            raise
        except Exception:  # the engine already makes failures statuses; this is a bug
            log.exception("session %s: %s %s", self.id, what, target.id)
            return
        self._result_sets[target.id] = result_set
        self._add(target, records)

    def _add(self, target: Target, records: list[Record]) -> None:
        seen = self._fetched[target.id]
        fresh = [r for r in records if r.position > seen] if seen else records
        room = self.max_records - self.records
        if len(fresh) > room:
            fresh = fresh[: max(0, room)]
            status = self.statuses[target.id]
            self._report(replace(status, message=_join(status.message, "session record cap")))
        self.clusterer.add_all(fresh)
        if fresh:
            self._fetched[target.id] = max(seen, max(r.position for r in fresh))
        self._bump()

    def _report(self, status: TargetStatus) -> None:
        self.statuses[status.target_id] = status
        if self._on_status is not None:
            self._on_status(status)
        self._bump()

    def _signal(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def _bump(self) -> None:
        self._version += 1
        if self._event is not None:
            self._event.set()
            self._event = None


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


class Sessions:
    """The live sessions of one front end, by id; idle ones expire, their number is capped.

    >>> sessions = Sessions(engine, max_sessions=100, idle_timeout=300)  # doctest: +SKIP
    >>> s = sessions.create("dc.title=war")                              # doctest: +SKIP
    >>> sessions.get(s.id) is s                                          # doctest: +SKIP
    True
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_sessions: int = 100,
        idle_timeout: float = 300.0,
        max_records: int = DEFAULT_MAX_RECORDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.max_records = max_records
        self._clock = clock
        self._sessions: dict[str, SearchSession] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def create(self, text: str, **options: Any) -> SearchSession:
        """Start a new session (bad input raises before any target is contacted)."""
        self.expire()
        options.setdefault("max_records", self.max_records)
        session = self.engine.session(text, **options)
        session.clock = self._clock
        session.touch()
        while len(self._sessions) >= self.max_sessions:
            oldest = min(self._sessions.values(), key=lambda s: s.last_used)
            self._drop(oldest.id)
        self._sessions[session.id] = session
        session.start()
        return session

    def get(self, session_id: str) -> SearchSession | None:
        """The live session with this id (marked as used), or None when unknown or expired."""
        self.expire()
        session = self._sessions.get(session_id)
        if session is not None:
            session.last_used = self._clock()
        return session

    def expire(self) -> list[str]:
        """Close the sessions idle for longer than ``idle_timeout``; return their ids."""
        now = self._clock()
        old = [sid for sid, s in self._sessions.items() if now - s.last_used > self.idle_timeout]
        for sid in old:
            self._drop(sid)
        return old

    def _drop(self, session_id: str) -> None:
        session = self._sessions.pop(session_id)
        task = asyncio.get_running_loop().create_task(session.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close every session."""
        for sid in list(self._sessions):
            self._drop(sid)
        await asyncio.gather(*self._closing, return_exceptions=True)
