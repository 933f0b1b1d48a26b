"""The facade every front end calls: one federated search over many targets.

    query text -> CQL AST -> per-target translation -> connector -> RawRecord
               -> normalizer -> Record -> cluster (work > manifestation > hit)
               -> ranked ResultPage + TargetStatus per target

``Engine.session`` starts a live search (``federator.session``): pages of ranked clusters
and facets can be read while results arrive. ``Engine.search`` runs one to completion.
Every target runs in its own task. Whatever goes wrong with one library (refused, hung,
garbage, a diagnostic, an index it cannot search) ends as that library's ``TargetStatus``;
the others still deliver.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.base import Connector, ResultSet, SearchResult, TargetQuery
from core import (
    Hit,
    QueryError,
    RawRecord,
    Record,
    RecordError,
    Target,
    TargetError,
    TargetState,
    TargetStatus,
    TargetTimeout,
)
from core.clusters import Cluster, Facet, Level, ResultPage, as_hit
from federator.explain import translate
from federator.query import parse_query, to_rpn, to_sru_cql
from federator.session import DEFAULT_MAX_RECORDS, SearchSession
from federator.targets import select_targets
from normalizers import normalize
from protocols.cql import to_cql

__all__ = [
    "ConnectorFactory",
    "Engine",
    "PageCallback",
    "SearchOutcome",
    "SearchSession",
    "StatusCallback",
    "default_connector",
    "relax_gc",
    "set_normalized_cache_size",
]

log = logging.getLogger(__name__)

StatusCallback = Callable[[TargetStatus], None]
PageCallback = Callable[[ResultPage], None]
ConnectorFactory = Callable[[Target], Connector]

#: allocations between young-generation collections for ``relax_gc`` (Python's default: 700)
GC_YOUNG_THRESHOLD = 50_000


def relax_gc() -> None:
    """Let the garbage collector run less often in a process that serves searches.

    A search allocates many small, mostly acyclic objects (decoded records, keys, scores);
    with Python's default thresholds the collector ran often enough to take about 30% of
    the CPU of a busy search process and its full collections paused every session for
    0.2-0.4 s (measured with ``bench/federation.py``). Reference counting still frees
    almost everything at once; only cycles wait a little longer. Front ends call this once
    at start-up (``cli.py``; the benchmark does the same).
    """
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, max(middle, 20), max(old, 50))


def default_connector(target: Target) -> Connector:
    """The connector for a target's protocol."""
    if target.protocol == "local":
        from connectors.local import LocalConnector
        from federator.collection import ensure_collection

        # the index is (re)built from the files first, when they changed
        return LocalConnector(target, prepare=lambda: ensure_collection(target))
    if target.protocol == "z3950":
        from connectors.z3950 import Z3950Connector, default_pool

        # associations are kept between searches: Init is the slowest step on real servers
        return Z3950Connector(target, pool=default_pool())
    from connectors.sru import SRUConnector

    return SRUConnector(target)


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """The merged, ranked results of one search and how each target fared.

    ``hits`` are the editions (manifestations: each book once, with every library holding
    it), ``clusters`` the works (every edition of one work together), both by relevance;
    ``facets`` counts over the works.
    """

    query: str
    hits: list[Hit]
    statuses: list[TargetStatus]
    clusters: list[Cluster] = field(default_factory=list)
    facets: dict[str, Facet] = field(default_factory=dict)

    @property
    def all_failed(self) -> bool:
        """True when no target finished its search."""
        return all(s.state is not TargetState.DONE for s in self.statuses)


