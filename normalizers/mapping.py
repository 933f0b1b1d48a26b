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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml
from stdnum import issn as stdnum_issn

from core import Contributor, RawRecord, Record, RecordError
from normalizers.clean import first_year, isbn13, language_codes, lccn, pages_of, trim
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
    known = set(Rule.__slots__) - {"exact"}
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


# -- reading values ---------------------------------------------------------------------------


_NONE: list[DataField] = []


class _Index:
    """The fields of one record by tag, built once per record; lookups are cached."""

    __slots__ = ("by_tag", "cache", "marc")

    def __init__(self, marc: MarcRecord) -> None:
        self.marc = marc
        by_tag: dict[str, list[DataField]] = {}
        for f in marc.fields:
            if f.tag in by_tag:
                by_tag[f.tag].append(f)
            else:
                by_tag[f.tag] = [f]
        self.by_tag = by_tag
        self.cache: dict[tuple[tuple[str, ...], str], list[DataField]] = {}

    def fields(self, rule: Rule) -> list[DataField]:
        """Fields named by ``rule.tags``, in the order of the tags, each field once."""
        if rule.exact:
            return self.by_tag.get(rule.exact, _NONE)
        tags = rule.tags
        key = (tags, rule.ind1)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        out: list[DataField] = []
        for pattern in tags:
            tag, _, ind2 = pattern.partition("_")
            if "X" in tag:
                prefix = tag.rstrip("X")
                found = [f for f in self.marc.fields if f.tag.startswith(prefix)]
            else:
                found = self.by_tag.get(tag, [])
            for f in found:
                if (not ind2 or f.ind2 == ind2) and not any(f is g for g in out):
                    out.append(f)
        if rule.ind1:
            out = [f for f in out if f.ind1 in rule.ind1]
        self.cache[key] = out
        return out


def _clean(text: str, rule: Rule) -> str:
    if "\u0088" in text or "\u0098" in text or "\u0089" in text or "\u009c" in text:
        text = _NON_SORT.sub("", text)
    return trim(text, period=rule.trim == "full")


def _joined(f: DataField, rule: Rule) -> str:
    """Join the wanted subfields.

    With ``punctuation`` (UNIMARC, whose data carries no ISBD marks) the mark given for a
    code goes before it. Without (MARC21, whose data carries them) a skipped subfield in
    between hands on its mark: ``245 $a Règne Amour $h [sound recording] : $b love songs``
    -> "Règne Amour : love songs".
    """
    codes = rule.subfields
    marks = rule.punctuation
    if marks:
        out = ""
        for code, value in f.subfields:
            text = " ".join(value.split())
            if code not in codes or not text:
                continue
            if not out:
                out = text
                continue
            mark = marks.get(code, " ")
            out = trim(out, period=False) if mark.strip() else out
            if mark.startswith(".") and out.endswith("."):
                mark = mark[1:]  # ISBD: no second full stop after an abbreviation ("т.")
            out += mark + text
        return out
    parts: list[str] = []
    for code, value in f.subfields:
        text = " ".join(value.split())
        if code in codes:
            if text:
                parts.append(text)
        elif parts and text and text[-1] in ":;=" and not parts[-1].endswith(text[-1]):
            parts[-1] += " " + text[-1]
    return " ".join(parts)


def _first(ix: _Index, rules: Iterable[Rule]) -> str:
    for rule in rules:
        for f in ix.by_tag.get(rule.exact, _NONE) if rule.exact else ix.fields(rule):
            text = _clean(_joined(f, rule), rule)
            if text:
                return text
    return ""


def _each(ix: _Index, rules: Iterable[Rule]) -> tuple[str, ...]:
    """Each field's joined subfields (with ``each``: each subfield), cleaned, each once."""
    out: dict[str, None] = {}
    for rule in rules:
        for f in ix.by_tag.get(rule.exact, _NONE) if rule.exact else ix.fields(rule):
            values = f.values(rule.subfields) if rule.each else [_joined(f, rule)]
            for value in values:
                text = _clean(value, rule)
                if text:
                    out.setdefault(text)
    return tuple(out)


def _fixed(ix: _Index, rule: Rule) -> str:
    if rule.fixed is None:
        return ""
    tag, start, end = rule.fixed
    if len(tag) == 4:  # "100a": a subfield of a data field (UNIMARC coded data)
        value = next((f.first(tag[3]) for f in ix.by_tag.get(tag[:3], ())), "")
    else:
        value = ix.marc.control_value(tag)
    return value[start:end] if len(value) >= end else ""


