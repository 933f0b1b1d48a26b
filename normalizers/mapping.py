"""The field-map engine: a MARC record of any flavour -> canonical ``core.Record``.

Which fields feed which canonical value is data, one YAML file per flavour in
``normalizers/data/`` (``marc21.yaml``, ``unimarc.yaml``, ``rusmarc.yaml``; the header of
``marc21.yaml`` documents every key). This module only knows the few ways a value is read:
joined subfields, names, imprint, fixed positions, subject strings, coded schemes.
Holdings have their own table (``holdings.yaml``, ``normalizers.holdings``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Final, TypeVar

import yaml
from stdnum import issn as stdnum_issn

from core import Contributor, RawRecord, Record, RecordError
from core.fastinit import constructor
from normalizers.clean import (
    TRAILING,
    first_year,
    isbn13,
    language_codes,
    lccn,
    pages_of,
    trim,
    trim_end,
)
from normalizers.holdings import holdings_of
from normalizers.marc import DataField, MarcRecord

__all__ = [
    "FieldMap",
    "Rule",
    "embedded_fields",
    "field_map",
    "relator_terms",
    "relators",
    "to_record",
]

# Non-sort markers (MARC-8 0x88/0x89 -> U+0098/U+009C; UNIMARC NSB/NSE U+0088/U+0089) are
# for filing, never for display.
_NON_SORT = re.compile("[\u0088\u0089\u0098\u009c]")
_T = TypeVar("_T")
#: ``Record(...)`` and ``Contributor(...)`` at a fraction of the cost (``core.fastinit``)
_new_record: Final = constructor(Record)
_new_contributor: Final = constructor(Contributor)


@dataclass(frozen=True, slots=True)
class Rule:
    """One entry of a field map; see the header of ``data/marc21.yaml`` for each key."""

    tags: tuple[str, ...] = ()
    subfields: str = ""
    punctuation: Mapping[str, str] = field(default_factory=dict)
    trim: str = "full"
    fixed: tuple[str, int, int] | None = None
    place: str = ""
    publisher: str = ""
    date: str = ""
    heading: str | Mapping[str, str] = ""
    subdivisions: str = ""
    separator: str = " -- "
    each: bool = False
    scheme: str = ""
    scheme_from: str = ""
    schemes: Mapping[str, str] = field(default_factory=dict)
    name: Mapping[str, str] = field(default_factory=dict)
    dates: str = ""
    role_term: str = ""
    role_code: str = ""
    default_role: str = ""
    kind: str = "person"
    meeting_ind1: str = ""
    ind1: str = ""
    when: tuple[tuple[str, str, str], ...] = ()
    #: the one plain tag the rule reads ("245"), or "" when it needs ``_Index.fields``
    exact: str = ""


def _rule(entry: Mapping[str, Any], where: str) -> Rule:
    known = {f.name for f in dataclasses.fields(Rule)} - {"exact"}
    unknown = set(entry) - known
    if unknown:
        raise RecordError(f"field map {where}: unknown key(s) {sorted(unknown)}")
    fixed = entry.get("fixed")
    heading = entry.get("heading", "")
    when = tuple(
        (str(w.get("field", "06")), str(w.get("value", "")), str(w.get("format", "")))
        for w in entry.get("when", ())
    )
    return Rule(
        tags=tuple(str(t) for t in entry.get("tags", ())),
        subfields=str(entry.get("subfields", "")),
        punctuation={str(k): str(v) for k, v in (entry.get("punctuation") or {}).items()},
        trim=str(entry.get("trim", "full")),
        fixed=(str(fixed[0]), int(fixed[1]), int(fixed[2])) if fixed else None,
        place=str(entry.get("place", "")),
        publisher=str(entry.get("publisher", "")),
        date=str(entry.get("date", "")),
        heading={str(k): str(v) for k, v in heading.items()}
        if isinstance(heading, dict)
        else str(heading),
        subdivisions=str(entry.get("subdivisions", "")),
        separator=str(entry.get("separator", " -- ")),
        each=bool(entry.get("each", False)),
        scheme=str(entry.get("scheme", "")),
        scheme_from=str(entry.get("scheme_from", "")),
        schemes={str(k): str(v) for k, v in (entry.get("schemes") or {}).items()},
        name={str(k): str(v) for k, v in (entry.get("name") or {}).items()},
        dates=str(entry.get("dates", "")),
        role_term=str(entry.get("role_term", "")),
        role_code=str(entry.get("role_code", "")),
        default_role=str(entry.get("default_role", "")),
        kind=str(entry.get("kind", "person")),
        meeting_ind1=str(entry.get("meeting_ind1", "")),
        ind1=str(entry.get("ind1", "")),
        when=when,
        exact=_exact(entry),
    )


def _exact(entry: Mapping[str, Any]) -> str:
    tags = [str(t) for t in entry.get("tags", ())]
    plain = len(tags) == 1 and len(tags[0]) == 3 and "X" not in tags[0]
    return tags[0] if plain and not entry.get("ind1") else ""


#: a canonical value and its rules (several rules for list values such as subjects)
FieldMap = dict[str, tuple[Rule, ...]]


def _data(name: str) -> str:
    return resources.files("normalizers").joinpath("data", name).read_text("utf-8")


#: the canonical values a field map may fill (a map may leave any of them out)
VALUES = (
    "title",
    "subtitle",
    "parallel_titles",
    "uniform_title",
    "responsibility",
    "names",
    "edition",
    "imprint",
    "year",
    "extent",
    "series",
    "isbns",
    "issns",
    "identifiers",
    "languages",
    "subjects",
    "classifications",
    "format",
    "links",
    "set",
)


@cache
def field_map(flavour: str) -> FieldMap:
    """The field map of ``flavour``, loaded once; ``extends:`` pulls in a base map."""
    data: dict[str, Any] = yaml.safe_load(_data(f"{flavour}.yaml"))
    base = data.pop("extends", None)
    result: FieldMap = {name: () for name in VALUES}
    if base:
        result.update(field_map(str(base)))
    for name, entry in data.items():
        if name not in result:
            raise RecordError(f"field map {flavour}: unknown value {name!r}")
        entries = entry if isinstance(entry, list) else [entry]
        result[name] = tuple(_rule(e, f"{flavour}.{name}") for e in entries)
    return result


@cache
def relators() -> dict[str, dict[str, str]]:
    """Relator terms with their codes: ``{"author": {"marc21": "aut", "unimarc": "070"}}``."""
    table: dict[str, dict[str, Any]] = yaml.safe_load(_data("relators.yaml"))
    return {
        term: {k: str(v) for k, v in entry.items() if k != "also"} for term, entry in table.items()
    }


@cache
def relator_terms() -> dict[str, str]:
    """Relator codes and abbreviations (``aut``, ``070``, ``ed.``) -> terms (``author``)."""
    table: dict[str, dict[str, Any]] = yaml.safe_load(_data("relators.yaml"))
    out: dict[str, str] = {}
    for term, entry in table.items():
        codes = [entry.get("marc21"), entry.get("unimarc"), *entry.get("also", ())]
        for code in codes:
            if code:
                out[str(code).lower()] = term
    return out


# -- compiling a field map --------------------------------------------------------------------
#
# Each canonical value's rules are compiled once per flavour (``_plan``) into a closure over
# the record's data fields by tag; per record the closures only walk the fields they read.
# The rules stay the data in ``data/*.yaml``: the closures are a cache of how to read them.

#: a record's data fields by tag, each list in record order
_ByTag = dict[str, list[DataField]]
_Select = Callable[[_ByTag, MarcRecord], Sequence[DataField]]
_Get = Callable[[_ByTag, MarcRecord], _T]
_NONE: Final[tuple[DataField, ...]] = ()
#: memo tables of values that repeat from record to record start over at this many entries
_MEMO_MAX: Final = 4096
#: the ISBD marks a skipped MARC21 subfield hands on to the text before it
_HANDED_ON: Final = frozenset(":;=")


def _remember(memo: dict[str, _T], key: str, value: _T) -> _T:
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = value
    return value


def _by_tag(fields: Iterable[DataField]) -> _ByTag:
    by_tag: _ByTag = {}
    for f in fields:
        tag = f.tag
        if tag in by_tag:
            by_tag[tag].append(f)
        else:
            by_tag[tag] = [f]
    return by_tag


def _no_fields(by_tag: _ByTag, marc: MarcRecord) -> Sequence[DataField]:
    return _NONE


def _selector(rule: Rule) -> tuple[str, _Select]:
    """How a rule finds its fields: ``(tag, _)`` for one plain tag, else ``("", select)``.

    The fields come in the order of the tags; a field that two patterns name ("264_1" and
    "264") may come twice, which changes no value: every value keeps the first of equal ones.
    """
    if rule.exact:
        return rule.exact, _no_fields
    specs = tuple(
        (tag.rstrip("X"), True, ind2) if "X" in tag else (tag, False, ind2)
        for tag, _, ind2 in (p.partition("_") for p in dict.fromkeys(rule.tags))
    )
    ind1 = rule.ind1
    if not specs:
        return "", _no_fields
    if not ind1 and not any(scan or ind2 for _, scan, ind2 in specs):
        tags = tuple(tag for tag, _, _ in specs)

        def plain(by_tag: _ByTag, marc: MarcRecord) -> Sequence[DataField]:
            out: list[DataField] = []
            for tag in tags:
                found = by_tag.get(tag)
                if found:
                    out += found
            return out

        return "", plain
    (prefix, scan, ind2), *more = specs
    if scan and not (ind2 or ind1 or more):
        # "6XX": the tags that start with "6", in record order

        def block(by_tag: _ByTag, marc: MarcRecord) -> Sequence[DataField]:
            return [f for f in marc.fields if f.tag.startswith(prefix)]

        return "", block

    def select(by_tag: _ByTag, marc: MarcRecord) -> Sequence[DataField]:
        out: list[DataField] = []
        for tag, scan, ind2 in specs:
            found = [f for f in marc.fields if f.tag.startswith(tag)] if scan else by_tag.get(tag)
            if found:
                out += [f for f in found if f.ind2 == ind2] if ind2 else found
        return [f for f in out if f.ind1 in ind1] if ind1 else out

    return "", select


def _collapse(text: str) -> str:
    """``" ".join(text.split())``, without the split when there is nothing to collapse."""
    # Every whitespace character but " " is unprintable (so are the non-sort markers).
    if "  " not in text and text.isprintable() and text.strip(" ") == text:
        return text
    return " ".join(text.split())


def _clean(text: str, period: bool) -> str:
    """A subfield value for display: no non-sort markers, whitespace collapsed, trimmed."""
    memo = _CLEANED[period]
    done = memo.get(text)
    if done is not None:
        return done
    if not text.isascii() and (
        "\u0088" in text or "\u0098" in text or "\u0089" in text or "\u009c" in text
    ):
        done = " ".join(_NON_SORT.sub("", text).split()).rstrip(TRAILING)
    else:
        done = _collapse(text).rstrip(TRAILING)
    if period and done[-1:] == ".":
        done = trim_end(done)
    return _remember(memo, text, done)


#: ``_clean``'s answers without and with ``period``: places, publishers, subject terms and
#: names recur from record to record (4 in 10 values in the LoC file)
_CLEANED: Final[tuple[dict[str, str], dict[str, str]]] = ({}, {})


def _clean_joined(text: str, period: bool) -> str:
    """``_clean`` of what a safe ``_joiner`` made: whitespace already collapsed."""
    if not text.isascii() and (
        "\u0088" in text or "\u0098" in text or "\u0089" in text or "\u009c" in text
    ):
        return trim(_NON_SORT.sub("", text), period=period)
    text = text.rstrip(TRAILING)
    return trim_end(text) if period and text[-1:] == "." else text


def _collapsed(mark: str) -> bool:
    framed = f"x{mark}x"
    return " ".join(framed.split()) == framed


def _joiner(rule: Rule) -> tuple[Callable[[DataField], str], bool]:
    """Join the wanted subfields; and whether the result always has collapsed whitespace.

    With ``punctuation`` (UNIMARC, whose data carries no ISBD marks) the mark given for a
    code goes before it. Without (MARC21, whose data carries them) a skipped subfield in
    between hands on its mark: ``245 $a Règne Amour $h [sound recording] : $b love songs``
    -> "Règne Amour : love songs".
    """
    codes = rule.subfields
    if rule.punctuation:
        marks = dict(rule.punctuation)
        safe = all(_collapsed(m) and _collapsed(m[1:]) for m in marks.values())

        def punctuated(f: DataField) -> str:
            out = ""
            for code, value in f.subfields:
                if code not in codes:
                    continue
                text = _collapse(value)
                if not text:
                    continue
                if not out:
                    out = text
                    continue
                mark = marks.get(code, " ")
                if mark.strip():
                    out = trim(out, period=False)
                if mark.startswith(".") and out.endswith("."):
                    mark = mark[1:]  # ISBD: no second full stop after an abbreviation ("т.")
                out += mark + text
            # a leading mark (the text before it was all marks) is no part of the value
            return out.lstrip(" ") if out[:1] == " " else out

        return punctuated, safe

    def joined(f: DataField) -> str:
        subfields = f.subfields
        if len(subfields) == 1:
            code, value = subfields[0]
            return _collapse(value) if code in codes else ""
        parts: list[str] = []
        for code, value in subfields:
            if code in codes:
                text = _collapse(value)
                if text:
                    parts.append(text)
            elif parts:
                mark = value.rstrip()[-1:]
                if mark in _HANDED_ON and not parts[-1].endswith(mark):
                    parts[-1] += " " + mark
        return " ".join(parts) if len(parts) != 1 else parts[0]

    return joined, True


def _first_of(rules: Iterable[Rule]) -> _Get[str]:
    """The first field's joined subfields that are not empty once cleaned."""
    specs = []
    for rule in rules:
        tag, select = _selector(rule)
        join, collapsed = _joiner(rule)
        specs.append(
            (tag, select, join, _clean_joined if collapsed else _clean, rule.trim == "full")
        )
    if len(specs) == 1 and specs[0][0]:  # one rule, one tag: most values
        tag, _, join, clean, period = specs[0]

        def first_of_one(by_tag: _ByTag, marc: MarcRecord) -> str:
            found = by_tag.get(tag)
            if found:
                for f in found:
                    text = join(f)
                    if text:
                        text = clean(text, period)
                        if text:
                            return text
            return ""

        return first_of_one

    def first(by_tag: _ByTag, marc: MarcRecord) -> str:
        for tag, select, join, clean, period in specs:
            for f in by_tag.get(tag, _NONE) if tag else select(by_tag, marc):
                text = join(f)
                if text:
                    text = clean(text, period)
                    if text:
                        return text
        return ""

    return first


