"""Matching skeletons: text folded so that two catalogers' spellings of one thing coincide.

``skeleton("Толстой")``, ``skeleton("Tolstoĭ")``, ``skeleton("Tolstoj")`` and
``skeleton("Tolstoy")`` are all ``"tolstoi"`` (the table and folds are data:
``dedup/data/translit.yaml``). Skeletons are for comparing only, never for display.

>>> skeleton("Война и мир"), skeleton("Voĭna i mir"), skeleton("[War  and peace] /")
('voina i mir', 'voina i mir', 'war and peace')
>>> parse_name("Толстой, Лев Николаевич, 1828-1910"), parse_name("Tolstoy, Leo")
(('tolstoi', 'l'), ('tolstoi', 'l'))
>>> parse_name("Толстой Л. Н."), parse_name("L. N. Tolstoi")
(('tolstoi', 'l'), ('tolstoi', 'l'))
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

from dedup.rules import Rules, default_rules, translit

__all__ = [
    "clear_caches",
    "drop_supplied",
    "edition_number",
    "pages_from_extent",
    "parse_name",
    "publisher_skeleton",
    "skeleton",
    "title_proper",
    "title_skeleton",
    "uniform_skeleton",
]

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


@cache
def _fold_tables() -> tuple[dict[int, str], list[tuple[re.Pattern[str], str]]]:
    tr = translit()
    # combining marks go in the same pass as the script (ĭ -> i, i͡a -> ia)
    table: dict[int, str] = {cp: "" for cp in range(0x300, 0x370) if unicodedata.combining(chr(cp))}
    table.update({cp: "" for cp in range(0xFE20, 0xFE30)})
    table.update({ord(c): "" for c in tr.drop})
    table.update({ord(k): v for k, v in tr.table.items()})
    table[ord("ё")] = "e"
    folds = [(re.compile(a), b) for a, b in tr.folds]
    return table, folds


@lru_cache(maxsize=1 << 16)
def skeleton(text: str) -> str:
    """Fold case, marks, script and romanization variants; words separated by one space."""
    table, folds = _fold_tables()
    text = text.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).translate(table)
        if not text.isascii():
            text = "".join(c for c in text if not unicodedata.combining(c))
    else:
        text = text.replace("'", "").replace("`", "")
    text = " ".join(_NON_WORD.sub(" ", text).split())
    for pattern, repl in folds:
        text = pattern.sub(repl, text)
    return text


_PROPER_END = re.compile(r"\s[:;=/]\s|\s*;\s|\s[:=/]$")
_BRACKETED = re.compile(r"\[([^\]]*)\]")


@lru_cache(maxsize=1 << 16)
def title_proper(title: str) -> str:
    """The title before its subtitle or parallel title: ``"War and peace : a novel"`` -> ``"War
    and peace"``."""
    match = _PROPER_END.search(title)
    return title[: match.start()].strip() if match else title.strip()


def drop_supplied(text: str) -> str:
    """``text`` without what a cataloger supplied in square brackets (ISBD interpolations).

    >>> drop_supplied("Война и мир : [первая редакция романа]")
    'Война и мир : '
    """
    return _BRACKETED.sub("", text) if "[" in text else text


def _drop_gmd(text: str, rules: Rules) -> str:
    if "[" not in text:
        return text

    def keep(m: re.Match[str]) -> str:
        inner = m.group(1).strip().casefold()
        return " " if any(inner.startswith(g) for g in rules.gmd) else f" {m.group(1)} "

    return _BRACKETED.sub(keep, text)


@lru_cache(maxsize=1 << 16)
def title_skeleton(title: str) -> str:
    """A title's skeleton without material designations (``[electronic resource]``),
    cataloger brackets and a leading article."""
    text = skeleton(_drop_gmd(title, default_rules()))
    head, _, rest = text.partition(" ")
    if rest and head in _article_skeletons():
        return rest
    return text


_UNIFORM_QUALIFIER = re.compile(
    r"\.\s+(english|russian|french|german|spanish|italian|selections|polish|"
    r"английский|русский|французский|немецкий|избранное)\b.*$",
    re.IGNORECASE,
)


