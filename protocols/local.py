"""The on-disk full-text index of a local collection, and CQL as that index understands it.

Pure: no file is opened here. ``connectors/local.py`` reads an index with this schema,
``federator/collection.py`` writes one (from records the normalizers decoded).

    CQL AST --to_whoosh--> whoosh query over these fields

    field      what it holds                                        analysed as
    title      title, subtitle, parallel and uniform titles, series  words, stemmed ru/en
    author     authors and every contributor                        words, stemmed ru/en
    subject    subject headings                                     words, stemmed ru/en
    publisher  publisher and place                                  words, stemmed ru/en
    text       all of the above, ISBNs, year, classifications      words, stemmed ru/en
    isbn       every ISBN as 13 digits, and as 10 when it has one   exact tokens
    year       the publication year                                 number (ranges)
    *_h        title / author / subject headings, whole, folded     one token per heading

Words are lower-cased, ``ё`` read as ``е``, Latin accents dropped; each word is indexed
both as written and as its Snowball stem (Russian for Cyrillic words, English for Latin
ones) at the same position, so that ``войной`` finds ``война``, phrases still match, and
right truncation (``програм*``) works on the unstemmed forms.

The CQL indexes a local collection answers (``INDEXES``): title, author / creator, subject,
isbn, year / date, publisher, and serverChoice / anywhere / keywords; relations ``=``,
``==``, ``<>``, ``any``, ``all``, ``adj``, ranges and ``within`` on years; masking ``*``
and ``?`` anywhere in a word. Everything else is an ``UnsupportedIndex`` (SRU 16) or a
``QueryError`` carrying its SRU diagnostic.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from stdnum import isbn as stdisbn
from whoosh import fields, query  # type: ignore[import-untyped]
from whoosh.analysis import Filter, LowercaseFilter, RegexTokenizer  # type: ignore[import-untyped]
from whoosh.lang import stemmer_for_language  # type: ignore[import-untyped]

from core import QueryError, RawRecord, Record, UnsupportedIndex
from protocols.cql import Boolean, Node, SearchClause, SortedQuery

__all__ = [
    "FORMAT_VERSION",
    "HEADING_FIELDS",
    "INDEXES",
    "document",
    "fold",
    "heading_key",
    "index_field",
    "isbn_forms",
    "schema",
    "to_whoosh",
]

#: Bumped whenever the schema or the analysis changes: older indexes are rebuilt.
FORMAT_VERSION = 1

#: CQL index (lower case) -> field. Context-set prefixes of dc, bath, cql and rec.
INDEXES: dict[str, str] = {
    **dict.fromkeys(
        (
            "cql.serverchoice",
            "serverchoice",
            "cql.anywhere",
            "cql.allindexes",
            "cql.keywords",
            "anywhere",
            "any",
            "keyword",
            "keywords",
            "text",
        ),
        "text",
    ),
    **dict.fromkeys(("dc.title", "bath.title", "title"), "title"),
    **dict.fromkeys(
        (
            "dc.creator",
            "dc.author",
            "dc.contributor",
            "bath.author",
            "bath.name",
            "author",
            "creator",
            "name",
        ),
        "author",
    ),
    **dict.fromkeys(("dc.subject", "bath.subject", "subject"), "subject"),
    **dict.fromkeys(("bath.isbn", "dc.identifier", "isbn", "rec.identifier"), "isbn"),
    **dict.fromkeys(("dc.date", "bath.date", "date", "year"), "year"),
    **dict.fromkeys(("dc.publisher", "bath.publisher", "publisher"), "publisher"),
}

#: Word fields whose whole headings are kept too (for ``==`` and scan).
HEADING_FIELDS = {"title": "title_h", "author": "author_h", "subject": "subject_h"}

_WORD_FIELDS = ("title", "author", "subject", "publisher", "text")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z]")
_SPACE = re.compile(r"\s+")
_ISBD_END = re.compile(r"[\s/:;=,.]+$")


# --- analysis ---------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case, ``ё`` as ``е``, Latin accents dropped (Cyrillic letters kept whole).

    >>> fold("Ёлка Über Café Йошкар-Ола")
    'елка uber cafe йошкар-ола'
    """
    text = text.lower().replace("ё", "е")
    if text.isascii():
        return text
    out: list[str] = []
    for ch in text:
        if ch.isascii() or _CYRILLIC.match(ch):
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch)
        out.append("".join(c for c in base if not unicodedata.combining(c)) or ch)
    return "".join(out)