def _add_each(out: dict[str, None], f: DataField, codes: str, period: bool) -> None:
    """Each value of ``codes`` in ``f``, cleaned, into ``out`` (a rule with ``each``)."""
    for code, value in f.subfields:
        if code in codes:
            text = _clean(value, period)
            if text:
                out[text] = None


def _each_of(rules: Iterable[Rule]) -> _Get[tuple[str, ...]]:
    """Each field's joined subfields (with ``each``: each subfield), cleaned, each once."""
    specs = []
    for rule in rules:
        tag, select = _selector(rule)
        join, collapsed = _joiner(rule)
        clean = _clean_joined if collapsed else _clean
        codes = rule.subfields if rule.each else None
        specs.append((tag, select, (codes, join, clean, rule.trim == "full")))

    def each(by_tag: _ByTag, marc: MarcRecord) -> tuple[str, ...]:
        out: dict[str, None] = {}
        for tag, select, spec in specs:
            fields = by_tag.get(tag) if tag else select(by_tag, marc)
            if not fields:
                continue
            codes, join, clean, period = spec
            for f in fields:
                if codes is not None:
                    _add_each(out, f, codes, period)
                    continue
                text = join(f)
                if text:
                    text = clean(text, period)
                    if text:
                        out[text] = None
        return tuple(out)

    return each


