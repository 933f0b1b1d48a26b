"""The facade every front end calls: one federated search over many targets.

    query text -> CQL AST -> per-target translation -> connector -> RawRecord
               -> normalizer -> Record -> merged Hit -> ranked list + TargetStatus per target

Every target runs in its own task. Whatever goes wrong with one library (refused, hung,
garbage, a diagnostic, an index it cannot search) ends as that library's ``TargetStatus``;
the others still deliver.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from connectors.base import Connector, SearchResult, TargetQuery
from core import (
    Hit,
    QueryError,
    Record,
    RecordError,
    Target,
    TargetError,
    TargetState,
    TargetStatus,
    TargetTimeout,
)
from dedup.merge import Merger
from federator.query import parse_query, to_rpn, to_sru_cql
from federator.rank import rank
from federator.targets import select_targets
from normalizers import normalize

__all__ = ["ConnectorFactory", "Engine", "SearchOutcome", "StatusCallback", "default_connector"]

log = logging.getLogger(__name__)

StatusCallback = Callable[[TargetStatus], None]
ConnectorFactory = Callable[[Target], Connector]


def default_connector(target: Target) -> Connector:
    """The connector for a target's protocol."""
    if target.protocol == "z3950":
        from connectors.z3950 import Z3950Connector

        return Z3950Connector(target)
    from connectors.sru import SRUConnector

    return SRUConnector(target)


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """The merged, ranked hits of one search and how each target fared."""

    query: str
    hits: list[Hit]
    statuses: list[TargetStatus]

    @property
    def all_failed(self) -> bool:
        """True when no target finished its search."""
        return all(s.state is not TargetState.DONE for s in self.statuses)


def query_terms(node: Any) -> Iterator[str]:
    """The search terms of a CQL AST, for ranking (negated branches included: harmless)."""
    term = getattr(node, "term", None)
    if isinstance(term, str):
        yield term
    for side in ("left", "right", "query"):
        child = getattr(node, side, None)
        if child is not None:
            yield from query_terms(child)


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
        """The query as ``target`` will receive it: RPN for Z39.50, CQL text for SRU."""
        if target.protocol == "z3950":
            return to_rpn(node, target.index_map, target_id=target.id)
        return to_sru_cql(node, target.index_map, target_id=target.id)

    async def search(
        self,
        text: str,
        *,
        target_ids: list[str] | None = None,
        limit: int | None = None,
        on_status: StatusCallback | None = None,
    ) -> SearchOutcome:
        """Search every selected target at once and merge what comes back.

        Raises ``CQLSyntaxError`` / ``ConfigError`` for bad input before any target is
        contacted; never raises for a target's failure.
        """
        node = parse_query(text)
        targets = select_targets(self.targets, target_ids)
        merger = Merger()
        statuses: dict[str, TargetStatus] = {t.id: TargetStatus(t.id) for t in targets}

        def report(status: TargetStatus) -> None:
            statuses[status.target_id] = status
            if on_status is not None:
                on_status(status)

        async def one(target: Target) -> None:
            records = await self._search_target(target, node, limit, report)
            merger.add_all(records)

        await asyncio.gather(*(one(t) for t in targets))
        hits = rank(merger.hits, query_terms(node))
        return SearchOutcome(text, hits, [statuses[t.id] for t in targets])

    async def _search_target(
        self, target: Target, node: Any, limit: int | None, report: StatusCallback
    ) -> list[Record]:
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
            return []
        want = target.max_records if limit is None else limit
        t = target.timeouts
        # a safety net over the connector's own per-phase timeouts
        overall = t.connect + t.search + t.present + 1.0
        try:
            async with asyncio.timeout(overall):
                async with self._connector_factory(target) as connector:
                    result: SearchResult = await connector.search(
                        query, want, lambda state: update(state=state)
                    )
        except TimeoutError:
            update(state=TargetState.TIMEOUT, message=str(TargetTimeout("search", overall)))
            return []
        except TargetError as exc:
            state = TargetState.TIMEOUT if isinstance(exc, TargetTimeout) else TargetState.ERROR
            update(state=state, message=str(exc), diagnostic=exc.diagnostic)
            return []
        except Exception as exc:  # a bug must not spoil the other targets' results
            log.exception("internal error searching %s", target.id)
            update(state=TargetState.ERROR, message=f"internal error: {exc!r}")
            return []
        records, bad = _normalize_all(result, target)
        notes = [f"{bad} record(s) could not be decoded"] if bad else []
        notes += [str(d) for d in result.diagnostics]
        update(
            state=TargetState.DONE,
            hits=result.hits,
            records=len(records),
            message="; ".join(notes),
        )
        return records


def _normalize_all(result: SearchResult, target: Target) -> tuple[list[Record], int]:
    records: list[Record] = []
    bad = 0
    for raw in result.records:
        try:
            records.append(normalize(raw, charset=target.charset))
        except RecordError as exc:
            log.info("%s record %d: %s", target.id, raw.position, exc)
            bad += 1
    return records, bad
