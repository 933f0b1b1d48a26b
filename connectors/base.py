"""The one small interface every connector implements.

A connector is asyncio I/O around a sans-IO codec. It raises only ``core.TargetError``
subclasses (``TargetUnreachable``, ``TargetTimeout`` with the phase, ``RemoteProtocolError``,
``TargetDiagnostic``); the federator turns them into that target's status.

Fetching more of a search: ``search`` returns a ``SearchResult`` whose ``result_set`` says
where its hits live; ``fetch(result_set, start, count)`` returns records ``start`` ..
``start + count - 1`` of it, on any connector of the same target (a new one will do):

    first = await connector.search(query, 20)                 # records 1..20
    more = await connector.fetch(first.result_set, 21, 20)    # records 21..40

Z39.50 presents from the result set the target still keeps on a pooled association, SRU asks
from ``startRecord``, a local collection slices its ranking; when the result set is gone (the
association closed, the target forgot it) the query runs again and only the records asked for
are fetched. ``fetch`` here is the fallback for connectors without a better way: the search
again, for records 1..start + count - 1, keeping those from ``start`` on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace

from core import Diagnostic, RawRecord, TargetError, TargetState
from core.target import Target
from protocols.z3950.rpn import RPNQuery

__all__ = ["Connector", "Progress", "ResultSet", "ScanTerm", "SearchResult", "TargetQuery"]

#: What a connector sends: an RPN tree for Z39.50, a CQL string for SRU.
TargetQuery = RPNQuery | str

#: Called by a connector as it moves through connecting / searching / presenting.
Progress = Callable[[TargetState], None]


@dataclass(frozen=True, slots=True)
class ScanTerm:
    """One entry of an index as a target's scan returns it."""

    term: str
    count: int
    display: str = ""


@dataclass(frozen=True, slots=True)
class ResultSet:
    """Where a search's hits can be fetched from again (``Connector.fetch``).

    ``query`` is the query as the connector was given it, ``hits`` the hit count it had;
    ``handle`` is the connector's own (Z39.50: which association keeps which named result
    set) and means nothing to anyone else.
    """

    target_id: str
    query: TargetQuery
    hits: int
    handle: object = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Hit count, the records fetched, non-fatal (surrogate) diagnostics, and the result set
    to fetch more from (None where a connector cannot say)."""

    hits: int
    records: tuple[RawRecord, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    result_set: ResultSet | None = None


class Connector(ABC):
    """Searches one target. ``async with`` closes it."""

    def __init__(self, target: Target) -> None:
        self.target = target

    @abstractmethod
    async def search(
        self, query: TargetQuery, limit: int, progress: Progress | None = None
    ) -> SearchResult:
        """Run ``query`` and fetch up to ``limit`` records (positions 1..limit)."""

    async def fetch(
        self, result_set: ResultSet, start: int, count: int, progress: Progress | None = None
    ) -> SearchResult:
        """Records ``start`` .. ``start + count - 1`` of ``result_set`` (fewer past its end).

        The records keep their positions in the result set; ``hits`` and ``result_set`` are
        those of the search that served them (a new one if the query had to run again).
        This default runs the search again for records 1 .. ``start + count - 1`` and keeps
        those from ``start`` on; connectors override it with something cheaper.
        """
        start = self._check_fetch(result_set, start)
        if count <= 0:
            return SearchResult(result_set.hits, result_set=result_set)
        result = await self.search(result_set.query, start + count - 1, progress)
        return replace(result, records=tuple(r for r in result.records if r.position >= start))

    def _check_fetch(self, result_set: ResultSet, start: int) -> int:
        """``start`` made at least 1; ``TargetError`` for another target's result set."""
        if result_set.target_id != self.target.id:
            raise TargetError(
                f"a result set of target {result_set.target_id} cannot be fetched from"
                f" target {self.target.id}"
            )
        return max(1, start)

    @abstractmethod
    async def ping(self) -> str:
        """Check the target answers (Z39.50 Init / SRU explain); return a one-line summary."""

    async def scan(self, index: str, term: str, count: int = 20) -> list[ScanTerm]:
        """Browse ``index`` from ``term``: the next ``count`` index entries with hit counts.

        ``index`` is in the target's own terms (Bib-1 attributes like ``"1=4"`` for Z39.50,
        a CQL index for SRU). Targets that cannot browse raise ``TargetError``.
        """
        raise TargetError(f"scan is not supported for {self.target.protocol} targets")

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Default: nothing to release."""

    async def __aenter__(self) -> Connector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