_STEM_RU = stemmer_for_language("ru")
_STEM_EN = stemmer_for_language("en")


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    if _CYRILLIC.search(word):
        return str(_STEM_RU(word))
    if _LATIN.search(word) and not any(c.isdigit() for c in word):
        return str(_STEM_EN(word))
    return word


class _FoldStem(Filter):  # type: ignore[misc]
    """Index: each word as written and its stem, same position. Query: the stem only."""

    def __call__(self, tokens: Iterable[Any]) -> Iterator[Any]:
        for t in tokens:
            word = fold(t.text)
            stem = _stem(word)
            if t.mode == "query" or stem == word:
                t.text = stem
                yield t
                continue
            t.text = word
            yield t
            t.text = stem
            yield t


class _Fold(Filter):  # type: ignore[misc]
    def __call__(self, tokens: Iterable[Any]) -> Iterator[Any]:
        for t in tokens:
            t.text = fold(t.text)
            yield t


#: Words: letters and digits; everything else separates them.
WORDS = RegexTokenizer(r"\w+") | LowercaseFilter() | _FoldStem()
#: Headings: one token per line, folded, no stemming.
HEADINGS = RegexTokenizer(r"[^\n]+") | _Fold()


def heading_key(text: str) -> str:
    """A heading as ``==`` and scan compare it: folded, spaces collapsed, ISBD end dropped.

    >>> heading_key("Война и мир : роман /")
    'война и мир : роман'
    """
    return _ISBD_END.sub("", _SPACE.sub(" ", fold(text)).strip())


def schema() -> fields.Schema:
    """The fields of a local collection index (see the module docstring)."""
    words = {name: fields.TEXT(analyzer=WORDS, phrase=True) for name in _WORD_FIELDS}
    heads = {name: fields.TEXT(analyzer=HEADINGS, phrase=False) for name in HEADING_FIELDS.values()}
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        isbn=fields.KEYWORD(lowercase=True, scorable=False),
        year=fields.NUMERIC(numtype=int, bits=32, signed=True),
        syntax=fields.STORED(),
        raw=fields.STORED(),
        **words,
        **heads,
    )


# --- documents --------------------------------------------------------------------------


def isbn_forms(text: str) -> list[str]:
    """An ISBN as stored and searched: 13 digits, and 10 when it has a 10-digit form.

    >>> isbn_forms("0-14-044793-8"), isbn_forms("978-0-262-03384-8")
    (['0140447938', '9780140447934'], ['9780262033848', '0262033844'])
    """
    compact = re.sub(r"[^0-9Xx]", "", text).upper()
    out = [compact] if compact else []
    if len(compact) == 10 and stdisbn.is_valid(compact):
        out.append(stdisbn.to_isbn13(compact))
    elif len(compact) == 13 and compact.startswith("978") and stdisbn.is_valid(compact):
        out.append(stdisbn.to_isbn10(compact))
    return out


def document(record: Record, raw: RawRecord, doc_id: str) -> dict[str, Any]:
    """The index document of one decoded record; its raw bytes are stored for retrieval."""
    titles = [
        record.title,
        record.subtitle,
        *record.parallel_titles,
        record.uniform_title,
        *record.series,
    ]
    names = [*record.authors, *(c.name for c in record.contributors)]
    isbns = sorted({form for i in record.isbns for form in isbn_forms(i)})
    imprint = [record.publisher, record.place]
    classes = [value for _, value in record.classifications]
    everything = [
        *titles,
        record.responsibility,
        *names,
        *record.subjects,
        *imprint,
        record.edition,
        *isbns,
        str(record.year or ""),
        *classes,
    ]
    doc: dict[str, Any] = {
        "id": doc_id,
        "title": "\n".join(t for t in titles if t),
        "author": "\n".join(n for n in names if n),
        "subject": "\n".join(record.subjects),
        "publisher": "\n".join(p for p in imprint if p),
        "text": "\n".join(t for t in everything if t),
        "title_h": "\n".join(heading_key(t) for t in titles if t),
        "author_h": "\n".join(heading_key(n) for n in dict.fromkeys(names) if n),
        "subject_h": "\n".join(heading_key(s) for s in record.subjects),
        "syntax": raw.syntax,
        "raw": raw.data,
    }
    if isbns:
        doc["isbn"] = " ".join(isbns).lower()
    if record.year is not None:
        doc["year"] = record.year
    return doc


# --- CQL -> whoosh ----------------------------------------------------------------------

_MASKS = "*?"