def _fixed_of(rule: Rule) -> _Get[str] | None:
    if rule.fixed is None:
        return None
    tag, start, end = rule.fixed
    if len(tag) == 4:  # "100a": a subfield of a data field (UNIMARC coded data)
        data_tag, code = tag[:3], tag[3]

        def coded(by_tag: _ByTag, marc: MarcRecord) -> str:
            found = by_tag.get(data_tag)
            value = found[0].first(code) if found else ""
            return value[start:end] if len(value) >= end else ""

        return coded

    def control(by_tag: _ByTag, marc: MarcRecord) -> str:
        for control_tag, value in marc.control:
            if control_tag == tag:
                return value[start:end] if len(value) >= end else ""
        return ""

    return control


def _imprint_of(rules: Iterable[Rule]) -> _Get[tuple[str, str, int | None]]:
    """Place, publisher, year: each the first found in the fields of the first rule with any."""
    specs = []
    for rule in rules:
        tag, select = _selector(rule)
        specs.append((tag, select, (rule.place, rule.publisher, rule.date, rule.trim == "full")))

    def imprint(by_tag: _ByTag, marc: MarcRecord) -> tuple[str, str, int | None]:
        for tag, select, spec in specs:
            fields = by_tag.get(tag) if tag else select(by_tag, marc)
            if not fields:
                continue
            place_code, publisher_code, date_code, period = spec
            place = publisher = ""
            year: int | None = None
            for f in fields:
                for code, value in f.subfields:
                    if not place and code in place_code:
                        place = _clean(value, period)
                    if not publisher and code in publisher_code:
                        publisher = _clean(value, period)
                    if year is None and code in date_code:
                        year = _year(value)
            if place or publisher or year is not None:
                return place, publisher, year
        return "", "", None

    return imprint