def _imprint(ix: _Index, rules: Iterable[Rule]) -> tuple[str, str, int | None]:
    for rule in rules:
        fields = ix.by_tag.get(rule.exact, _NONE) if rule.exact else ix.fields(rule)
        if not fields:
            continue

        def first(code: str, fields: list[DataField] = fields, rule: Rule = rule) -> str:
            for f in fields:
                for value in f.values(code):
                    text = _clean(value, rule)
                    if text:
                        return text
            return ""

        year = next(
            (y for f in fields for v in f.values(rule.date) if (y := first_year(v)) is not None),
            None,
        )
        place, publisher = first(rule.place), first(rule.publisher)
        if place or publisher or year is not None:
            return place, publisher, year
    return "", "", None


def _year(ix: _Index, rules: Iterable[Rule]) -> int | None:
    for rule in rules:
        year = first_year(_fixed(ix, rule))
        if year is not None:
            return year
    return None


def _isbns(ix: _Index, rules: Iterable[Rule]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for rule in rules:
        for f in ix.by_tag.get(rule.exact, _NONE) if rule.exact else ix.fields(rule):
            for value in f.values(rule.subfields):
                number = isbn13(value)
                if number:
                    out.setdefault(number)
    return tuple(out)


def _issns(ix: _Index, rules: Iterable[Rule]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for rule in rules:
        for f in ix.by_tag.get(rule.exact, _NONE) if rule.exact else ix.fields(rule):
            for value in f.values(rule.subfields):
                token = stdnum_issn.compact(value.strip().split(" ")[0]) if value.strip() else ""
                if token and stdnum_issn.is_valid(token):
                    out.setdefault(str(stdnum_issn.format(token)))
    return tuple(out)


def _languages(ix: _Index, rules: Iterable[Rule]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for rule in rules:
        for code in language_codes(_fixed(ix, rule)):
            out.setdefault(code)
        for f in ix.by_tag.get(rule.exact, _NONE) if rule.exact else ix.fields(rule):
            for value in f.values(rule.subfields):
                for code in language_codes(value):
                    out.setdefault(code)
    return tuple(out)


def _compose(f: DataField, parts: Mapping[str, str], rule: Rule) -> str:
    """A heading from several subfields, each after its mark: ``{a: "", b: ", "}``."""
    out = ""
    for code, value in f.subfields:
        if code not in parts:
            continue
        text = _clean(value, rule)
        if not text:
            continue
        if out:
            mark = parts[code]
            text = text.lstrip(",.; ") if mark.strip() else text
            if mark.endswith("(") and not text.endswith(")"):
                text += ")"
            out = (trim(out, period=False) if mark.strip() else out) + (mark or " ") + text
        else:
            out = text
    return out


def _heading(f: DataField, rule: Rule) -> str:
    if isinstance(rule.heading, str):
        return next((t for c, v in f.subfields if c in rule.heading and (t := _clean(v, rule))), "")
    return _compose(f, rule.heading, rule)


def _subjects(ix: _Index, rules: Iterable[Rule]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for rule in rules:
        for f in ix.by_tag.get(rule.exact, _NONE) if rule.exact else ix.fields(rule):
            if rule.each:
                for value in f.values(rule.subfields):
                    text = _clean(value, rule)
                    if text:
                        out.setdefault(text)
                continue
            heading = _heading(f, rule)
            if not heading:
                continue
            parts = [heading]
            parts += [
                text for c, v in f.subfields if c in rule.subdivisions and (text := _clean(v, rule))
            ]
            out.setdefault(rule.separator.join(parts))
    return tuple(out)


def _scheme(f: DataField, rule: Rule) -> str:
    if not rule.scheme_from:
        return rule.scheme
    given = f.first(rule.scheme_from).strip().lower()
    if not given:
        return rule.scheme
    for prefix, scheme in rule.schemes.items():
        if given.startswith(prefix.lower()):
            return scheme
    return given


def _coded(ix: _Index, rules: Iterable[Rule]) -> tuple[tuple[str, str], ...]:
    """(scheme, value) pairs: identifiers and classifications."""
    out: dict[tuple[str, str], None] = {}
    for rule in rules:
        for f in ix.by_tag.get(rule.exact, _NONE) if rule.exact else ix.fields(rule):
            scheme = _scheme(f, rule)
            values = f.values(rule.subfields) if rule.each else [_joined(f, rule)]
            for value in values:
                text = lccn(value) if scheme == "lccn" else trim(value, period=False)
                if text and scheme:
                    out.setdefault((scheme, text))
    return tuple(out)


def _names(ix: _Index, rules: Iterable[Rule]) -> tuple[tuple[str, ...], tuple[Contributor, ...]]:
    headings: dict[str, None] = {}
    people: dict[Contributor, None] = {}
    terms = relator_terms()
    for rule in rules:
        for f in ix.by_tag.get(rule.exact, _NONE) if rule.exact else ix.fields(rule):
            name = _compose(f, rule.name, rule) if rule.name else ""
            if not name:
                continue
            headings.setdefault(name)
            role = ""
            if rule.role_term:
                term = trim(f.first(rule.role_term)).lower()
                role = terms.get(term, term)
            if not role and rule.role_code:
                code = f.first(rule.role_code).strip().lower()
                role = terms.get(code, code)
            kind = rule.kind
            if rule.meeting_ind1 and f.ind1 in rule.meeting_ind1:
                kind = "meeting"
            dates = trim(f.first(rule.dates)) if rule.dates else ""
            role = role or rule.default_role
            if not role and any(p.name == name and p.dates == dates for p in people):
                continue  # a name/title entry for someone already named
            people.setdefault(Contributor(name, role, dates, kind))
    return tuple(headings), tuple(people)


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


def _set(ix: _Index, rules: Iterable[Rule]) -> tuple[_Index, str] | None:
    """The set a volume belongs to (its embedded fields) and the volume designation.

    An analytic record (leader/07 ``a``: an article) keeps its own title: its links name
    the journal it appeared in, not a set it is a part of.
    """
    if ix.marc.leader[7:8] == "a":
        return None
    for rule in rules:
        for f in ix.by_tag.get(rule.exact, _NONE) if rule.exact else ix.fields(rule):
            inner = embedded_fields(f)
            if any(g.tag == "200" for g in inner):
                marc = MarcRecord("", (), tuple(inner), ix.marc.charset, ix.marc.flavour)
                return _Index(marc), trim(f.first(rule.subfields), period=False)
    return None


def _format(marc: MarcRecord, rules: Iterable[Rule]) -> str:
    leader = marc.leader
    for rule in rules:
        for position, values, result in rule.when:
            index = int(position)
            if leader[index : index + 1] and leader[index] in values:
                return result
        if rule.scheme:
            return rule.scheme
    return "book"


def _volume_title(ix: _Index, rules: FieldMap, title: str) -> tuple[_Index, str] | None:
    """For a volume of a set: the set's fields, and the title "set. volume, own title"."""
    whole = _set(ix, rules["set"])
    if whole is None:
        return None
    set_ix, volume = whole
    set_title = _first(set_ix, [dataclasses.replace(r, subfields="a") for r in rules["title"]])
    own = title if title and title != set_title else ""
    if volume and own.startswith(trim(volume, period=False)):
        volume = ""  # the volume's own title starts with its number: "Т. 2. кн. 4, ..."
    # ISBD: "Common title. Number of part, Title of part"
    combined = trim(set_title, period=False)
    if volume:
        combined = _full_stop(combined) + trim(volume, period=False)
    if own:
        combined = (combined + ", " if volume else _full_stop(combined)) + trim(own, period=False)
    return set_ix, combined


def _full_stop(text: str) -> str:
    """ISBD ". " after ``text``, not doubled after an abbreviation ("в 22 т." + ". Т. 4")."""
    return text + (" " if text.endswith(".") else ". ")


def to_record(marc: MarcRecord, raw: RawRecord | None = None) -> Record:
    """Map a decoded MARC record (any flavour with a field map) to the canonical ``Record``."""
    rules = field_map(marc.flavour)
    ix = _Index(marc)
    title = _first(ix, rules["title"])
    responsibility = _first(ix, rules["responsibility"])
    place, publisher, year = _imprint(ix, rules["imprint"])
    if year is None:
        year = _year(ix, rules["year"])
    authors, contributors = _names(ix, rules["names"])
    volume = _volume_title(ix, rules, title) if rules["set"] else None
    if volume is not None:  # what a volume lacks, its set says
        set_ix, title = volume
        responsibility = responsibility or _first(set_ix, rules["responsibility"])
        if not (place or publisher):
            place, publisher, set_year = _imprint(set_ix, rules["imprint"])
            year = year if year is not None else set_year
        if not authors:
            authors, contributors = _names(set_ix, rules["names"])
    extent = _first(ix, rules["extent"])
    return Record(
        title=title,
        responsibility=responsibility,
        authors=authors,
        publisher=publisher,
        place=place,
        year=year,
        edition=_first(ix, rules["edition"]),
        isbns=_isbns(ix, rules["isbns"]),
        languages=_languages(ix, rules["languages"]),
        subjects=_subjects(ix, rules["subjects"]),
        flavour=marc.flavour,
        charset=marc.charset,
        charset_suspect=marc.charset_suspect,
        subtitle=_first(ix, rules["subtitle"]),
        parallel_titles=_each(ix, rules["parallel_titles"]),
        uniform_title=_first(ix, rules["uniform_title"]),
        contributors=contributors,
        extent=extent,
        pages=pages_of(extent),
        series=_each(ix, rules["series"]),
        issns=_issns(ix, rules["issns"]),
        identifiers=_coded(ix, rules["identifiers"]),
        classifications=_coded(ix, rules["classifications"]),
        format=_format(marc, rules["format"]),
        links=_each(ix, rules["links"]),
        holdings=holdings_of(marc, ix.by_tag),
        target_id=raw.target_id if raw else "",
        position=raw.position if raw else 0,
        raw=raw,
    )
