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

>>> from core import Record
>>> from core.clusters import Manifestation
>>> m = Manifestation("m1"); m.add(Record(title="War and peace", year=1869, target_id="a"))
>>> facet_values(m)["year"], matches(m, {"library": "a", "year": ["1860-1869", "1990-1999"]})
(frozenset({'1860-1869'}), True)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

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


def _decade(year: int) -> str:
    start = year - year % 10
    return f"{start}-{start + 9}"


def facet_values(cluster: Cluster) -> dict[str, frozenset[str]]:
    """The values a cluster has for every facet."""
    records = cluster.records
    display = cluster.display
    return {
        "author": frozenset(a for a in display.authors if a),
        "subject": frozenset(s.split(" -- ")[0] for s in display.subjects if s),
        "year": frozenset(_decade(r.year) for r in records if r.year),
        "language": frozenset(lang for r in records for lang in r.languages),
        "format": frozenset(r.format for r in records if r.format),
        "library": frozenset(r.target_id for r in records if r.target_id),
    }


class FacetCache:
    """Facet values per cluster, recomputed only when the cluster changed."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[int, dict[str, frozenset[str]]]] = {}

    def values(self, cluster: Cluster) -> dict[str, frozenset[str]]:
        """``facet_values(cluster)``, cached by the cluster's version."""
        hit = self._values.get(cluster.id)
        if hit is None or hit[0] != cluster.version:
            hit = self._values[cluster.id] = (cluster.version, facet_values(cluster))
        return hit[1]


def _wanted(filters: Filters) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for name, want in filters.items():
        if name not in FACETS:
            raise ValueError(f"unknown facet {name!r}; one of {', '.join(FACETS)}")
        out[name] = frozenset([want] if isinstance(want, str) else want)
    return out


def matches(cluster: Cluster, filters: Filters, cache: FacetCache | None = None) -> bool:
    """True when ``cluster`` passes every filter."""
    values = cache.values(cluster) if cache else facet_values(cluster)
    return all(values[name] & want for name, want in _wanted(filters).items())


def filter_clusters(
    clusters: Sequence[Cluster], filters: Filters | None, cache: FacetCache | None = None
) -> list[Cluster]:
    """The clusters passing ``filters`` (all of them when there are none), order kept."""
    if not filters:
        return list(clusters)
    wanted = _wanted(filters)
    cache = cache or FacetCache()
    out = []
    for c in clusters:
        values = cache.values(c)
        if all(values[name] & want for name, want in wanted.items()):
            out.append(c)
    return out


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
    cache = cache or FacetCache()
    counts: dict[str, Counter[str]] = {n: Counter() for n in names}
    for c in clusters:
        values = cache.values(c)
        for n in names:
            counts[n].update(values[n])
    out = {}
    for n in names:
        ordered = sorted(counts[n].items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        out[n] = Facet(n, tuple(FacetValue(v, k, _label(n, v)) for v, k in ordered))
    return out