class Engine:
    """Runs federated searches over a fixed set of targets.

    >>> engine = Engine(load_targets("config/targets.yaml"))  # doctest: +SKIP
    >>> outcome = asyncio.run(engine.search("dc.title=war"))  # doctest: +SKIP
    """

    def __init__(
        self, targets: Sequence[Target], connector_factory: ConnectorFactory = default_connector
    ) -> None:
        self.targets = list(targets)
        self._connector_factory = connector_factory

    def translate(self, node: Any, target: Target) -> TargetQuery:
        """The query as ``target`` will receive it: RPN for Z39.50, CQL text for SRU and
        for local collections."""
        if target.protocol == "local":
            return to_cql(node)  # the collection's own connector refuses what it cannot answer
        if target.protocol == "z3950":
            return to_rpn(node, target.index_map, target_id=target.id)
        return to_sru_cql(node, target.index_map, target_id=target.id)

    def session(
        self,
        text: str,
        *,
        target_ids: list[str] | None = None,
        limit: int | None = None,
        on_status: StatusCallback | None = None,
        level: Level | str = Level.WORK,
        max_records: int = DEFAULT_MAX_RECORDS,
    ) -> SearchSession:
        """A live search over the selected targets; call ``start()`` on it in an event loop.

        Raises ``CQLSyntaxError`` / ``ConfigError`` for bad input before any target is
        contacted; never raises for a target's failure.
        """
        node = parse_query(text)
        targets = select_targets(self.targets, target_ids)
        return SearchSession(
            self,
            node,
            targets,
            text=text,
            limit=limit,
            on_status=on_status,
            level=level,
            max_records=max_records,
        )

    async def search(
        self,
        text: str,
        *,
        target_ids: list[str] | None = None,
        limit: int | None = None,
        on_status: StatusCallback | None = None,
        on_page: PageCallback | None = None,
        page_size: int = 10,
    ) -> SearchOutcome:
        """Search every selected target at once, wait for all, and rank the merged works.

        ``on_page`` is called with the first ``page_size`` ranked clusters whenever the
        list changed while results arrive (progressive display).
        Raises ``CQLSyntaxError`` / ``ConfigError`` for bad input before any target is
        contacted; never raises for a target's failure.
        """
        session = self.session(text, target_ids=target_ids, limit=limit, on_status=on_status)
        session.start()
        try:
            while on_page is not None and not session.done:
                page = session.page(0, page_size, fetch=False, facets=())
                on_page(page)
                await session.changed(since=page.version)
            await session.wait()
        finally:
            await session.close()
        works = session.page(0, None, fetch=False)
        editions = session.page(0, None, fetch=False, level=Level.MANIFESTATION, facets=())
        return SearchOutcome(
            text,
            [as_hit(c) for c in editions.clusters],
            list(works.statuses),
            list(works.clusters),
            works.facets,
        )

    async def _search_target(
        self, target: Target, node: Any, limit: int | None, report: StatusCallback
    ) -> tuple[list[Record], ResultSet | None]:
        """Search one target: its records, normalized, and the result set to fetch more from
        (None when the search failed or the connector cannot say). Never raises for the
        target's failure: that ends in its status."""
        started = time.monotonic()
        status = TargetStatus(target.id)

        def update(**changes: Any) -> None:
            nonlocal status
            status = replace(status, elapsed=time.monotonic() - started, **changes)
            report(status)

        try:
            query = self.translate(node, target)
        except QueryError as exc:
            update(state=TargetState.ERROR, message=str(exc), diagnostic=exc.diagnostic)
            return [], None
        want = target.max_records if limit is None else limit
        overall = _overall_timeout(target)
        try:
            async with asyncio.timeout(overall):
                async with self._connector_factory(target) as connector:
                    if target.index_map_auto:  # renames from the server's explain record
                        query = await translate(node, target, connector)
                    result: SearchResult = await connector.search(
                        query, want, lambda state: update(state=state)
                    )
        except Exception as exc:
            update(**_failure(exc, target, "search", overall))
            return [], None
        return _delivered(result, target, update, 0), result.result_set

    async def _fetch_target(
        self,
        target: Target,
        result_set: ResultSet,
        start: int,
        count: int,
        status: TargetStatus,
        report: StatusCallback,
    ) -> tuple[list[Record], ResultSet | None]:
        """Fetch records ``start`` .. ``start + count - 1`` of a search already run on
        ``target`` (``status`` is its status so far): the new records, normalized, and the
        result set to fetch the next ones from. A failure becomes the target's status (the
        records counted before stay counted); it never raises for the target's failure."""
        started = time.monotonic()
        before = status

        def update(**changes: Any) -> None:
            nonlocal status
            status = replace(status, elapsed=before.elapsed + time.monotonic() - started, **changes)
            report(status)

        overall = _overall_timeout(target)  # the result set may be gone: a search again
        try:
            async with asyncio.timeout(overall):
                async with self._connector_factory(target) as connector:
                    result = await connector.fetch(
                        result_set, start, count, lambda state: update(state=state)
                    )
        except Exception as exc:
            update(**_failure(exc, target, "fetch", overall))
            return [], None
        return _delivered(
            result, target, update, before.records, diagnostic=None
        ), result.result_set


