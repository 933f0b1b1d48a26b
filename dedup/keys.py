"""Match keys: when do two records describe the same book?

Naive for now (a later issue layers FRBR clustering on top): records share a key when they
share a normalized ISBN-13, or agree on normalized title + first author's surname + year.
A record with neither an ISBN nor a title has no key and never merges.
"""

from __future__ import annotations

import re
import unicodedata

from core import Record

__all__ = ["match_keys", "normalize_text", "surname"]

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_LEADING_ARTICLE = re.compile(r"^(the|a|an|der|die|das|le|la|les|l)\s+")


def normalize_text(text: str) -> str:
    """Fold case, marks, ё/е, punctuation: ``"Crime & Punishment /"`` -> ``"crime punishment"``."""
    text = unicodedata.normalize("NFKD", text.casefold().replace("ё", "е"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", text).split())


def surname(author: str) -> str:
    """The family name of a heading: ``"Tolstoy, Leo, 1828-1910"`` -> ``"tolstoy"``."""
    head = author.split(",", 1)[0] if "," in author else (author.split() or [""])[-1]
    return normalize_text(head)


def match_keys(record: Record) -> list[str]:
    """Every key under which ``record`` may merge with another; empty when it has none."""
    keys = [f"isbn:{isbn}" for isbn in record.isbns]
    title = _LEADING_ARTICLE.sub("", normalize_text(record.title))
    if title:
        author = surname(record.authors[0]) if record.authors else ""
        keys.append(f"tay:{title}|{author}|{record.year or ''}")
    return keys