def index_field(
    index: str, index_map: Mapping[str, str] | None = None, target_id: str | None = None
) -> str:
    """The field a CQL index searches; ``UnsupportedIndex`` (SRU 16) when there is none.

    ``index_map`` (the target's) may rename an index to one of ``INDEXES``, or map it to
    ``""`` to refuse it.
    """
    low = index.strip().lower()
    mapped = {k.strip().lower(): v for k, v in (index_map or {}).items()}
    if low in mapped:
        if not mapped[low].strip():
            raise UnsupportedIndex(index, target_id)
        low = mapped[low].strip().lower()
    field = INDEXES.get(low)
    if field is None:
        raise UnsupportedIndex(index, target_id)
    return field


def _scan_term(term: str, masked: bool) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(term):
        c = term[i]
        if c == "\\" and i + 1 < len(term):
            out.append((term[i + 1], False))
            i += 2
            continue
        out.append((c, masked and c in "*?^"))
        i += 1
    return out


def _words(chars: list[tuple[str, bool]]) -> list[list[tuple[str, bool]]]:
    """Split a term into words: what the tokenizer would cut on, masks kept in their word."""
    words: list[list[tuple[str, bool]]] = [[]]
    for ch in chars:
        if ch[1] or ch[0].isalnum() or ch[0] == "_":
            words[-1].append(ch)
        elif words[-1]:
            words.append([])
    return [w for w in words if w]


def _word_query(field: str, word: list[tuple[str, bool]], term: str) -> Any:
    if any(c == "^" and special for c, special in word):
        raise QueryError.sru(
            31, f"anchoring (^) is not supported by local collections: {term}", term
        )
    masks = [i for i, (_, special) in enumerate(word) if special]
    plain = "".join(c for c, special in word if not special)
    if not masks:
        return query.Term(field, _stem(fold(plain)))
    if not plain:
        raise QueryError.sru(29, f"a term needs more than masking characters: {term}", term)
    folded = [(fold(c) if not special else c, special) for c, special in word]
    if masks == [len(word) - 1] and word[-1][0] == "*":
        return query.Prefix(field, "".join(c for c, _ in folded[:-1]))
    pattern = "".join(c if special else re.sub(r"([*?\[\]])", r"[\1]", c) for c, special in folded)
    return query.Wildcard(field, pattern)


def _text_query(field: str, node: SearchClause, relation: str, masked: bool) -> Any:
    chars = _scan_term(node.term, masked)
    words = _words(chars)
    if not words:
        raise QueryError.sru(27, "empty search term", node.term)
    parts = [_word_query(field, w, node.term) for w in words]
    if len(parts) == 1:
        return parts[0]
    if relation == "any":
        return query.Or(parts)
    if relation == "all" or any(not isinstance(p, query.Term) for p in parts):
        # whoosh phrases take plain words only: masked words fall back to AND
        return query.And(parts)
    return query.Phrase(field, [p.text for p in parts])


def _heading_query(field: str, node: SearchClause, masked: bool) -> Any:
    chars = _scan_term(node.term, masked)
    if any(c == "^" and special for c, special in chars):
        raise QueryError.sru(
            31, f"anchoring (^) is not supported by local collections: {node.term}"
        )
    text = heading_key("".join(c if not special else "\0" for c, special in chars))
    masks = [c for c, special in chars if special]
    if not text.replace("\0", "").strip():
        raise QueryError.sru(27, "empty search term", node.term)
    if not masks:
        return query.Term(field, text)
    it = iter(masks)
    pattern = "".join(next(it) if c == "\0" else re.sub(r"([*?\[\]])", r"[\1]", c) for c in text)
    return query.Wildcard(field, pattern)


def _year(text: str, term: str) -> int:
    if not re.fullmatch(r"-?\d{1,4}", text):
        raise QueryError.sru(36, f"a year must be a number, got {term!r}", term)
    return int(text)


def _year_query(node: SearchClause, relation: str) -> Any:
    term = node.term.strip()
    if relation == "within":
        bounds = term.replace("-", " ").split()
        if len(bounds) != 2:
            raise QueryError.sru(36, f"'within' takes two years: {term!r}", term)
        lo, hi = (_year(b, term) for b in bounds)
        return query.NumericRange("year", min(lo, hi), max(lo, hi))
    if relation in ("<", "<=", ">", ">="):
        year = _year(term, term)
        if relation.startswith("<"):
            return query.NumericRange("year", None, year, endexcl=relation == "<")
        return query.NumericRange("year", year, None, startexcl=relation == ">")
    if relation in ("any", "all") and len(term.split()) > 1:
        years = [query.NumericRange("year", y, y) for y in (_year(t, term) for t in term.split())]
        return query.Or(years) if relation == "any" else query.And(years)
    digits = term.rstrip("*")
    if term.endswith("*") and digits.isdigit() and 0 < len(digits) < 4:
        scale = 10 ** (4 - len(digits))
        return query.NumericRange("year", int(digits) * scale, (int(digits) + 1) * scale - 1)
    year = _year(term, term)
    return query.NumericRange("year", year, year)


