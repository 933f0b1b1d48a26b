"""The union catalog's entries, FRBR-style: work > manifestation > hit.

Work           one intellectual work: every edition (and translation, where a uniform title
               says so) of one text by one author
Manifestation  one edition: every library's record of the same published book
hit            one ``Record`` from one library, with its holdings (``Manifestation.records``)
ResultPage     a slice of the ranked, filtered list at one moment, with facet counts

Works and manifestations are live: the clusterer (``dedup``) adds records to them while a
search is still running, so ``display`` (the merged record) is recomputed when asked after a
change. ``Cluster`` is what a result list holds: a work, or a manifestation when a front end
asks for editions one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from core.records import Hit, HoldingStatus, Record
from core.status import TargetStatus

__all__ = [
    "Cluster",
    "Facet",
    "FacetValue",
    "Level",
    "Manifestation",
    "ResultPage",
    "Work",
    "as_hit",
]

#: Builds the merged display record of a group of records (dedup's per-field policy).
Merge = Callable[[list[Record]], Record]


class Level(StrEnum):
    """How far records are grouped: one edition, or every edition of a work."""

    WORK = "work"
    MANIFESTATION = "manifestation"


def _first_record_merge(records: list[Record]) -> Record:
    return records[0] if records else Record()


class _Group:
    """What works and manifestations share: records in arrival order, a cached merged record."""

    __slots__ = ("_display", "_display_version", "_merge", "id", "score", "version")

    def __init__(self, id: str, merge: Merge | None = None) -> None:
        self.id = id
        self.score = 0.0
        #: bumped on every change, so that caches (display, facets, rank features) know
        self.version = 0
        self._merge: Merge = merge or _first_record_merge
        self._display: Record | None = None
        self._display_version = -1

    @property
    def records(self) -> list[Record]:
        raise NotImplementedError

    @property
    def display(self) -> Record:
        """The merged record shown for the group (recomputed after a change)."""
        if self._display is None or self._display_version != self.version:
            self._display = self._merge(self.records)
            self._display_version = self.version
        return self._display

    @property
    def libraries(self) -> list[str]:
        """Target ids whose records are in the group, in order of arrival, each once."""
        return list(dict.fromkeys(r.target_id for r in self.records))

    @property
    def available(self) -> int:
        """Libraries with at least one copy on the shelf now (holdings say ``available``)."""
        return len(
            {
                h.library or r.target_id
                for r in self.records
                for h in r.holdings
                if h.status is HoldingStatus.AVAILABLE
            }
        )

    @property
    def holdings_known(self) -> bool:
        """True when some record says anything about its copies' status."""
        return any(h.status is not HoldingStatus.UNKNOWN for r in self.records for h in r.holdings)


class Manifestation(_Group):
    """One edition of a book: the records of it from every library (the hits)."""

    __slots__ = ("_records", "work")

    level = Level.MANIFESTATION

    def __init__(self, id: str, merge: Merge | None = None) -> None:
        super().__init__(id, merge)
        self._records: list[Record] = []
        self.work: Work | None = None

    @property
    def records(self) -> list[Record]:
        """The hits: one record per library copy, in order of arrival."""
        return self._records

    @property
    def editions(self) -> int:
        """Always 1: a manifestation is one edition."""
        return 1

    @property
    def manifestations(self) -> list[Manifestation]:
        """Itself, so that works and manifestations can be listed alike."""
        return [self]

    def add(self, record: Record) -> None:
        """Append a hit (the clusterer decides it belongs here)."""
        self._records.append(record)
        self.version += 1
        if self.work is not None:
            self.work.version += 1

    def __repr__(self) -> str:
        return f"Manifestation({self.id!r}, {len(self._records)} records)"


class Work(_Group):
    """Every edition of one work by one author; ``title`` is its most usual title proper."""

    __slots__ = ("_manifestations", "_records", "title")

    level = Level.WORK

    def __init__(self, id: str, merge: Merge | None = None, title: str = "") -> None:
        super().__init__(id, merge)
        self._manifestations: list[Manifestation] = []
        self._records = _STALE
        self.title = title

    @property
    def manifestations(self) -> list[Manifestation]:
        """The editions, in order of arrival."""
        return self._manifestations

    @property
    def records(self) -> list[Record]:
        """Every record of every edition (the same list until the work changes)."""
        if len(self._manifestations) == 1:
            return self._manifestations[0].records  # most works: no list of their own
        if self._records[0] != self.version:
            self._records = (self.version, [r for m in self._manifestations for r in m.records])
        return self._records[1]

    @property
    def editions(self) -> int:
        """How many distinct editions (manifestations) the work has."""
        return len(self._manifestations)

    def add(self, manifestation: Manifestation) -> None:
        """Attach an edition to this work."""
        manifestation.work = self
        self._manifestations.append(manifestation)
        self.version += 1

    def absorb(self, other: Work) -> None:
        """Take every edition of ``other`` (found to be the same work); ``other`` is left
        empty."""
        for m in other._manifestations:
            m.work = self
            self._manifestations.append(m)
        other._manifestations = []
        self.version += 1
        other.version += 1

    def __repr__(self) -> str:
        return f"Work({self.id!r}, {len(self._manifestations)} manifestations)"


#: what ``Work.records`` starts from: never returned (no work has version -1), never changed
_STALE: tuple[int, list[Record]] = (-1, [])

#: An entry of a result list: a work, or a single edition.
Cluster = Work | Manifestation


def as_hit(cluster: Cluster) -> Hit:
    """The older flat view of a cluster (``Hit``), for callers that predate clustering."""
    return Hit(
        key=cluster.id,
        # by library and position: ``best`` then does not depend on who answered first
        records=sorted(cluster.records, key=lambda r: (r.target_id, r.position)),
        score=cluster.score,
        merged=cluster.display,
        editions=cluster.editions,
    )


@dataclass(frozen=True, slots=True)
class FacetValue:
    """One value of a facet and how many clusters of the (filtered) list have it."""

    value: str
    count: int
    label: str = ""


@dataclass(frozen=True, slots=True)
class Facet:
    """Counts of one facet (``author``, ``subject``, ``year``, ``language``, ``format``,
    ``library``), most frequent first."""

    name: str
    values: tuple[FacetValue, ...]

    def __iter__(self) -> Iterator[FacetValue]:
        return iter(self.values)

    def count(self, value: str) -> int:
        """The count of ``value``, 0 when absent."""
        return next((v.count for v in self.values if v.value == value), 0)


@dataclass(frozen=True, slots=True)
class ResultPage:
    """What a front end shows at one moment of a search.

    ``total`` counts the clusters left after the filters; ``clusters`` is the slice
    ``[offset, offset + limit)`` in the requested order; ``complete`` is True once every
    target has finished and nothing more is being fetched.
    """

    offset: int
    total: int
    clusters: tuple[Cluster, ...]
    facets: dict[str, Facet] = field(default_factory=dict)
    statuses: tuple[TargetStatus, ...] = ()
    complete: bool = False
    sort: str = "relevance"
    #: records held by the session, all targets together
    records: int = 0
    #: the session's version when the page was made: ``await session.changed(since=...)``
    version: int = 0
