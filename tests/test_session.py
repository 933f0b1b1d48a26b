"""Live search sessions over in-memory targets serving real LC records (the labeled set):
progressive pages, waiting for change, fetching on demand, caps, idle expiry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connectors.base import Connector, Progress, SearchResult, TargetQuery
from core import RawRecord, Target, TargetState, Timeouts
from core.clusters import Level, ResultPage
from federator.engine import Engine
from federator.session import Sessions
from normalizers.iso2709 import split_stream

DATA = Path(__file__).parent / "data" / "dedup"
RECORDS = [r for _, r in split_stream((DATA / "lib-a.mrc").read_bytes())]


class SlowConnector(Connector):
    """Serves a fixed list of ISO2709 records after ``delay`` seconds; logs each limit."""

    def __init__(self, target: Target, records: list[bytes], delay: float, log: list[int]) -> None:
        super().__init__(target)
        self.records, self.delay, self.log = records, delay, log

    async def search(
        self, query: TargetQuery, limit: int, progress: Progress | None = None
    ) -> SearchResult:
        self.log.append(limit)
        if progress:
            progress(TargetState.SEARCHING)
        await asyncio.sleep(self.delay)
        raws = tuple(
            RawRecord(self.target.id, i, "usmarc", r) for i, r in enumerate(self.records[:limit], 1)
        )
        return SearchResult(len(self.records), raws)

    async def ping(self) -> str:
        return "memory"


def _engine(
    spec: dict[str, tuple[list[bytes], float]], max_records: int = 20
) -> tuple[Engine, dict[str, list[int]]]:
    t = Timeouts(connect=2, search=2, present=2)
    targets = [
        Target(tid, tid.upper(), "z3950", host="127.0.0.1", timeouts=t, max_records=max_records)
        for tid in spec
    ]
    logs: dict[str, list[int]] = {tid: [] for tid in spec}

    def factory(target: Target) -> Connector:
        records, delay = spec[target.id]
        return SlowConnector(target, records, delay, logs[target.id])

    return Engine(targets, factory), logs


async def test_pages_grow_while_targets_answer() -> None:
    engine, _ = _engine(
        {"fast": (RECORDS[:12], 0.0), "mid": (RECORDS[8:20], 0.15), "slow": (RECORDS[16:30], 0.3)}
    )
    session = engine.session("computer")
    session.start()
    pages: list[ResultPage] = []
    while not session.done:
        page = session.page(0, 50, fetch=False)
        pages.append(page)
        assert await session.changed(since=page.version, timeout=5)
    final = session.page(0, 50)
    assert final.complete and not pages[0].complete
    assert pages[0].total == 0 and pages[0].statuses[0].state is not TargetState.DONE
    totals = [p.total for p in pages] + [final.total]
    assert totals == sorted(totals) and len(set(totals)) >= 3  # three arrivals, three sizes
    # 30 distinct records; those served twice come back once, listing both targets
    assert final.records == 12 + 12 + 14
    shared = [c for c in final.clusters if len(c.libraries) == 2]
    assert len(shared) >= 8 and all(c.editions >= 1 for c in final.clusters)
    assert {s.state for s in final.statuses} == {TargetState.DONE}
    assert await session.changed(since=final.version, timeout=0.1) is False


async def test_paging_past_what_was_fetched_fetches_more() -> None:
    engine, logs = _engine({"big": (RECORDS[:60], 0.0)}, max_records=10)
    session = engine.session("computer", level=Level.MANIFESTATION)
    session.start()
    await session.wait()
    first = session.page(0, 10)
    assert first.records == 10 and first.statuses[0].hits == 60
    assert session.more_available() == {"big": 50}
    page = session.page(10, 10)  # past the end: starts a fetch
    assert page.clusters == () and not page.complete
    await session.wait()
    assert session.records == 20 and logs["big"] == [10, 20]
    assert len(session.page(10, 10).clusters) == 10
    # positions already held are not added twice
    positions = sorted(r.position for c in session.clusters() for r in c.records)
    assert positions == list(range(1, 21))


async def test_record_cap_per_session() -> None:
    engine, _ = _engine({"a": (RECORDS[:20], 0.0), "b": (RECORDS[20:40], 0.05)})
    session = engine.session("computer", max_records=25)
    session.start()
    await session.wait()
    assert session.records == 25
    assert "record cap" in session.statuses["b"].message
    assert session.fetch_more() is False


async def test_filters_and_sorts_read_without_asking_again() -> None:
    engine, logs = _engine({"a": (RECORDS[:15], 0.0), "b": (RECORDS[10:25], 0.0)})
    session = engine.session("computer")
    session.start()
    await session.wait()
    everything = session.page(0, None)
    only_b = session.page(0, None, filters={"library": "b"})
    assert 0 < only_b.total < everything.total
    assert all("b" in c.libraries for c in only_b.clusters)
    assert only_b.facets["library"].count("b") == only_b.total
    by_date = session.page(0, None, sort="date-desc")
    years = [max((r.year for r in c.records if r.year), default=0) for c in by_date.clusters]
    assert years == sorted(years, reverse=True)
    assert logs == {"a": [20], "b": [20]}  # no target was asked again


async def test_engine_search_runs_a_session_to_completion_with_progress() -> None:
    engine, _ = _engine({"a": (RECORDS[:10], 0.0), "b": (RECORDS[5:15], 0.1)})
    seen: list[int] = []
    outcome = await engine.search("computer", on_page=lambda p: seen.append(p.total))
    assert seen and seen[-1] <= len(outcome.clusters)
    assert sum(len(h.records) for h in outcome.hits) == 20
    assert len(outcome.hits) >= len(outcome.clusters)  # editions, then works
    assert {s.state for s in outcome.statuses} == {TargetState.DONE}


async def test_sessions_expire_when_idle_and_are_capped() -> None:
    engine, _ = _engine({"a": (RECORDS[:5], 0.0)})
    now = [0.0]
    sessions = Sessions(engine, max_sessions=2, idle_timeout=60, clock=lambda: now[0])
    s1 = sessions.create("computer")
    now[0] = 10
    s2 = sessions.create("programming")
    await s1.wait()
    now[0] = 50
    assert sessions.get(s1.id) is s1  # used at 50
    now[0] = 65
    s3 = sessions.create("internet")  # s2 (idle since 10) expired; s1 used at 50 stays
    assert s2.id not in sessions and s1.id in sessions and len(sessions) == 2
    now[0] = 70
    sessions.get(s3.id)
    s4 = sessions.create("computer")  # at the cap: the least recently used (s1) goes
    assert s1.id not in sessions and s3.id in sessions and s4.id in sessions
    assert len(sessions) == 2
    now[0] = 1000
    assert sorted(sessions.expire()) == sorted([s3.id, s4.id])
    await sessions.close()


async def test_bad_query_raises_before_any_target_is_asked() -> None:
    from core import CQLSyntaxError

    engine, logs = _engine({"a": (RECORDS[:5], 0.0)})
    with pytest.raises(CQLSyntaxError):
        engine.session("dc.title=(war")
    assert logs["a"] == []
