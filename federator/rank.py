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

A session ranks again whenever results arrive, so the work is split by what it depends on:
a display record's analysis (words, stems, field lengths) is memoized by its texts, shared
by every session; what a query finds in it (``tf_f`` per term, the two boosts' conditions)
is kept per ``Ranker`` and document; a cluster's features (those, its libraries and its
tie-break) are kept per cluster and recomputed only when its version changed. Each ``rank``
then only recomputes ``avglen_f``, ``idf`` and the scores: arithmetic on small tuples.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
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


_ALL_FIELDS = tuple(range(len(FIELDS)))
_FIELD_INDEX = {name: (i,) for i, name in enumerate(FIELDS)}
_WEIGHTS = tuple(w for w, _ in FIELDS.values())
_B = tuple(b for _, b in FIELDS.values())
_name = attrgetter("name")
_target = attrgetter("target_id")
_target_position = attrgetter("target_id", "position")


@dataclass(frozen=True, slots=True, eq=False)
class _Doc:
    """The analysed text of one display record; fields in ``FIELDS`` order."""

    words: tuple[tuple[str, ...], ...]
    stems: tuple[Counter[str], ...]
    lengths: tuple[int, ...]
    #: the normalized title proper (the exact-title boost) and title (the tie-break)
    proper: str
    title: str
    #: the main author's surname as written and as skeletons (the main-author boost)
    surnames: frozenset[str]
    skeletons: frozenset[str]


@lru_cache(maxsize=1 << 15)
def _analyse(texts: tuple[str, ...]) -> tuple[tuple[str, ...], Counter[str]]:
    # libraries send the same records for many queries: a field's analysis is memoized
    # (callers only read the Counter)
    words = tuple(w for t in texts if t for w in normalize_text(t).split())
    return words, Counter(map(stem, words))


@lru_cache(maxsize=1 << 14)
def _surnames(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        s for n in names for s in (parse_name(n)[0], normalize_text(n.split(",")[0])) if s
    )


@lru_cache(maxsize=1 << 14)
def _analyse_record(
    title: str,
    subtitle: str,
    uniform_title: str,
    parallel_titles: tuple[str, ...],
    series: tuple[str, ...],
    authors: tuple[str, ...],
    contributors: tuple[str, ...],
    responsibility: str,
    subjects: tuple[str, ...],
    publisher: str,
    place: str,
    edition: str,
) -> _Doc:
    # keyed by the texts, not the Record: a merged display record is a new object in every
    # session and after every change, while its texts repeat
    fields = (
        _analyse((title, subtitle, uniform_title, *parallel_titles, *series)),
        _analyse((*authors, *contributors, responsibility)),
        _analyse(subjects),
        _analyse((publisher, place, edition)),
    )
    surnames = _surnames((*authors[:1], *contributors[:1]))
    return _Doc(
        words=tuple(a[0] for a in fields),
        stems=tuple(a[1] for a in fields),
        lengths=tuple(len(a[0]) for a in fields),
        proper=normalize_text(title_proper(title)),
        title=normalize_text(title),
        surnames=surnames,
        skeletons=frozenset(map(skeleton, surnames)),
    )


def _doc(r: Record) -> _Doc:
    return _analyse_record(
        r.title,
        r.subtitle,
        r.uniform_title,
        r.parallel_titles,
        r.series,
        r.authors,
        tuple(map(_name, r.contributors)) if r.contributors else (),
        r.responsibility,
        r.subjects,
        r.publisher,
        r.place,
        r.edition,
    )


#: per distinct query term: (field index, tf) for each field where tf > 0
_Hits = tuple[tuple[tuple[int, int], ...], ...]


@dataclass(slots=True)
class _Features:
    """What scoring needs of one cluster for one query, whatever the collection."""

    cluster: Cluster
    version: int
    doc: _Doc
    hits: _Hits
    #: some term occurs in the cluster (else its score is 0)
    found: bool
    #: the exact-title and main-author boosts apply
    title: bool
    author: bool
    #: 1 + G * ln(libraries holding the cluster)
    holdings: float
    #: the tie-break after the score (see ``_by_relevance``)
    tie: tuple[str, int, tuple[str, int]]