_YEARS: Final[dict[str, int | None]] = {}


def _year(value: str) -> int | None:
    """``first_year``, remembered: imprint dates ("1899.", "c1974.") recur."""
    if value in _YEARS:
        return _YEARS[value]
    return _remember(_YEARS, value, first_year(value))


def _year_of(rules: Iterable[Rule]) -> _Get[int | None]:
    getters = [g for g in map(_fixed_of, rules) if g is not None]

    def year(by_tag: _ByTag, marc: MarcRecord) -> int | None:
        for fixed in getters:
            found = first_year(fixed(by_tag, marc))
            if found is not None:
                return found
        return None

    return year


def _numbers_of(
    rules: Iterable[Rule], number_of: Callable[[str], str | None]
) -> _Get[tuple[str, ...]]:
    """The valid numbers (ISBNs, ISSNs) among the rules' subfields, each once, in the form
    ``number_of`` gives them (None: not a valid number)."""
    specs = [(*_selector(rule), rule.subfields) for rule in rules]

    def numbers(by_tag: _ByTag, marc: MarcRecord) -> tuple[str, ...]:
        out: dict[str, None] = {}
        for tag, select, codes in specs:
            for f in by_tag.get(tag, _NONE) if tag else select(by_tag, marc):
                for code, value in f.subfields:
                    if code in codes:
                        number = number_of(value)
                        if number:
                            out[number] = None
        return tuple(out)

    return numbers


