"""What a record is matched by: normalized identifiers, skeletons and blocking keys.

``features(record)`` computes everything the comparison needs once per record, so that
adding a record to a growing result list costs a few dictionary look-ups and a handful of
string comparisons, whatever the list's size.

>>> f = features(Record(title="Война и мир / Л. Н. Толстой", authors=("Толстой, Лев",),
...                     year=1957, isbns=("978-5-17-090630-7",)))
>>> f.title, f.author, f.initial, sorted(f.identifiers)
('voina i mir', 'tolstoi', 'l', ['isbn:9785170906307'])
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from stdnum import ean as stdnum_ean
from stdnum import isbn as stdnum_isbn
from stdnum import issn as stdnum_issn

from core import Record
from dedup.normalize import (
    drop_supplied,
    edition_number,
    pages_from_extent,
    parse_name,
    publisher_skeleton,
    title_proper,
    title_skeleton,
    uniform_skeleton,
)
from dedup.rules import Rules, default_rules

__all__ = [
    "Features",
    "block_keys",
    "features",
    "normalize_isbn",
    "normalize_issn",
    "normalize_text",
]

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


_COMBINING = {cp: None for cp in range(0x300, 0x370) if unicodedata.combining(chr(cp))}
_COMBINING.update(dict.fromkeys(range(0xFE20, 0xFE30)))


@lru_cache(maxsize=1 << 16)
def normalize_text(text: str) -> str:
    """Fold case, marks, ё/е, punctuation: ``"Crime & Punishment /"`` -> ``"crime punishment"``.

    Script is kept (no transliteration): this is for showing and searching, not matching.
    """
    text = text.casefold().replace("ё", "е")
    if not text.isascii():
        # й is a letter of its own in Russian, not и with a mark: keep it
        text = unicodedata.normalize("NFKD", text).replace("и\u0306", "й").translate(_COMBINING)
        if not text.isascii():
            text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", text).split())


def normalize_isbn(value: str) -> str | None:
    """Compact ISBN-13 of an ISBN-10 or -13, or None when its check digit is wrong."""
    if len(value) == 13 and value.isdigit() and value[:3] in ("978", "979"):
        # what the normalizers hand over; stdnum's full parse is slow for a hot path
        return value if stdnum_ean.calc_check_digit(value[:12]) == value[12] else None
    token = stdnum_isbn.compact(value.split()[0]) if value.split() else ""
    if not token or not stdnum_isbn.is_valid(token):
        return None
    return str(stdnum_isbn.to_isbn13(token))


def normalize_issn(value: str) -> str | None:
    """Compact ISSN (``12345679``), or None when its check digit is wrong."""
    token = stdnum_issn.compact(value.split()[0]) if value.split() else ""
    return str(token) if token and stdnum_issn.is_valid(token) else None


@dataclass(frozen=True, slots=True)
class Features:
    """A record as matching sees it (every text a skeleton, see ``dedup.normalize``)."""

    title: str
    proper: str
    uniform: str
    author: str
    initial: str
    year: int | None
    pages: int | None
    publisher: str
    format: str
    edition: int | None
    isbns: frozenset[str]
    issns: frozenset[str]
    identifiers: frozenset[str]
    languages: frozenset[str]
    #: titles the work may be known by: the uniform title, then the title proper
    work_titles: tuple[str, ...]
    #: enough to match by similarity alone (``evidence`` in the rules file)
    evidence: bool
    #: ``title`` without the words a cataloger supplied in brackets after the title proper
    #: (``"Война и мир : [первая редакция романа]"``): the title as the book states it
    stated: str


def _identifiers(record: Record, schemes: tuple[str, ...]) -> tuple[set[str], set[str], set[str]]:
    isbns = {i for v in record.isbns if (i := normalize_isbn(v))}
    issns = {i for v in record.issns if (i := normalize_issn(v))}
    ids: set[str] = set()
    if "isbn" in schemes:
        ids.update(f"isbn:{i}" for i in isbns)
    if "issn" in schemes:
        ids.update(f"issn:{i}" for i in issns)
    for scheme, value in record.identifiers:
        scheme = scheme.strip().lower()
        if scheme == "isbn" and "isbn" in schemes and (i := normalize_isbn(value)):
            isbns.add(i)
            ids.add(f"isbn:{i}")
        elif scheme in schemes and scheme not in ("isbn", "issn"):
            compact = "".join(value.split()).lower()
            if compact:
                ids.add(f"{scheme}:{compact}")
    return isbns, issns, ids


#: every empty set of a record's features is this one (features are kept for every record
#: seen: thousands of empty sets would be thousands of objects for the garbage collector)
_NONE: frozenset[str] = frozenset()
_NO_LANGUAGE = frozenset({"und", "mul", "zxx"})


@lru_cache(maxsize=1 << 10)
def _languages(codes: tuple[str, ...]) -> frozenset[str]:
    # a few distinct values in a whole catalog: one set each, shared by every record
    return frozenset(codes) - _NO_LANGUAGE or _NONE


def features(record: Record, rules: Rules | None = None) -> Features:
    """Everything matching needs of ``record``, computed once."""
    rules = rules or default_rules()
    isbns, issns, ids = _identifiers(record, rules.identifiers)
    full = record.title.split(" / ", 1)[0]
    proper = title_proper(full)
    if record.subtitle:
        # normalizers put the subtitle in ``title`` too; when they do not, add it
        at = full.rfind(record.subtitle)
        if at > 0:
            proper = min(proper, full[:at].rstrip(" :;,.=/"), key=len)
        else:
            full = f"{full} : {record.subtitle}"
    author, initial = parse_name(record.authors[0]) if record.authors else ("", "")
    if not author and record.contributors:
        author, initial = parse_name(record.contributors[0].name)
    pages = record.pages if record.pages else pages_from_extent(record.extent)
    title = title_skeleton(full)
    proper_skeleton = title_skeleton(proper)
    rest = full[len(proper) :] if full.startswith(proper) else ""
    stated = title_skeleton(proper + drop_supplied(rest)) if "[" in rest else title
    uniform = uniform_skeleton(record.uniform_title) if record.uniform_title else ""
    publisher = publisher_skeleton(record.publisher) if record.publisher else ""
    route = rules.fuzzy
    have = {"author": bool(author), "publisher": bool(publisher), "year": bool(record.year)}
    evidence = len(title) - title.count(" ") >= route.min_title_chars and (
        not route.need_one_of or any(have.get(n, False) for n in route.need_one_of)
    )
    return Features(
        title=title,
        proper=proper_skeleton,
        uniform=uniform,
        author=author,
        initial=initial,
        year=record.year,
        pages=pages,
        publisher=publisher,
        format=record.format,
        edition=edition_number(record.edition),
        isbns=frozenset(isbns) if isbns else _NONE,
        issns=frozenset(issns) if issns else _NONE,
        identifiers=frozenset(ids) if ids else _NONE,
        languages=_languages(record.languages),
        work_titles=tuple(t for t in dict.fromkeys((uniform, proper_skeleton)) if t),
        evidence=evidence,
        stated=stated,
    )


def _longest_word(text: str) -> str:
    return max(text.split(), key=len, default="")


def block_keys(f: Features, blocks: tuple[str, ...]) -> list[str]:
    """The blocking keys of a record: records are compared only within a shared block.

    ``title_head``   the first 8 letters of the title skeleton (spaces dropped)
    ``author_year``  main author's surname + year
    ``word_year``    the title proper's longest word + year (survives a typo up front)
    """
    keys = []
    for block in blocks:
        if block == "title_head" and f.title:
            keys.append("t:" + f.title.replace(" ", "")[:8])
        elif block == "author_year" and f.author and f.year:
            keys.append(f"a:{f.author}:{f.year}")
        elif block == "word_year" and f.proper and f.year:
            keys.append(f"w:{_longest_word(f.proper)}:{f.year}")
    return keys
