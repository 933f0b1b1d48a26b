"""Relevance and sorting of the merged clusters.

Relevance is BM25F (Robertson & Zaragoza, *The Probabilistic Relevance Framework*, 2009)
over each cluster's merged display record, with Snowball stemming (Russian for Cyrillic
words, English otherwise; PyStemmer, chosen by ``bench/rank_stemmers.py``), then three
boosts. For a query with terms ``t`` and a cluster ``d``::

    fields f        title (title, subtitle, uniform and parallel titles, series)
                    author (authors, contributors, statement of responsibility)
                    subject (subject headings), other (publisher, place, edition)
    tf_f(t, d)      occurrences of t's stem in field f (a masked term ``comp*`` counts
                    the words it prefixes); a term searched in one index (dc.title=...)
                    counts in that field only
    ntf(t, d)     = sum_f  w_f * tf_f(t, d) / (1 - b_f + b_f * len_f(d) / avglen_f)
    idf(t)        = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))
                    N clusters in the list, n_t of them containing t
    bm25f(d)      = sum_t  idf(t) * ntf(t, d) * (k1 + 1) / (k1 + ntf(t, d))
    score(d)      = bm25f(d)
                    * (1 + B_title  * [the query's title words are the whole title proper])
                    * (1 + B_author * [a query word is the main author's surname])
                    * (1 + G * ln(libraries holding d))

with k1 = 1.2, (w, b) = title (3.0, 0.75), author (2.0, 0.5), subject (1.5, 0.75),
other (0.5, 0.75), B_title = 0.5, B_author = 0.25, G = 0.1: a book held by 4 libraries
gains 14% over a book held by one, never enough to pass a clearly better match. Ties go
by title, year, then library and position, never by arrival order. Idf is over the result
list itself: the list is all the libraries sent.

Sorts: ``relevance``, ``title``, ``author``, ``date-asc``, ``date-desc`` (``date`` is
``date-desc``), ``libraries`` (most holding libraries first, then relevance).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import Stemmer  # type: ignore[import-not-found]  # PyStemmer ships no stubs

from core import Record
from core.clusters import Cluster
from dedup.keys import normalize_text
from dedup.normalize import parse_name, skeleton, title_proper

__all__ = [
    "FIELDS",
    "SORTS",
    "QueryTerm",
    "Ranker",
    "query_terms",
    "rank",
    "sort_clusters",
    "stem",
]

K1 = 1.2
#: field -> (weight w_f, length normalization b_f)
FIELDS: dict[str, tuple[float, float]] = {
    "title": (3.0, 0.75),
    "author": (2.0, 0.5),
    "subject": (1.5, 0.75),
    "other": (0.5, 0.75),
}
TITLE_BOOST = 0.5
AUTHOR_BOOST = 0.25
LIBRARY_BOOST = 0.1

SORTS = ("relevance", "title", "author", "date-asc", "date-desc", "date", "libraries")

#: CQL / Bib-1 style index names -> the field they search; others search every field
_INDEX_FIELDS = {
    "title": "title",
    "author": "author",
    "creator": "author",
    "name": "author",
    "contributor": "author",
    "subject": "subject",
    "publisher": "other",
}
#: indexes whose terms are not words of the record's text (dates, numbers)
_NOT_TEXT = {"date", "year", "isbn", "issn", "identifier", "lccn", "id", "rec.id"}

_CYRILLIC = re.compile("[\u0400-\u04ff]")
_STEMMERS = {"ru": Stemmer.Stemmer("russian"), "en": Stemmer.Stemmer("english")}


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """Snowball stem of a normalized word: Russian for Cyrillic words, English otherwise.

    >>> stem("библиотеками"), stem("libraries")
    ('библиотек', 'librari')
    """
    lang = "ru" if _CYRILLIC.search(word) else "en"
    return str(_STEMMERS[lang].stemWord(word))


@dataclass(frozen=True, slots=True)
class QueryTerm:
    """One word of the query: the field it searches (None: any), its stem, whether masked."""

    word: str
    field: str | None = None
    masked: bool = False

    @property
    def stem(self) -> str:
        """The word's stem (for a masked word, the prefix itself)."""
        return self.word if self.masked else stem(self.word)


