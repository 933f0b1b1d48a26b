"""Facet counts over clusters and filters that narrow the list without asking the targets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core import Record
from core.clusters import Cluster, Manifestation
from dedup import Clusterer
from dedup.merge import merger
from federator.facets import FacetCache, compute_facets, facet_values, filter_clusters, matches

BOOKS = [
    Record(title="War and peace", authors=("Tolstoy, Leo",), year=1982, languages=("eng",),
           subjects=("Napoleonic Wars, 1800-1815 -- Fiction",), publisher="Penguin",
           target_id="lib1", position=1),
    Record(title="War and peace", authors=("Tolstoy, Leo",), year=1982, languages=("eng",),
           subjects=("Napoleonic Wars, 1800-1815 -- Fiction",), publisher="Penguin",
           target_id="lib2", position=4),
    Record(title="Anna Karenina", authors=("Tolstoy, Leo",), year=1977, languages=("eng",),
           subjects=("Adultery -- Fiction",), publisher="Penguin", target_id="lib2", position=2),
    Record(title="Война и мир", authors=("Толстой, Л. Н.",), year=1957, languages=("rus",),
           publisher="Гослитиздат", target_id="lib3", position=1),
    Record(title="Peace studies", authors=("Barash, David P.",), year=1991, languages=("eng",),
           subjects=("Peace",), publisher="Sage", format="serial", target_id="lib3", position=7),
]  # fmt: skip


def _works() -> list[Cluster]:
    c = Clusterer()
    c.add_all(BOOKS)
    return c.clusters()


def test_counts_per_facet_count_clusters_not_records() -> None:
    works = _works()
    assert len(works) == 4  # the two "War and peace" copies are one work
    facets = compute_facets(works)
    assert facets["library"].count("lib2") == 2
    assert facets["library"].count("lib1") == 1
    assert facets["author"].count("Tolstoy, Leo") == 2
    assert facets["year"].count("1980-1989") == 1 and facets["year"].count("1970-1979") == 1
    assert [v.label for v in facets["year"] if v.value == "1950-1959"] == ["1950s"]
    assert facets["language"].count("eng") == 3 and facets["language"].count("rus") == 1
    assert facets["format"].count("book") == 3 and facets["format"].count("serial") == 1
    assert facets["subject"].count("Napoleonic Wars, 1800-1815") == 1
    # most frequent first
    counts = [v.count for v in facets["language"]]
    assert counts == sorted(counts, reverse=True)


def test_filters_narrow_or_within_a_facet_and_across_facets() -> None:
    works = _works()
    cache = FacetCache()
    eng = filter_clusters(works, {"language": "eng"}, cache)
    assert {w.display.title for w in eng} == {"War and peace", "Anna Karenina", "Peace studies"}
    both = filter_clusters(works, {"language": ["eng", "rus"], "library": "lib3"}, cache)
    assert {w.display.title for w in both} == {"Война и мир", "Peace studies"}
    assert filter_clusters(works, {"year": "2000-2009"}, cache) == []
    assert filter_clusters(works, None, cache) == works
    # counts over the narrowed list
    narrowed = compute_facets(eng, cache=cache)
    assert narrowed["language"].count("rus") == 0 and narrowed["library"].count("lib3") == 1
    with pytest.raises(ValueError, match="unknown facet"):
        filter_clusters(works, {"colour": "red"})


def test_cached_values_follow_cluster_changes() -> None:
    c = Clusterer()
    m = c.add(BOOKS[0])
    cache = FacetCache()
    assert cache.values(m)["library"] == {"lib1"}
    c.add(replace(BOOKS[0], target_id="lib9", position=3))
    assert cache.values(m)["library"] == {"lib1", "lib9"} == facet_values(m)["library"]


def test_each_facet_is_cached_alone_and_follows_cluster_changes() -> None:
    m = Manifestation("m1", merger())
    m.add(BOOKS[0])
    cache = FacetCache()
    # filtering by library computes that facet only; the others wait until asked for
    assert filter_clusters([m], {"library": "lib1"}, cache) == [m]
    assert cache.value(m, "subject") == {"Napoleonic Wars, 1800-1815"}
    m.add(replace(BOOKS[0], subjects=("Russia -- History",), year=1869, target_id="lib9"))
    assert cache.value(m, "library") == {"lib1", "lib9"}
    assert cache.value(m, "subject") == {"Napoleonic Wars, 1800-1815", "Russia"}
    assert matches(m, {"year": "1860-1869"}, cache) and not matches(m, {"year": "1970-1979"})
    assert cache.values(m) == facet_values(m)
    facets = compute_facets([m], ("year", "subject"), cache=cache)
    assert list(facets) == ["year", "subject"] and facets["year"].count("1860-1869") == 1


def test_most_frequent_first_then_by_value_up_to_the_limit() -> None:
    authors = ["Dodd, D.", "Bell, B.", "Ames, A.", "Bell, B.", "Cole, C.", "Dodd, D.", "Cole, C.",
               "Ames, A.", "Ames, A.", "Eyre, E."]  # fmt: skip
    editions = []
    for i, a in enumerate(authors):
        editions.append(m := Manifestation(f"m{i}"))
        m.add(Record(title=f"Book {i}", authors=(a,), target_id="lib1", position=i))
    got = compute_facets(editions, ("author",), limit=3)["author"]
    # Bell, Cole and Dodd all have 2: by name, and the limit cuts Dodd off
    assert [(v.value, v.count) for v in got] == [("Ames, A.", 3), ("Bell, B.", 2), ("Cole, C.", 2)]
    everything = compute_facets(editions, ("author",), limit=100)["author"]
    assert [v.count for v in everything] == [3, 2, 2, 2, 1]
    assert compute_facets(editions, ()) == {}