def _issn(value: str) -> str | None:
    """The ISSN at the start of ``value``, hyphenated, or None if it is not valid."""
    token = stdnum_issn.compact(value.strip().split(" ")[0]) if value.strip() else ""
    return str(stdnum_issn.format(token)) if token and stdnum_issn.is_valid(token) else None


_LANGUAGES: Final[dict[str, tuple[str, ...]]] = {}


def _language_codes(value: str) -> tuple[str, ...]:
    codes = _LANGUAGES.get(value)
    if codes is None:
        codes = _remember(_LANGUAGES, value, tuple(language_codes(value)))
    return codes


def _languages_of(rules: Iterable[Rule]) -> _Get[tuple[str, ...]]:
    specs = [(_fixed_of(rule), *_selector(rule), rule.subfields) for rule in rules]

    def languages(by_tag: _ByTag, marc: MarcRecord) -> tuple[str, ...]:
        out: dict[str, None] = {}
        for fixed, tag, select, codes in specs:
            if fixed is not None:
                for code in _language_codes(fixed(by_tag, marc)):
                    out[code] = None
            for f in by_tag.get(tag, _NONE) if tag else select(by_tag, marc):
                for c, value in f.subfields:
                    if c in codes:
                        for code in _language_codes(value):
                            out[code] = None
        return tuple(out)

    return languages


def _composer(parts: Mapping[str, str], period: bool) -> Callable[[DataField], str]:
    """A heading from several subfields, each after its mark: ``{a: "", b: ", "}``."""
    # per code: the mark, whether it is more than a space, whether it opens a parenthesis
    marks = {
        code: (mark or " ", bool(mark.strip()), mark.endswith("(")) for code, mark in parts.items()
    }
    if len(marks) == 1:
        ((only, (only_mark, _, _)),) = marks.items()
        if only_mark == " ":  # {a: ""}: the values of one code, space-separated

            def single(f: DataField) -> str:
                out = ""
                for code, value in f.subfields:
                    if code == only:
                        text = _clean(value, period)
                        if text:
                            out = out + " " + text if out else text
                return out

            return single

    def compose(f: DataField) -> str:
        out = ""
        for code, value in f.subfields:
            spec = marks.get(code)
            if spec is None:
                continue
            text = _clean(value, period)
            if not text:
                continue
            if out:
                mark, visible, paren = spec
                if visible:
                    text = text.lstrip(",.; ")
                    out = trim(out, period=False)
                if paren and not text.endswith(")"):
                    text += ")"
                out += mark + text
            else:
                out = text
        return out

    return compose


def _subjects_of(rules: Iterable[Rule]) -> _Get[tuple[str, ...]]:
    specs = []
    for rule in rules:
        tag, select = _selector(rule)
        period = rule.trim == "full"
        heading = rule.heading
        compose = None if isinstance(heading, str) else _composer(heading, period)
        each = rule.subfields if rule.each else None
        first = heading if isinstance(heading, str) else ""
        spec = (each, compose, first, rule.subdivisions, rule.separator, period)
        specs.append((tag, select, spec))

    def subjects(by_tag: _ByTag, marc: MarcRecord) -> tuple[str, ...]:
        out: dict[str, None] = {}
        for tag, select, spec in specs:
            fields = by_tag.get(tag) if tag else select(by_tag, marc)
            if not fields:
                continue
            each, compose, first, subdivisions, separator, period = spec
            for f in fields:
                if each is not None:
                    _add_each(out, f, each, period)
                    continue
                heading = compose(f) if compose is not None else ""
                parts: list[str] = []
                for code, value in f.subfields:
                    if compose is None and not heading and code in first:
                        heading = _clean(value, period)
                    if code in subdivisions:
                        text = _clean(value, period)
                        if text:
                            parts.append(text)
                if heading:
                    out[separator.join([heading, *parts]) if parts else heading] = None
        return tuple(out)

    return subjects


