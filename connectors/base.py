"""The one small interface every connector implements.

A connector is asyncio I/O around a sans-IO codec. It raises only ``core.TargetError``
subclasses (``TargetUnreachable``, ``TargetTimeout`` with the phase, ``RemoteProtocolError``,
``TargetDiagnostic``); the federator turns them into that target's status.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from core import Diagnostic, RawRecord, TargetError, TargetState
from core.target import Target
from protocols.z3950.rpn import RPNQuery

__all__ = ["Connector", "Progress", "ScanTerm", "SearchResult", "TargetQuery"]

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
class SearchResult:
    """Hit count, the first records fetched, and non-fatal (surrogate) diagnostics."""

    hits: int
    records: tuple[RawRecord, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()


class Connector(ABC):
    """Searches one target. ``async with`` closes it."""

    def __init__(self, target: Target) -> None:
        self.target = target

    @abstractmethod
    async def search(
        self, query: TargetQuery, limit: int, progress: Progress | None = None
    ) -> SearchResult:
        """Run ``query`` and fetch up to ``limit`` records (positions 1..limit)."""

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
