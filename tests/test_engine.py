"""The federator with in-memory connectors serving real MARC records: merging, statuses,
and a failing library never spoiling the others."""

from __future__ import annotations

import asyncio

import pytest

from connectors.base import Connector, Progress, SearchResult, TargetQuery
from core import (
    CQLSyntaxError,
    Diagnostic,
    RawRecord,
    Target,
    TargetDiagnostic,
    TargetState,
    TargetUnreachable,
    Timeouts,
)
from federator.engine import (
    NORMALIZED_CACHE_SIZE,
    Engine,
    SearchOutcome,
    set_normalized_cache_size,
)


def _sample_records() -> list[bytes]:
    from demo.zebra import MissingPackageError, corpus_records

    try:
        return corpus_records()[:23]  # Debian's sample-marc records, as UTF-8 MARC21
    except MissingPackageError as exc:
        pytest.skip(str(exc))


class MemoryConnector(Connector):
    """Serves a fixed list of ISO2709 records; ``behaviour`` injects a failure."""

    def __init__(self, target: Target, records: list[bytes], behaviour: str = "") -> None:
        super().__init__(target)
        self.records = records
        self.behaviour = behaviour
        self.queries: list[TargetQuery] = []

    async def search(
        self, query: TargetQuery, limit: int, progress: Progress | None = None
    ) -> SearchResult:
        self.queries.append(query)
        if progress:
            progress(TargetState.CONNECTING)
        if self.behaviour == "refuse":
            raise TargetUnreachable("connection refused")
        if self.behaviour == "hang":
            await asyncio.sleep(3600)
        if self.behaviour == "diagnostic":
            raise TargetDiagnostic(Diagnostic.of("bib-1", 109, "nosuchdb"))
        if self.behaviour == "bug":
            raise ValueError("a bug in a connector")
        if progress:
            progress(TargetState.PRESENTING)
        raws = tuple(
            RawRecord(self.target.id, i, "usmarc", r) for i, r in enumerate(self.records[:limit], 1)
        )
        return SearchResult(len(self.records), raws)

    async def ping(self) -> str:
        return "memory"


def _target(tid: str, protocol: str = "z3950", timeout: float = 5.0) -> Target:
    t = Timeouts(connect=timeout, search=timeout, present=timeout)
    if protocol == "sru":
        return Target(tid, tid.upper(), "sru", url=f"http://127.0.0.1/{tid}", timeouts=t)
    return Target(tid, tid.upper(), "z3950", host="127.0.0.1", database=tid, timeouts=t)


def _engine(spec: dict[str, tuple[list[bytes], str]], protocol: str = "z3950") -> Engine:
    targets = [_target(tid, protocol, timeout=0.3) for tid in spec]
    made: dict[str, MemoryConnector] = {}

    def factory(t: Target) -> Connector:
        made[t.id] = MemoryConnector(t, *spec[t.id])
        return made[t.id]

    engine = Engine(targets, factory)
    engine.made = made  # type: ignore[attr-defined]
    return engine


async def test_shared_record_comes_back_once_listing_both_libraries() -> None:
    records = _sample_records()
    a, b = records[:6], records[4:10]  # records 4 and 5 are in both
    engine = _engine({"a": (a, ""), "b": (b, "")})
    outcome = await engine.search("computer")
    assert [s.state for s in outcome.statuses] == [TargetState.DONE, TargetState.DONE]
    assert [s.hits for s in outcome.statuses] == [6, 6]
    both = [h for h in outcome.hits if sorted(h.libraries) == ["a", "b"]]
    assert {h.best.title for h in both} >= {_title(records[4]), _title(records[5])}
    assert sum(len(h.records) for h in outcome.hits) == 12
    # no title of the union is lost or doubled, except Debian's own duplicate pair (0, 1)
    assert len(outcome.hits) <= 10


def _title(raw: bytes) -> str:
    from normalizers import normalize

    return normalize(RawRecord("x", 1, "usmarc", raw)).title