def _scheme_of(rule: Rule) -> Callable[[DataField], str] | None:
    """How a field names its own scheme, when the rule does not say it once for all."""
    if not rule.scheme_from:
        return None
    code, default = rule.scheme_from, rule.scheme
    prefixes = tuple((prefix.lower(), scheme) for prefix, scheme in rule.schemes.items())

    def scheme(f: DataField) -> str:
        given = f.first(code).strip().lower()
        if not given:
            return default
        for prefix, name in prefixes:
            if given.startswith(prefix):
                return name
        return given

    return scheme


def _coded_of(rules: Iterable[Rule]) -> _Get[tuple[tuple[str, str], ...]]:
    """(scheme, value) pairs: identifiers and classifications."""
    specs = []
    for rule in rules:
        tag, select = _selector(rule)
        join, collapsed = _joiner(rule)
        each = rule.subfields if rule.each else None
        specs.append((tag, select, (rule.scheme, _scheme_of(rule), each, join, collapsed)))

    def coded(by_tag: _ByTag, marc: MarcRecord) -> tuple[tuple[str, str], ...]:
        out: dict[tuple[str, str], None] = {}
        for tag, select, spec in specs:
            fields = by_tag.get(tag) if tag else select(by_tag, marc)
            if not fields:
                continue
            scheme, scheme_of, each, join, collapsed = spec
            for f in fields:
                if scheme_of is not None:
                    scheme = scheme_of(f)
                if not scheme:
                    continue
                if each is not None:
                    for code, value in f.subfields:
                        if code in each:
                            text = lccn(value) if scheme == "lccn" else trim(value, period=False)
                            if text:
                                out[scheme, text] = None
                    continue
                value = join(f)
                if not value:
                    continue
                if scheme == "lccn":
                    text = lccn(value)
                elif collapsed:
                    text = value.rstrip(TRAILING)
                else:
                    text = trim(value, period=False)
                if text:
                    out[scheme, text] = None
        return tuple(out)

    return coded


_TERMS: Final[dict[str, str]] = {}
_CODES: Final[dict[str, str]] = {}


def _role(value: str, term: bool) -> str:
    """The relator term a ``$e``-like term (``term``) or a ``$4``-like code stands for."""
    memo = _TERMS if term else _CODES
    role = memo.get(value)
    if role is None:
        given = trim(value).lower() if term else value.strip().lower()
        role = _remember(memo, value, relator_terms().get(given, given))
    return role


def _names_of(rules: Iterable[Rule]) -> _Get[tuple[tuple[str, ...], tuple[Contributor, ...]]]:
    specs = []
    for rule in rules:
        if not rule.name:
            continue  # a rule without a heading names no one
        tag, select = _selector(rule)
        compose = _composer(rule.name, rule.trim == "full")
        # role term, role code, dates: subfield codes whose first value is taken
        wanted = (rule.role_term, rule.role_code, rule.dates)
        spec = (compose, *wanted, any(wanted), rule.kind, rule.meeting_ind1, rule.default_role)
        specs.append((tag, select, spec))

    def names(by_tag: _ByTag, marc: MarcRecord) -> tuple[tuple[str, ...], tuple[Contributor, ...]]:
        headings: dict[str, None] = {}
        people: dict[tuple[str, str, str, str], Contributor] = {}
        named: set[tuple[str, str]] = set()
        for tag, select, spec in specs:
            fields = by_tag.get(tag) if tag else select(by_tag, marc)
            if not fields:
                continue
            compose, term_code, role_code, dates_code, wanted, kind, meeting, default = spec
            for f in fields:
                name = compose(f)
                if not name:
                    continue
                headings[name] = None
                term = code = dates = ""
                if wanted:
                    for c, value in f.subfields:
                        if value:
                            if term_code and not term and c in term_code:
                                term = value
                            if role_code and not code and c in role_code:
                                code = value
                            if dates_code and not dates and c in dates_code:
                                dates = value
                role = _role(term, True) if term else ""
                if not role and code:
                    role = _role(code, False)
                if dates:  # ``trim``: ``_clean`` but for the non-sort markers, never in ASCII
                    dates = _clean(dates, True) if dates.isascii() else trim(dates)
                role = role or default
                if not role and (name, dates) in named:
                    continue  # a name/title entry for someone already named
                who = kind if not (meeting and f.ind1 in meeting) else "meeting"
                key = (name, role, dates, who)
                if key not in people:
                    people[key] = _new_contributor(name, role, dates, who)
                    named.add((name, dates))
        return tuple(headings), tuple(people.values())

    return names


