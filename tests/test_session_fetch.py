"""Fetching more of a live session from the result sets the targets kept (real zebrasrv):
paging past what was fetched presents the next records instead of searching again, and a
target whose fetch fails keeps what it had and says why."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from faultproxy import FaultProxy

from connectors.base import Connector, Progress, ResultSet, SearchResult
from connectors.pool import ConnectionPool
from connectors.z3950 import Z3950Connector, Z3950Session
from core import Target, TargetState, Timeouts
from core.clusters import Level
from demo.zebra import Federation
from federator.engine import Engine
from federator.query import parse_query
from federator.session import SearchSession

pytestmark = pytest.mark.servers

QUERY = "dc.title=computer"
STEP = 2  # records per fetch: the session's limit and each target's max_records
_SEARCH_REQUEST, _PRESENT_REQUEST = 22, 24


class Recording(Z3950Connector):
    """The real connector, noting every ``fetch`` it is asked (start, count)."""

    def __init__(
        self, target: Target, pool: ConnectionPool[Z3950Session], calls: list[tuple[int, int]]
    ) -> None:
        super().__init__(target, pool=pool)
        self.calls = calls

    async def fetch(
        self, result_set: ResultSet, start: int, count: int, progress: Progress | None = None
    ) -> SearchResult:
        self.calls.append((start, count))
        return await super().fetch(result_set, start, count, progress)


def _target(name: str, port: int) -> Target:
    return Target(
        name,
        name,
        "z3950",
        host="127.0.0.1",
        port=port,
        database=name,
        syntax="usmarc",
        max_records=STEP,
        timeouts=Timeouts(3.0, 5.0, 5.0),
    )


def _engine(
    targets: list[Target], pool: ConnectionPool[Z3950Session]
) -> tuple[Engine, dict[str, list[tuple[int, int]]]]:
    calls: dict[str, list[tuple[int, int]]] = {t.id: [] for t in targets}

    def factory(target: Target) -> Connector:
        return Recording(target, pool, calls[target.id])

    return Engine(targets, factory), calls


def _positions(session: SearchSession, target_id: str) -> list[int]:
    return sorted(
        r.position
        for c in session.clusters(Level.MANIFESTATION)
        for r in c.records
        if r.target_id == target_id
    )


def _data(session: SearchSession, target_id: str) -> dict[int, bytes]:
    return {
        r.position: r.raw.data
        for c in session.clusters(Level.MANIFESTATION)
        for r in c.records
        if r.target_id == target_id and r.raw is not None
    }


async def _reference(target: Target, count: int) -> list[tuple[int, bytes]]:
    """Records 1..count of the query, searched directly (no session, no proxy)."""
    query = Engine([target]).translate(parse_query(QUERY), target)
    async with Z3950Connector(target) as connector:
        result = await connector.search(query, count)
    return [(r.position, r.data) for r in result.records]


async def test_paging_past_the_limit_presents_the_next_records(
    zebra_libraries: Federation,
) -> None:
    lib = zebra_libraries.library("lib1")
    expected = await _reference(_target("lib1", lib.port), 2 * STEP)
    pool: ConnectionPool[Z3950Session] = ConnectionPool()
    async with FaultProxy(lib.port) as proxy:
        target = _target("lib1", proxy.port)
        engine, calls = _engine([target], pool)
        session = engine.session(QUERY, limit=STEP, level=Level.MANIFESTATION)
        session.start()
        await session.wait()
        assert session.statuses["lib1"].hits > 2 * STEP, "the test needs hits to page through"
        assert _positions(session, "lib1") == [1, 2]
        before = Counter(tag for tags in proxy.client_tags for tag in tags)

        assert session.page(STEP, STEP).clusters == ()  # past the end: starts a fetch
        await session.wait()
        await pool.close()

    after = Counter(tag for tags in proxy.client_tags for tag in tags)
    assert calls["lib1"] == [(STEP + 1, STEP)]
    assert _positions(session, "lib1") == [1, 2, 3, 4]
    assert sorted(_data(session, "lib1").items()) == expected
    # the next records came by Present from the kept result set: no Search was sent again
    assert after[_SEARCH_REQUEST] == before[_SEARCH_REQUEST] == 1
    assert after[_PRESENT_REQUEST] > before[_PRESENT_REQUEST]
    assert proxy.connections == 1  # the pooled association that kept the set
    status = session.statuses["lib1"]
    assert status.state is TargetState.DONE and status.records == 2 * STEP
    assert session.records == 2 * STEP


async def test_a_failed_fetch_keeps_the_records_found_and_spares_the_others(
    zebra_libraries: Federation,
) -> None:
    lib1, lib2 = zebra_libraries.library("lib1"), zebra_libraries.library("lib2")
    pool: ConnectionPool[Z3950Session] = ConnectionPool()
    async with FaultProxy(lib1.port) as proxy:
        targets = [_target("lib1", proxy.port), _target("lib2", lib2.port)]
        engine, calls = _engine(targets, pool)
        session = engine.session(QUERY, limit=STEP, level=Level.MANIFESTATION)
        session.start()
        await session.wait()
    # lib1's server is gone now (its association closed, its port refuses): its fetch fails
    assert all(session.statuses[t].hits > 2 * STEP for t in ("lib1", "lib2"))
    kept = _data(session, "lib1")
    assert sorted(kept) == [1, 2]

    assert session.fetch_more() is True
    await session.wait()
    await pool.close()

    assert calls == {"lib1": [(STEP + 1, STEP)], "lib2": [(STEP + 1, STEP)]}
    failed, fine = session.statuses["lib1"], session.statuses["lib2"]
    assert failed.state in (TargetState.ERROR, TargetState.TIMEOUT) and failed.message
    assert failed.records == STEP and failed.hits > 2 * STEP  # what it had still counts
    assert _data(session, "lib1") == kept
    assert fine.state is TargetState.DONE and fine.records == 2 * STEP
    assert _positions(session, "lib2") == [1, 2, 3, 4]
    # a target in error is not asked again
    assert "lib1" not in session.more_available()
    assert session.fetch_more() is True
    await session.wait()
    await pool.close()
    assert calls["lib1"] == [(STEP + 1, STEP)] and len(calls["lib2"]) == 2


async def test_without_a_result_set_the_search_runs_again(zebra_libraries: Federation) -> None:
    lib = zebra_libraries.library("lib1")
    searches: list[int] = []

    class Forgetful(Z3950Connector):
        """A connector that cannot say where its hits live."""

        async def search(
            self, query: object, limit: int, progress: Progress | None = None
        ) -> SearchResult:
            searches.append(limit)
            result = await super().search(query, limit, progress)  # type: ignore[arg-type]
            return replace(result, result_set=None)

    engine = Engine([_target("lib1", lib.port)], Forgetful)
    session = engine.session(QUERY, limit=STEP, level=Level.MANIFESTATION)
    session.start()
    await session.wait()
    session.page(STEP, STEP)
    await session.wait()
    assert searches == [STEP, 2 * STEP]
    assert _positions(session, "lib1") == [1, 2, 3, 4]