def uniform_skeleton(uniform: str) -> str:
    """A uniform title without its language or ``Selections`` part: ``"Voĭna i mir.
    English"`` -> ``"voina i mir"``."""
    return title_skeleton(_UNIFORM_QUALIFIER.sub("", uniform.strip()))


_DATES = re.compile(r"\b(?:\d{3,4}|\d{1,2}th cent)\S*")
_INITIAL = re.compile(r"^\w{1,2}\.$")
_PATRONYMIC = re.compile(r"(вич|вна|ична|[oe]vich|[oe]vna|ichna)$", re.IGNORECASE)


@lru_cache(maxsize=1 << 16)
def parse_name(name: str) -> tuple[str, str]:
    """``(surname skeleton, first given-name initial)`` of a personal name heading.

    Inverted (``"Tolstoy, Leo, 1828-1910"``), initials after the surname (``"Толстой Л.
    Н."``) and natural order (``"Leo Tolstoy"``) are understood; a corporate name is
    returned whole as the "surname".
    """
    text = _DATES.sub(" ", name)
    if "," in text:
        head, _, given = text.partition(",")
        given_words = given.split()
    else:
        words = text.split()
        if not words:
            return "", ""
        initials = [w for w in words if _INITIAL.match(w)]
        if initials and not _INITIAL.match(words[0]):
            head, given_words = words[0], initials
        elif initials:
            rest = [w for w in words if not _INITIAL.match(w)]
            head, given_words = " ".join(rest), initials
        elif len(words) == 3 and _PATRONYMIC.search(words[-1]):
            head, given_words = words[0], words[1:]  # "Толстой Лев Николаевич"
        elif len(words) in (2, 3):
            head, given_words = words[-1], words[:-1]
        else:
            head, given_words = text, []
    surname = skeleton(head)
    initial = ""
    for word in given_words:
        folded = skeleton(word)
        if folded:
            initial = folded[0]
            break
    return surname, initial


@cache
def _noise_skeletons() -> frozenset[str]:
    return frozenset(skeleton(w) for w in default_rules().publisher_noise)


@cache
def _article_skeletons() -> frozenset[str]:
    return frozenset(skeleton(w) for w in default_rules().articles)


@lru_cache(maxsize=1 << 14)
def publisher_skeleton(publisher: str) -> str:
    """A publisher's skeleton without corporate noise words (``Press``, ``Izd-vo``, ``Inc``)."""
    noise = _noise_skeletons()
    words = [w for w in skeleton(publisher).split() if w not in noise]
    return " ".join(words)


_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10,
    "первое": 1, "второе": 2, "третье": 3, "четвертое": 4, "пятое": 5, "шестое": 6,
    "седьмое": 7, "восьмое": 8, "девятое": 9, "десятое": 10,
}  # fmt: skip
_EDITION_NUMBER = re.compile(r"(\d{1,3})")


def edition_number(edition: str) -> int | None:
    """The number of an edition statement: ``"2nd ed."`` -> 2, ``"Изд. 3-е, испр."`` -> 3,
    ``"Second edition"`` -> 2; None when it has none (``"Rev. ed."``)."""
    if not edition:
        return None
    match = _EDITION_NUMBER.search(edition)
    if match:
        return int(match.group(1))
    for word in edition.casefold().replace("ё", "е").split():
        number = _ORDINALS.get(word.strip(".,;:"))
        if number:
            return number
    return None


_PAGES = re.compile(r"(\d{1,5})\s*(?:p\b|pp\b|pages|с\.|c\.|стр|s\.|л\.)", re.IGNORECASE)


def pages_from_extent(extent: str) -> int | None:
    """The page count of an extent statement: ``"xii, 345 p. : ill."`` -> 345,
    ``"480 с."`` -> 480; the largest when there are several volumes' worth."""
    counts = [int(m) for m in _PAGES.findall(extent)]
    return max(counts) if counts else None


def clear_caches() -> None:
    """Forget memoized skeletons (benchmarks measure cold runs with it)."""
    for fn in (skeleton, title_skeleton, title_proper, parse_name, publisher_skeleton):
        fn.cache_clear()