def _field_of(index: str) -> str | None:
    name = index.lower().rsplit(".", 1)[-1]
    if name in _NOT_TEXT:
        return "-"
    return _INDEX_FIELDS.get(name)


def _words(text: str, field: str | None) -> Iterator[QueryTerm]:
    for raw in text.split():
        masked = raw.endswith(("*", "?"))
        word = normalize_text(raw)
        for part in word.split():
            yield QueryTerm(part, field, masked and part == word.split()[-1])


def query_terms(node: Any) -> list[QueryTerm]:
    """The words of a CQL tree that ranking uses (``not`` branches and dates left out).

    Plain strings are accepted too (each word searches every field).
    """
    out: list[QueryTerm] = []

    def walk(n: Any) -> None:
        if isinstance(n, str):
            out.extend(_words(n, None))
            return
        inner = getattr(n, "query", None)
        if inner is not None and not isinstance(inner, str):
            walk(inner)
            return
        term = getattr(n, "term", None)
        if isinstance(term, str):
            field = _field_of(str(getattr(n, "index", "")))
            if field != "-":
                out.extend(_words(term, field))
            return
        op = getattr(n, "op", "")
        if getattr(n, "left", None) is not None:
            walk(n.left)
        if getattr(n, "right", None) is not None and op != "not":
            walk(n.right)

    walk(node)
    return out


@dataclass(slots=True)
class _Doc:
    version: int
    stems: dict[str, Counter[str]]
    words: dict[str, tuple[str, ...]]
    lengths: dict[str, int]
    proper: str
    surnames: frozenset[str]


@lru_cache(maxsize=1 << 15)
def _analyse(texts: tuple[str, ...]) -> tuple[tuple[str, ...], Counter[str]]:
    # libraries send the same records for many queries: a field's analysis is memoized
    # (callers only read the Counter)
    words = tuple(w for t in texts if t for w in normalize_text(t).split())
    return words, Counter(stem(w) for w in words)


@lru_cache(maxsize=1 << 14)
def _surnames(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        s for n in names for s in (parse_name(n)[0], normalize_text(n.split(",")[0])) if s
    )


def _doc(cluster: Cluster) -> _Doc:
    r: Record = cluster.display
    texts = {
        "title": (r.title, r.subtitle, r.uniform_title, *r.parallel_titles, *r.series),
        "author": (*r.authors, *(c.name for c in r.contributors), r.responsibility),
        "subject": r.subjects,
        "other": (r.publisher, r.place, r.edition),
    }
    analysed = {f: _analyse(t) for f, t in texts.items()}
    return _Doc(
        version=cluster.version,
        stems={f: a[1] for f, a in analysed.items()},
        words={f: a[0] for f, a in analysed.items()},
        lengths={f: len(a[0]) for f, a in analysed.items()},
        proper=normalize_text(title_proper(r.title)),
        surnames=_surnames((*r.authors[:1], *(c.name for c in r.contributors[:1]))),
    )