def embedded_fields(f: DataField) -> list[DataField]:
    """The fields a UNIMARC linking field (4XX) embeds: ``$1`` + tag + indicators starts each.

    >>> link = DataField("461", " ", "0", (("1", "2001 "), ("a", "Задачи и этюды")))
    >>> embedded_fields(link)
    [DataField(tag='200', ind1='1', ind2=' ', subfields=(('a', 'Задачи и этюды'),))]
    """
    out: list[DataField] = []
    tag = ""
    indicators = "  "
    subs: list[tuple[str, str]] = []
    for code, value in f.subfields:
        if code == "1":
            if tag:
                out.append(DataField(tag, indicators[0], indicators[1], tuple(subs)))
            tag, indicators, subs = value[:3], value[3:5].ljust(2), []
            if not tag.isdigit() or tag < "010":
                tag = ""  # an embedded control field: nothing to map
        elif tag:
            subs.append((code, value))
    if tag:
        out.append(DataField(tag, indicators[0], indicators[1], tuple(subs)))
    return out


def _set_of(
    rules: Iterable[Rule],
) -> Callable[[_ByTag, MarcRecord], tuple[_ByTag, MarcRecord, str] | None]:
    """The set a volume belongs to (its embedded fields) and the volume designation.

    An analytic record (leader/07 ``a``: an article) keeps its own title: its links name
    the journal it appeared in, not a set it is a part of.
    """
    specs = [(*_selector(rule), rule.subfields) for rule in rules]

    def whole(by_tag: _ByTag, marc: MarcRecord) -> tuple[_ByTag, MarcRecord, str] | None:
        if marc.leader[7:8] == "a":
            return None
        for tag, select, codes in specs:
            for f in by_tag.get(tag, _NONE) if tag else select(by_tag, marc):
                inner = embedded_fields(f)
                if any(g.tag == "200" for g in inner):
                    whole = MarcRecord("", (), tuple(inner), marc.charset, marc.flavour)
                    return _by_tag(inner), whole, trim(f.first(codes), period=False)
        return None

    return whole


_Volume = Callable[[_ByTag, MarcRecord, str], tuple[_ByTag, MarcRecord, str] | None]


def _volume_of(rules: FieldMap) -> _Volume | None:
    """For a volume of a set: the set's fields, and the title "set. volume, own title"."""
    if not rules["set"]:
        return None
    whole_of = _set_of(rules["set"])
    set_title_of = _first_of(dataclasses.replace(r, subfields="a") for r in rules["title"])

    def volume_title(
        by_tag: _ByTag, marc: MarcRecord, title: str
    ) -> tuple[_ByTag, MarcRecord, str] | None:
        whole = whole_of(by_tag, marc)
        if whole is None:
            return None
        set_by_tag, set_marc, volume = whole
        set_title = set_title_of(set_by_tag, set_marc)
        own = title if title and title != set_title else ""
        if volume and own.startswith(trim(volume, period=False)):
            volume = ""  # the volume's own title starts with its number: "Т. 2. кн. 4, ..."
        # ISBD: "Common title. Number of part, Title of part"
        combined = trim(set_title, period=False)
        if volume:
            combined = _full_stop(combined) + trim(volume, period=False)
        if own:
            combined = (combined + ", " if volume else _full_stop(combined)) + trim(
                own, period=False
            )
        return set_by_tag, set_marc, combined

    return volume_title


def _full_stop(text: str) -> str:
    """ISBD ". " after ``text``, not doubled after an abbreviation ("в 22 т." + ". Т. 4")."""
    return text + (" " if text.endswith(".") else ". ")


def _format_of(rules: Iterable[Rule]) -> Callable[[str], str]:
    """The format a leader says; remembered by the leader positions the rules look at."""
    rules = tuple(rules)
    positions = [int(p) for rule in rules for p, _, _ in rule.when if int(p) >= 0]
    low, high = (min(positions), max(positions) + 1) if positions else (0, 0)
    memo: dict[str, str] = {}

    def format_of(leader: str) -> str:
        key = leader[low:high]
        found = memo.get(key)
        if found is None:
            found = _remember(memo, key, _format(leader, rules))
        return found

    return format_of


def _format(leader: str, rules: Iterable[Rule]) -> str:
    for rule in rules:
        for position, values, result in rule.when:
            index = int(position)
            if leader[index : index + 1] and leader[index] in values:
                return result
        if rule.scheme:
            return rule.scheme
    return "book"


_PAGES: Final[dict[str, int | None]] = {}