class Ranker:
    """Scores clusters for one query; caches each cluster's features by version.

    A cluster's features (term frequencies, boosts, tie-break) depend only on the cluster
    and the query, so ``rank`` recomputes them only for clusters that changed since the
    last call; collection statistics (average lengths, idf) and the scores are recomputed
    each time, since every new cluster moves them.

    >>> from core.clusters import Manifestation
    >>> m = Manifestation("m1"); m.add(Record(title="War and peace", target_id="a"))
    >>> Ranker("war").score(m) > 0, Ranker("peaceful").score(m) > 0, Ranker("cat").score(m)
    (True, True, 0.0)
    """

    def __init__(self, query: Any) -> None:
        self.terms = query_terms(query)
        self._distinct = tuple(dict.fromkeys(self.terms))
        #: the query's terms (repeats kept, as they count) as indexes into ``_distinct``
        self._order = tuple(self._distinct.index(t) for t in self.terms)
        self._stems = tuple(t.stem for t in self._distinct)
        #: the fields each distinct term searches, as indexes into ``FIELDS``
        self._in = tuple(
            _ALL_FIELDS if t.field is None else _FIELD_INDEX.get(t.field, ())
            for t in self._distinct
        )
        self._features: dict[str, _Features] = {}
        #: what a document gives this query (docs are shared: equal texts, one ``_Doc``)
        self._matches: dict[_Doc, tuple[_Hits, bool, bool, bool]] = {}
        title_words = [t.word for t in self.terms if t.field in ("title", None) and not t.masked]
        self._title_phrase = " ".join(title_words)
        self._author_words = frozenset(
            t.word for t in self.terms if t.field in ("author", None) and not t.masked
        )
        self._author_skeletons = frozenset(skeleton(w) for w in self._author_words)
        self._idf: tuple[float, ...] = (math.log(2.0),) * len(self._distinct)
        self._avg: tuple[float, ...] = (1.0,) * len(FIELDS)

    def doc(self, cluster: Cluster) -> _Doc:
        """The analysed text of a cluster's display record."""
        return _doc(cluster.display)

    def _match(self, d: _Doc) -> tuple[_Hits, bool, bool, bool]:
        hits: list[tuple[tuple[int, int], ...]] = []
        for term, term_stem, fields in zip(self._distinct, self._stems, self._in, strict=True):
            found = []
            for i in fields:
                if term.masked:
                    tf = sum(w.startswith(term.word) for w in d.words[i])
                else:
                    tf = d.stems[i].get(term_stem, 0)
                if tf:
                    found.append((i, tf))
            hits.append(tuple(found))
        title = bool(self._title_phrase) and self._title_phrase == d.proper
        author = bool(d.surnames & self._author_words or d.skeletons & self._author_skeletons)
        return tuple(hits), any(hits), title, author

    def features(self, cluster: Cluster) -> _Features:
        """The cluster's query features (recomputed when the cluster changed)."""
        f = self._features.get(cluster.id)
        if f is not None and f.cluster is cluster and f.version == cluster.version:
            return f
        return self._compute(cluster)

    def _compute(self, cluster: Cluster) -> _Features:
        r = cluster.display
        d = _doc(r)
        match = self._matches.get(d)
        if match is None:
            match = self._matches[d] = self._match(d)
        records = cluster.records
        if len(records) == 1:
            first, libraries = _target_position(records[0]), 1
        else:
            first = min(map(_target_position, records)) if records else ("", 0)
            libraries = len(set(map(_target, records)))
        f = self._features[cluster.id] = _Features(
            cluster,
            cluster.version,
            d,
            *match,
            1.0 + LIBRARY_BOOST * math.log(max(1, libraries)),
            (d.title, r.year or 0, first),
        )
        return f

    def _prepare(self, feats: Sequence[_Features]) -> None:
        n = len(feats) or 1
        totals = [sum(col) for col in zip(*(f.doc.lengths for f in feats), strict=True)]
        self._avg = tuple(max(1.0, t / n) for t in totals or [0] * len(FIELDS))
        # ntf > 0 exactly when the term occurs in a field it searches (weights, norms > 0)
        self._idf = tuple(
            math.log(1.0 + (n - having + 0.5) / (having + 0.5))
            for having in (sum(1 for f in feats if f.hits[j]) for j in range(len(self._distinct)))
        )

    def prepare(self, clusters: Sequence[Cluster]) -> None:
        """Collection statistics (average field lengths, idf) over ``clusters``."""
        self._prepare([self.features(c) for c in clusters])

    def _score(self, f: _Features) -> float:
        avg = self._avg
        lengths = f.doc.lengths
        ntfs = []
        for hits in f.hits:
            total = 0.0
            for i, tf in hits:
                b = _B[i]
                total += _WEIGHTS[i] * tf / (1.0 - b + b * lengths[i] / avg[i])
            ntfs.append(total)
        bm25 = 0.0
        for j in self._order:
            ntf = ntfs[j]
            if ntf:
                bm25 += self._idf[j] * ntf * (K1 + 1.0) / (K1 + ntf)
        if not bm25:
            return 0.0
        # the same multiplications, in the same order, as the formula: scores stay bit-equal
        if f.title:
            bm25 *= 1.0 + TITLE_BOOST
        if f.author:
            bm25 *= 1.0 + AUTHOR_BOOST
        return bm25 * f.holdings

    def score(self, cluster: Cluster) -> float:
        """The relevance of one cluster (``prepare`` first for collection statistics)."""
        return self._score(self.features(cluster))

    def rank(self, clusters: Sequence[Cluster]) -> list[Cluster]:
        """Score every cluster (setting ``.score``) and return them best first."""
        cached = self._features.get
        feats = []
        for c in clusters:
            f = cached(c.id)
            if f is None or f.cluster is not c or f.version != c.version:
                f = self._compute(c)
            feats.append(f)
        self._prepare(feats)
        keys = []
        for c, f in zip(clusters, feats, strict=True):
            c.score = s = self._score(f) if f.found else 0.0
            keys.append((-s, *f.tie))
        order = sorted(range(len(keys)), key=keys.__getitem__)
        return [clusters[i] for i in order]


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