class Ranker:
    """Scores clusters for one query; caches each cluster's analysed text by version.

    >>> from core.clusters import Manifestation
    >>> m = Manifestation("m1"); m.add(Record(title="War and peace", target_id="a"))
    >>> Ranker("war").score(m) > 0, Ranker("peaceful").score(m) > 0, Ranker("cat").score(m)
    (True, True, 0.0)
    """

    def __init__(self, query: Any) -> None:
        self.terms = query_terms(query)
        self._docs: dict[str, _Doc] = {}
        title_words = [t.word for t in self.terms if t.field in ("title", None) and not t.masked]
        self._title_phrase = " ".join(title_words)
        self._author_words = frozenset(
            t.word for t in self.terms if t.field in ("author", None) and not t.masked
        )
        self._author_skeletons = frozenset(skeleton(w) for w in self._author_words)
        self._idf: dict[QueryTerm, float] = {}
        self._avg: dict[str, float] = dict.fromkeys(FIELDS, 1.0)

    def doc(self, cluster: Cluster) -> _Doc:
        """The analysed text of a cluster (recomputed when the cluster changed)."""
        d = self._docs.get(cluster.id)
        if d is None or d.version != cluster.version:
            d = self._docs[cluster.id] = _doc(cluster)
        return d

    def _tf(self, term: QueryTerm, d: _Doc, field: str) -> int:
        if term.masked:
            return sum(w.startswith(term.word) for w in d.words[field])
        return d.stems[field].get(term.stem, 0)

    def _ntf(self, term: QueryTerm, d: _Doc) -> float:
        total = 0.0
        for field, (w, b) in FIELDS.items():
            if term.field is not None and term.field != field:
                continue
            tf = self._tf(term, d, field)
            if tf:
                norm = 1.0 - b + b * d.lengths[field] / self._avg[field]
                total += w * tf / norm
        return total

    def prepare(self, clusters: Sequence[Cluster]) -> None:
        """Collection statistics (average field lengths, idf) over ``clusters``."""
        docs = [self.doc(c) for c in clusters]
        n = len(docs) or 1
        self._avg = {f: max(1.0, sum(d.lengths[f] for d in docs) / n) for f in FIELDS}
        self._idf = {}
        for term in dict.fromkeys(self.terms):
            having = sum(1 for d in docs if self._ntf(term, d) > 0)
            self._idf[term] = math.log(1.0 + (n - having + 0.5) / (having + 0.5))

    def score(self, cluster: Cluster) -> float:
        """The relevance of one cluster (``prepare`` first for collection statistics)."""
        d = self.doc(cluster)
        bm25 = 0.0
        for term in self.terms:
            ntf = self._ntf(term, d)
            if ntf:
                idf = self._idf.get(term, math.log(2.0))
                bm25 += idf * ntf * (K1 + 1.0) / (K1 + ntf)
        if not bm25:
            return 0.0
        if self._title_phrase and self._title_phrase == d.proper:
            bm25 *= 1.0 + TITLE_BOOST
        if self._author_words and (
            d.surnames & self._author_words
            or any(skeleton(s) in self._author_skeletons for s in d.surnames)
        ):
            bm25 *= 1.0 + AUTHOR_BOOST
        libraries = len(cluster.libraries)
        return bm25 * (1.0 + LIBRARY_BOOST * math.log(max(1, libraries)))

    def rank(self, clusters: Sequence[Cluster]) -> list[Cluster]:
        """Score every cluster (setting ``.score``) and return them best first."""
        self.prepare(clusters)
        for c in clusters:
            c.score = self.score(c)
        return sorted(clusters, key=_by_relevance)


def _by_relevance(c: Cluster) -> tuple[float, str, int, tuple[str, int]]:
    # ties are broken by the record, not by arrival: the same search shows the same list
    d = c.display
    first = min((r.target_id, r.position) for r in c.records) if c.records else ("", 0)
    return (-c.score, normalize_text(d.title), d.year or 0, first)


def rank(clusters: Sequence[Cluster], query: Any) -> list[Cluster]:
    """Score ``clusters`` for ``query`` (a CQL tree or plain words) and sort best first."""
    return Ranker(query).rank(clusters)


def _sort_title(c: Cluster) -> str:
    return normalize_text(c.display.title)


def _sort_author(c: Cluster) -> tuple[bool, str]:
    authors = c.display.authors
    return (not authors, normalize_text(authors[0]) if authors else "")


def sort_clusters(clusters: Sequence[Cluster], sort: str = "relevance") -> list[Cluster]:
    """``clusters`` in the order ``sort`` names (scores must be set for ``relevance``).

    Clusters without the sort value (no author, no year) go last; ties keep relevance
    order.
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    by_score = sorted(clusters, key=_by_relevance)
    if sort == "relevance":
        return by_score
    if sort == "title":
        return sorted(by_score, key=_sort_title)
    if sort == "author":
        return sorted(by_score, key=_sort_author)
    if sort == "libraries":
        return sorted(by_score, key=lambda c: -len(c.libraries))
    if sort == "date-asc":
        first = {c.id: min((r.year for r in c.records if r.year), default=None) for c in clusters}
        return sorted(by_score, key=lambda c: (first[c.id] is None, first[c.id] or 0))
    # newest first: a work by its latest edition
    last = {c.id: max((r.year for r in c.records if r.year), default=None) for c in clusters}
    return sorted(by_score, key=lambda c: (last[c.id] is None, -(last[c.id] or 0)))