def _pages(extent: str) -> int | None:
    if extent in _PAGES:
        return _PAGES[extent]
    return _remember(_PAGES, extent, pages_of(extent))


@dataclass(frozen=True, slots=True)
class _Plan:
    """A field map compiled: one reader per canonical value."""

    title: _Get[str]
    subtitle: _Get[str]
    responsibility: _Get[str]
    uniform_title: _Get[str]
    edition: _Get[str]
    extent: _Get[str]
    imprint: _Get[tuple[str, str, int | None]]
    year: _Get[int | None]
    names: _Get[tuple[tuple[str, ...], tuple[Contributor, ...]]]
    volume: _Volume | None
    parallel_titles: _Get[tuple[str, ...]]
    series: _Get[tuple[str, ...]]
    links: _Get[tuple[str, ...]]
    isbns: _Get[tuple[str, ...]]
    issns: _Get[tuple[str, ...]]
    languages: _Get[tuple[str, ...]]
    subjects: _Get[tuple[str, ...]]
    identifiers: _Get[tuple[tuple[str, str], ...]]
    classifications: _Get[tuple[tuple[str, str], ...]]
    format: Callable[[str], str]


_PLANS: Final[dict[str, _Plan]] = {}


def _plan(flavour: str) -> _Plan:
    plan = _PLANS.get(flavour)
    if plan is None:
        rules = field_map(flavour)
        plan = _PLANS[flavour] = _Plan(
            title=_first_of(rules["title"]),
            subtitle=_first_of(rules["subtitle"]),
            responsibility=_first_of(rules["responsibility"]),
            uniform_title=_first_of(rules["uniform_title"]),
            edition=_first_of(rules["edition"]),
            extent=_first_of(rules["extent"]),
            imprint=_imprint_of(rules["imprint"]),
            year=_year_of(rules["year"]),
            names=_names_of(rules["names"]),
            volume=_volume_of(rules),
            parallel_titles=_each_of(rules["parallel_titles"]),
            series=_each_of(rules["series"]),
            links=_each_of(rules["links"]),
            isbns=_numbers_of(rules["isbns"], isbn13),
            issns=_numbers_of(rules["issns"], _issn),
            languages=_languages_of(rules["languages"]),
            subjects=_subjects_of(rules["subjects"]),
            identifiers=_coded_of(rules["identifiers"]),
            classifications=_coded_of(rules["classifications"]),
            format=_format_of(rules["format"]),
        )
    return plan


def to_record(marc: MarcRecord, raw: RawRecord | None = None) -> Record:
    """Map a decoded MARC record (any flavour with a field map) to the canonical ``Record``."""
    plan = _PLANS.get(marc.flavour) or _plan(marc.flavour)
    by_tag = _by_tag(marc.fields)
    title = plan.title(by_tag, marc)
    responsibility = plan.responsibility(by_tag, marc)
    place, publisher, year = plan.imprint(by_tag, marc)
    if year is None:
        year = plan.year(by_tag, marc)
    authors, contributors = plan.names(by_tag, marc)
    volume = plan.volume(by_tag, marc, title) if plan.volume is not None else None
    if volume is not None:  # what a volume lacks, its set says
        set_by_tag, set_marc, title = volume
        responsibility = responsibility or plan.responsibility(set_by_tag, set_marc)
        if not (place or publisher):
            place, publisher, set_year = plan.imprint(set_by_tag, set_marc)
            year = year if year is not None else set_year
        if not authors:
            authors, contributors = plan.names(set_by_tag, set_marc)
    extent = plan.extent(by_tag, marc)
    return _new_record(
        title=title,
        responsibility=responsibility,
        authors=authors,
        publisher=publisher,
        place=place,
        year=year,
        edition=plan.edition(by_tag, marc),
        isbns=plan.isbns(by_tag, marc),
        languages=plan.languages(by_tag, marc),
        subjects=plan.subjects(by_tag, marc),
        flavour=marc.flavour,
        charset=marc.charset,
        charset_suspect=marc.charset_suspect,
        subtitle=plan.subtitle(by_tag, marc),
        parallel_titles=plan.parallel_titles(by_tag, marc),
        uniform_title=plan.uniform_title(by_tag, marc),
        contributors=contributors,
        extent=extent,
        pages=_pages(extent),
        series=plan.series(by_tag, marc),
        issns=plan.issns(by_tag, marc),
        identifiers=plan.identifiers(by_tag, marc),
        classifications=plan.classifications(by_tag, marc),
        format=plan.format(marc.leader),
        links=plan.links(by_tag, marc),
        holdings=holdings_of(marc, by_tag),
        target_id=raw.target_id if raw else "",
        position=raw.position if raw else 0,
        raw=raw,
    )