def _delivered(
    result: SearchResult,
    target: Target,
    update: Callable[..., None],
    counted: int,
    **changes: Any,
) -> list[Record]:
    """The records of ``result``, normalized, once the target's status says it is done:
    ``counted`` records before these, and what could not be decoded or was diagnosed."""
    records, bad = _normalize_all(result, target)
    update(
        state=TargetState.DONE,
        hits=result.hits,
        records=counted + len(records),
        message=_notes(bad, result),
        **changes,
    )
    return records


def _notes(bad: int, result: SearchResult) -> str:
    """A target's status message after records arrived: undecodable records, diagnostics."""
    notes = [f"{bad} record(s) could not be decoded"] if bad else []
    notes += [str(d) for d in result.diagnostics]
    return "; ".join(notes)


def _overall_timeout(target: Target) -> float:
    """A safety net over the connector's own per-phase timeouts (connect is spent twice by
    Z39.50: TCP connect, then Init)."""
    t = target.timeouts
    return 2 * t.connect + t.search + t.present + 1.0


def _failure(exc: Exception, target: Target, phase: str, overall: float) -> dict[str, Any]:
    """The status changes for a search or fetch that raised ``exc``."""
    if isinstance(exc, QueryError):
        return {"state": TargetState.ERROR, "message": str(exc), "diagnostic": exc.diagnostic}
    if isinstance(exc, TimeoutError):  # the safety net, not the connector's own
        return {"state": TargetState.TIMEOUT, "message": str(TargetTimeout(phase, overall))}
    if isinstance(exc, TargetError):
        state = TargetState.TIMEOUT if isinstance(exc, TargetTimeout) else TargetState.ERROR
        return {"state": state, "message": str(exc), "diagnostic": exc.diagnostic}
    # a bug must not spoil the other targets' results
    log.error("internal error in %s of %s", phase, target.id, exc_info=exc)
    return {"state": TargetState.ERROR, "message": f"internal error: {exc!r}"}


#: records normalized lately, by their bytes: a library sends the same records again for
#: other queries and other sessions, and decoding is the costliest step of a search
_NORMALIZED: OrderedDict[tuple[str, str, str, bytes], Record] = OrderedDict()
NORMALIZED_CACHE_SIZE = 20_000


def set_normalized_cache_size(size: int) -> None:
    """Keep at most ``size`` normalized records (0: decode every record every time); the
    cache is emptied. Benchmarks use it to measure a search without the cache."""
    global NORMALIZED_CACHE_SIZE
    NORMALIZED_CACHE_SIZE = max(0, size)
    _NORMALIZED.clear()


def _normalize_cached(raw: RawRecord, charset: str, flavour: str = "") -> Record:
    """``normalize(raw, charset=charset)``, memoized on the bytes (the mapping depends on
    nothing else); the copy returned carries this ``raw``'s target, position and bytes."""
    key = (raw.syntax, charset, flavour, raw.data)
    record = _NORMALIZED.get(key)
    if record is None:
        record = normalize(raw, charset=charset, flavour=flavour)
        if NORMALIZED_CACHE_SIZE:
            _NORMALIZED[key] = record
            if len(_NORMALIZED) > NORMALIZED_CACHE_SIZE:
                _NORMALIZED.popitem(last=False)
        return record
    _NORMALIZED.move_to_end(key)
    # a copy that shares what dedup derived from the content (``Record.derived``)
    return record.at(raw.target_id, raw.position, raw)


def _normalize_all(result: SearchResult, target: Target) -> tuple[list[Record], int]:
    records: list[Record] = []
    bad = 0
    for raw in result.records:
        try:
            # a negotiated charset (raw.charset) beats the configured one and the record's
            record = _normalize_cached(raw, raw.charset or target.charset, target.flavour)
            if raw.holdings:  # OPAC holdings travel beside the bibliographic record
                record = replace(record, holdings=record.holdings + raw.holdings)
            records.append(record)
        except RecordError as exc:
            log.info("%s record %d: %s", target.id, raw.position, exc)
            bad += 1
    return records, bad