async def test_failures_are_statuses_and_the_rest_still_arrives() -> None:
    records = _sample_records()
    engine = _engine(
        {
            "ok": (records[:5], ""),
            "refused": (records, "refuse"),
            "hung": (records, "hang"),
            "diag": (records, "diagnostic"),
            "buggy": (records, "bug"),
        }
    )
    seen: list[tuple[str, TargetState]] = []
    outcome = await engine.search(
        "dc.title=computer", on_status=lambda s: seen.append((s.target_id, s.state))
    )
    by_id = {s.target_id: s for s in outcome.statuses}
    assert by_id["ok"].state is TargetState.DONE and by_id["ok"].records == 5
    assert by_id["refused"].state is TargetState.ERROR
    assert by_id["refused"].message == "connection refused"
    assert by_id["hung"].state is TargetState.TIMEOUT
    assert by_id["hung"].message.startswith("timeout after")
    assert by_id["diag"].diagnostic is not None and by_id["diag"].diagnostic.code == 109
    assert by_id["buggy"].state is TargetState.ERROR and "internal error" in by_id["buggy"].message
    assert len(outcome.hits) >= 4 and not outcome.all_failed
    assert ("ok", TargetState.CONNECTING) in seen and ("ok", TargetState.DONE) in seen


async def test_all_failed_and_bad_query() -> None:
    engine = _engine({"x": ([], "refuse")})
    outcome = await engine.search("war")
    assert outcome.all_failed and outcome.hits == []
    with pytest.raises(CQLSyntaxError):
        await engine.search("dc.title=(war")


async def test_each_target_gets_its_own_translation() -> None:
    records = _sample_records()
    z = _target("z")
    s = _target("s", "sru")
    made: dict[str, MemoryConnector] = {}

    def factory(t: Target) -> Connector:
        made[t.id] = MemoryConnector(t, records[:2])
        return made[t.id]

    engine = Engine([z, s], factory)
    await engine.search("dc.title=computer")
    from protocols.z3950.rpn import RPNQuery, to_pqf

    (zq,) = made["z"].queries
    (sq,) = made["s"].queries
    assert isinstance(zq, RPNQuery) and "1=4" in to_pqf(zq) and "computer" in to_pqf(zq)
    assert isinstance(sq, str) and "dc.title" in sq and "computer" in sq


async def test_a_repeated_search_shows_the_same_from_copies_of_decoded_records() -> None:
    records = _sample_records()
    spec = {"a": (records[:14], ""), "b": (records[5:20], "")}

    def view(outcome: SearchOutcome) -> list[object]:
        return [
            (c.id, c.score, [(r.target_id, r.position, r.raw) for r in c.records], c.display)
            for c in outcome.clusters
        ]

    set_normalized_cache_size(0)  # every record decoded, every time
    try:
        cold = [await _engine(spec).search("computer") for _ in "12"]
    finally:
        set_normalized_cache_size(NORMALIZED_CACHE_SIZE)  # emptied: the next decodes
    first = await _engine(spec).search("computer")
    again = await _engine(spec).search("computer")
    assert view(cold[0]) == view(cold[1]) == view(first) == view(again)
    assert sum(len(c.records) > 1 for c in again.clusters) >= 2

    def by_place(outcome: SearchOutcome) -> dict[tuple[str, int], object]:
        return {(r.target_id, r.position): r.derived for c in outcome.clusters for r in c.records}

    # the repeat's records are copies of the first's (one analysis each), the cold ones not
    shared, fresh = by_place(first), by_place(cold[1])
    assert all(shared[k] is d for k, d in by_place(again).items())
    assert not any(fresh[k] is d for k, d in by_place(cold[0]).items())


def test_relax_gc_raises_the_young_threshold_and_keeps_the_older_ones_at_least() -> None:
    import gc

    from federator.engine import GC_YOUNG_THRESHOLD, relax_gc

    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        relax_gc()
        young, middle, old = gc.get_threshold()
        assert young == GC_YOUNG_THRESHOLD > 700
        assert (middle, old) == (20, 50)
        gc.set_threshold(700, 30, 80)  # larger settings someone chose are kept
        relax_gc()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 30, 80)
    finally:
        gc.set_threshold(*saved)
