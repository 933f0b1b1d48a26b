"""Naive relevance: how many query words a hit's fields contain, weighted by field.

    score = sum over query words w of  3·[w in title] + 2·[w in authors] + 1·[w in subjects]
            + 0.5·[w in publisher/place/year/ISBN]
          + 0.25 · (number of libraries holding the hit − 1)

Masked words (``comp*``) match any word they prefix. Ties keep arrival order. A later issue
replaces this with BM25-style field-weighted scoring and stemming.
"""

from __future__ import annotations

from collections.abc import Iterable

from core import Hit, Record
from dedup.keys import normalize_text

__all__ = ["rank", "score"]

_WEIGHTS = (("title", 3.0), ("authors", 2.0), ("subjects", 1.0), ("other", 0.5))


def _field_words(record: Record) -> dict[str, set[str]]:
    other = " ".join([record.publisher, record.place, str(record.year or ""), *record.isbns])
    return {
        "title": set(normalize_text(record.title).split()),
        "authors": set(normalize_text(" ".join(record.authors)).split()),
        "subjects": set(normalize_text(" ".join(record.subjects)).split()),
        "other": set(normalize_text(other).split()),
    }


def _matches(word: str, words: set[str]) -> bool:
    if word.endswith("*"):
        stem = word.rstrip("*")
        return any(w.startswith(stem) for w in words)
    return word in words


def _query_words(terms: Iterable[str]) -> list[str]:
    out: list[str] = []
    for term in terms:
        for raw in term.split():
            masked = raw.endswith("*")
            norm = normalize_text(raw)
            if norm:
                out.append(norm + ("*" if masked else ""))
    return out


def score(hit: Hit, terms: Iterable[str]) -> float:
    """The naive relevance of one hit for the query's search terms."""
    words = _query_words(terms)
    fields = _field_words(hit.best)
    total = sum(weight for w in words for name, weight in _WEIGHTS if _matches(w, fields[name]))
    return total + 0.25 * (len(hit.libraries) - 1)


def rank(hits: list[Hit], terms: Iterable[str]) -> list[Hit]:
    """Score every hit and return them best first (stable for equal scores)."""
    term_list = list(terms)
    for hit in hits:
        hit.score = score(hit, term_list)
    return sorted(hits, key=lambda h: -h.score)
