"""Facets of a result list, with counts, and filters that narrow it without asking again.

Each cluster has a set of values per facet, taken from all its records:

    author    the authors of the merged display record, as cataloged
    subject   main subject headings (before the first ``--`` subdivision)
    year      decades of publication: ``1990-1999`` (label ``1990s``)
    language  MARC language codes
    format    book, serial, e-resource, ...
    library   the targets whose records are in the cluster

A facet's count is the number of clusters (after filtering) having the value. Filters are
``{facet: value or values}``: a cluster passes when, for every facet named, it has one of
the values (OR within a facet, AND across facets).

A session keeps one ``FacetCache``: a cluster's values for a facet are computed when that
facet is first asked for and again only after the cluster changed, so a page's counts cost
a lookup per cluster and facet, one ``Counter`` per facet and a heap for the first values.

>>> from core import Record
>>> from core.clusters import Manifestation
>>> m = Manifestation("m1"); m.add(Record(title="War and peace", year=1869, target_id="a"))
>>> facet_values(m)["year"], matches(m, {"library": "a", "year": ["1860-1869", "1990-1999"]})
(frozenset({'1860-1869'}), True)
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import chain
from operator import attrgetter, neg

from core.clusters import Cluster, Facet, FacetValue

__all__ = [
    "FACETS",
    "FacetCache",
    "Filters",
    "compute_facets",
    "facet_values",
    "filter_clusters",
    "matches",
]

FACETS = ("author", "subject", "year", "language", "format", "library")

#: facet -> wanted value(s)
Filters = Mapping[str, str | Iterable[str]]


_EMPTY = frozenset([""])
_record_languages = attrgetter("languages")
_record_format = attrgetter("format")
_record_target = attrgetter("target_id")


@lru_cache(maxsize=1024)
def _decade(year: int) -> str:
    start = year - year % 10
    return f"{start}-{start + 9}"


def _authors(cluster: Cluster) -> frozenset[str]:
    values = frozenset(cluster.display.authors)
    return values - _EMPTY if "" in values else values


def _subjects(cluster: Cluster) -> frozenset[str]:
    return _headings(cluster.display.subjects)


@lru_cache(maxsize=1 << 14)
def _headings(subjects: tuple[str, ...]) -> frozenset[str]:
    # records repeat across searches, and so do their subject lists
    return frozenset(s.partition(" -- ")[0] for s in subjects if s)


def _years(cluster: Cluster) -> frozenset[str]:
    return frozenset(_decade(r.year) for r in cluster.records if r.year)


def _languages(cluster: Cluster) -> frozenset[str]:
    return frozenset(chain.from_iterable(map(_record_languages, cluster.records)))


def _formats(cluster: Cluster) -> frozenset[str]:
    values = frozenset(map(_record_format, cluster.records))
    return values - _EMPTY if "" in values else values


def _libraries(cluster: Cluster) -> frozenset[str]:
    values = frozenset(map(_record_target, cluster.records))
    return values - _EMPTY if "" in values else values


#: facet -> its values for one cluster
_EXTRACT: dict[str, Callable[[Cluster], frozenset[str]]] = {
    "author": _authors,
    "subject": _subjects,
    "year": _years,
    "language": _languages,
    "format": _formats,
    "library": _libraries,
}


def facet_values(cluster: Cluster) -> dict[str, frozenset[str]]:
    """The values a cluster has for every facet."""
    return {name: extract(cluster) for name, extract in _EXTRACT.items()}


class FacetCache:
    """Facet values per cluster, each computed when first asked for and again only after
    the cluster changed."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[int, dict[str, frozenset[str]]]] = {}

    def _entry(self, cluster: Cluster) -> dict[str, frozenset[str]]:
        hit = self._values.get(cluster.id)
        if hit is None or hit[0] != cluster.version:
            hit = self._values[cluster.id] = (cluster.version, {})
        return hit[1]

    def value(self, cluster: Cluster, name: str) -> frozenset[str]:
        """``facet_values(cluster)[name]``, cached by the cluster's version."""
        entry = self._entry(cluster)
        values = entry.get(name)
        if values is None:
            values = entry[name] = _EXTRACT[name](cluster)
        return values

    def values(self, cluster: Cluster) -> dict[str, frozenset[str]]:
        """``facet_values(cluster)``, cached by the cluster's version."""
        entry = self._entry(cluster)
        if len(entry) < len(_EXTRACT):
            for name, extract in _EXTRACT.items():
                if name not in entry:
                    entry[name] = extract(cluster)
        return entry


def _wanted(filters: Filters) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for name, want in filters.items():
        if name not in FACETS:
            raise ValueError(f"unknown facet {name!r}; one of {', '.join(FACETS)}")
        out[name] = frozenset([want] if isinstance(want, str) else want)
    return out


def matches(cluster: Cluster, filters: Filters, cache: FacetCache | None = None) -> bool:
    """True when ``cluster`` passes every filter."""
    wanted = _wanted(filters)
    if cache is None:
        return all(_EXTRACT[name](cluster) & want for name, want in wanted.items())
    return all(cache.value(cluster, name) & want for name, want in wanted.items())


def filter_clusters(
    clusters: Sequence[Cluster], filters: Filters | None, cache: FacetCache | None = None
) -> list[Cluster]:
    """The clusters passing ``filters`` (all of them when there are none), order kept."""
    if not filters:
        return list(clusters)
    wanted = _wanted(filters)
    value = (cache or FacetCache()).value
    return [c for c in clusters if all(value(c, name) & want for name, want in wanted.items())]


def _label(name: str, value: str) -> str:
    if name == "year":
        return value.split("-")[0] + "s"
    return value


def compute_facets(
    clusters: Iterable[Cluster],
    names: Sequence[str] = FACETS,
    limit: int = 20,
    cache: FacetCache | None = None,
) -> dict[str, Facet]:
    """Counts per facet value over ``clusters``, most frequent first (then by value)."""
    if not names:
        return {}
    cache = cache or FacetCache()
    clusters = list(clusters)
    entries = [cache._entry(c) for c in clusters]
    out = {}
    for n in names:
        extract = _EXTRACT[n]
        found = []
        for c, entry in zip(clusters, entries, strict=True):
            values = entry.get(n)
            if values is None:
                values = entry[n] = extract(c)
            found.append(values)
        counts = Counter(chain.from_iterable(found))
        # the first ``limit`` by (-count, value), without a key function per value
        top = heapq.nsmallest(limit, zip(map(neg, counts.values()), counts, strict=True))
        out[n] = Facet(n, tuple(FacetValue(v, -k, _label(n, v)) for k, v in top))
    return out
