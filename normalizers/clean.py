"""Text clean-up shared by the normalizers: ISBD punctuation, ISBNs, years, language codes."""

from __future__ import annotations

import re

from stdnum import isbn as stdnum_isbn

__all__ = ["first_year", "isbn13", "language_codes", "trim"]

_MARKS = "/:;=,"
_YEAR = re.compile(r"(?<!\d)(1\d{3}|20\d{2})(?!\d)")
_ISBN_LEAD = re.compile(r"\s*([0-9Xx][0-9Xx\s-]*)")
_LANG = re.compile(r"^[a-z]{3}$")


_ABBREVIATION = re.compile(r"(?:^|[\s.(-])(?:[A-Z][a-z]?|etc)\.$")


def _droppable_period(text: str) -> bool:
    # "Cox, Jerome R.", "U.S.", "Cox, Jr.", "syllabi, etc.": that period is an abbreviation's
    return text.endswith(".") and not text.endswith("..") and not _ABBREVIATION.search(text)


def trim(text: str, *, period: bool = True) -> str:
    """Drop trailing ISBD punctuation (``" /"``, ``" :"``, ``" ;"``, ``" ="``, ``","``).

    With ``period`` also a final ``"."``, unless it ends an ellipsis, an initial or a short
    abbreviation (``"Jr."``, ``"St."``, ``"etc."``).
    Inner whitespace is collapsed.

    >>> trim("The Puget Sound Region : a portfolio of thematic computer maps /")
    'The Puget Sound Region : a portfolio of thematic computer maps'
    >>> trim("Cox, Jerome R."), trim("Oberst, Bruce.")
    ('Cox, Jerome R.', 'Oberst, Bruce')
    """
    s = " ".join(text.split())
    while s and (s[-1] in _MARKS or (period and _droppable_period(s))):
        s = s[:-1].rstrip()
    return s


def first_year(text: str) -> int | None:
    """The first plausible 4-digit year: ``"[c1974]"`` -> 1974, ``"<1973-c1980 >"`` -> 1973."""
    match = _YEAR.search(text)
    return int(match.group(1)) if match else None


def isbn13(value: str) -> str | None:
    """The ISBN at the start of ``value`` as compact ISBN-13, or None if it is not valid.

    >>> isbn13("0879832355 (pbk.) :")
    '9780879832353'
    """
    match = _ISBN_LEAD.match(value)
    if not match:
        return None
    token = stdnum_isbn.compact(match.group(1))
    if not stdnum_isbn.is_valid(token):
        return None
    return str(stdnum_isbn.to_isbn13(token))


def language_codes(value: str) -> list[str]:
    """MARC language codes in a value; old records pack several into one (``"grchebeng"``)."""
    text = value.strip().lower()
    if len(text) % 3:
        return []
    codes = [text[i : i + 3] for i in range(0, len(text), 3)]
    return [c for c in codes if _LANG.match(c)]