def _isbn_query(node: SearchClause, relation: str) -> Any:
    if relation not in ("=", "==", "any", "all", "adj", "exact", "scr"):
        raise QueryError.sru(19, f"unsupported relation '{node.relation}' for isbn", node.relation)
    terms = node.term.split() if relation in ("any", "all") else [node.term]
    parts: list[Any] = []
    for t in terms:
        prefix = t.endswith("*")
        compact = re.sub(r"[^0-9Xx]", "", t).lower()
        if not compact:
            raise QueryError.sru(36, f"not an ISBN: {node.term!r}", node.term)
        if prefix:
            parts.append(query.Prefix("isbn", compact))
        else:
            parts.append(query.Term("isbn", compact))
    if len(parts) == 1:
        return parts[0]
    return query.Or(parts) if relation == "any" else query.And(parts)


_RELATION_NAMES = {"exact": "==", "scr": "="}
_KNOWN = ("=", "==", "<>", "<", "<=", ">", ">=", "any", "all", "adj", "within")
_MODIFIERS = ("relevant", "stem", "word", "string", "unmasked", "masked", "ignorecase")


_Map = Mapping[str, str] | None


def _clause(node: SearchClause, index_map: _Map, target_id: str | None) -> Any:
    field = index_field(node.index, index_map, target_id)
    relation = node.relation.lower().removeprefix("cql.")
    relation = _RELATION_NAMES.get(relation, relation)
    if relation not in _KNOWN:
        raise QueryError.sru(19, f"unsupported relation '{node.relation}'", node.relation)
    masked = True
    for mod in node.modifiers:
        name = mod.name.lower().removeprefix("cql.")
        if name not in _MODIFIERS or mod.value is not None:
            raise QueryError.sru(20, f"unsupported relation modifier '/{mod.name}'", mod.name)
        masked = masked and name != "unmasked"
    if relation == "<>":
        return query.Not(_clause(SearchClause(node.index, "=", node.term), index_map, target_id))
    if field == "year":
        return _year_query(node, relation)
    if relation in ("<", "<=", ">", ">=", "within"):
        raise QueryError.sru(
            19, f"relation '{node.relation}' only applies to years here", node.relation
        )
    if field == "isbn":
        return _isbn_query(node, relation)
    if relation == "==" and field in HEADING_FIELDS:
        return _heading_query(HEADING_FIELDS[field], node, masked)
    return _text_query(field, node, relation, masked)


def _tree(node: Node, index_map: _Map, target_id: str | None) -> Any:
    if isinstance(node, SortedQuery):
        return _tree(node.query, index_map, target_id)
    if isinstance(node, SearchClause):
        return _clause(node, index_map, target_id)
    assert isinstance(node, Boolean)
    if node.op == "prox":
        raise QueryError.sru(37, "proximity (prox) is not supported by local collections", "prox")
    if node.modifiers:
        raise QueryError.sru(46, f"unsupported boolean modifier '/{node.modifiers[0].name}'")
    left = _tree(node.left, index_map, target_id)
    right = _tree(node.right, index_map, target_id)
    if node.op == "and":
        return query.And([left, right])
    if node.op == "or":
        return query.Or([left, right])
    return query.AndNot(left, right)


def to_whoosh(
    node: Node, index_map: Mapping[str, str] | None = None, *, target_id: str | None = None
) -> query.Query:
    """The CQL tree as a whoosh query over a local collection index.

    Raises ``UnsupportedIndex`` (SRU 16) for an index not in ``INDEXES`` and ``QueryError``
    with its SRU diagnostic for anything else the index cannot answer; a ``sortby`` clause
    is dropped (the federator orders merged results itself).

    >>> from protocols.cql import parse
    >>> to_whoosh(parse('dc.title="войной и миром" and dc.date>=1990'))
    And([Phrase('title', ['войн', 'и', 'мир'], slop=1, boost=1.000000), \
NumericRange('year', 1990, None, False, False, boost=1.0, constantscore=True)])
    """
    return _tree(node, index_map, target_id)
