"""MARC21 bibliographic record -> canonical ``core.Record``.

Which fields feed which canonical value is data: ``normalizers/data/marc21.yaml``. This module
only knows the few ways a value is read (subfields of tags, imprint, fixed positions, subject
strings).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from core import RawRecord, Record
from normalizers.clean import first_year, isbn13, language_codes, trim
from normalizers.marc import DataField, MarcRecord

__all__ = ["FieldRule", "field_map", "to_record"]


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One entry of the field map (see the YAML file for what each key means)."""

    tags: tuple[str, ...] = ()
    subfields: str = ""
    trim: str = "full"
    fixed: tuple[str, int, int] | None = None
    place: str = ""
    publisher: str = ""
    date: str = ""
    heading: str = ""
    subdivisions: str = ""
    separator: str = " -- "


def _rule(entry: dict[str, Any]) -> FieldRule:
    fixed = entry.get("fixed")
    return FieldRule(
        tags=tuple(str(t) for t in entry.get("tags", ())),
        subfields=str(entry.get("subfields", "")),
        trim=str(entry.get("trim", "full")),
        fixed=(str(fixed[0]), int(fixed[1]), int(fixed[2])) if fixed else None,
        place=str(entry.get("place", "")),
        publisher=str(entry.get("publisher", "")),
        date=str(entry.get("date", "")),
        heading=str(entry.get("heading", "")),
        subdivisions=str(entry.get("subdivisions", "")),
        separator=str(entry.get("separator", " -- ")),
    )


@cache
def field_map() -> dict[str, FieldRule]:
    """The MARC21 field map, loaded once from ``normalizers/data/marc21.yaml``."""
    text = resources.files("normalizers").joinpath("data", "marc21.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return {name: _rule(entry) for name, entry in data.items()}


def _matches(field: DataField, pattern: str) -> bool:
    tag, _, ind2 = pattern.partition("_")
    if tag.endswith("XX"):
        if not (field.tag[:1] == tag[:1] and field.tag.isdigit()):
            return False
    elif field.tag != tag:
        return False
    return not ind2 or field.ind2 == ind2


def _fields(marc: MarcRecord, rule: FieldRule) -> list[DataField]:
    """Fields named by ``rule.tags``, in the order of the tags, each field once."""
    out: list[DataField] = []
    seen: set[int] = set()
    for pattern in rule.tags:
        for i, f in enumerate(marc.fields):
            if i not in seen and _matches(f, pattern):
                seen.add(i)
                out.append(f)
    return out


def _clean(text: str, rule: FieldRule) -> str:
    return trim(text, period=rule.trim == "full")


def _joined(field: DataField, codes: str) -> str:
    """Join the wanted subfields; a skipped one in between hands on its ISBD mark.

    ``245 $a Règne Amour $h [sound recording] : $b love songs`` -> "Règne Amour : love songs".
    """
    parts: list[str] = []
    for code, value in field.subfields:
        text = " ".join(value.split())
        if code in codes:
            if text:
                parts.append(text)
        elif parts and text[-1:] in ":;=" and not parts[-1].endswith(text[-1]):
            parts[-1] += " " + text[-1]
    return " ".join(parts)


def _first(marc: MarcRecord, rule: FieldRule) -> str:
    for field in _fields(marc, rule):
        text = _clean(_joined(field, rule.subfields), rule)
        if text:
            return text
    return ""


def _each(marc: MarcRecord, rule: FieldRule) -> tuple[str, ...]:
    """The first wanted subfield of each field, cleaned, each value once."""
    out: dict[str, None] = {}
    for field in _fields(marc, rule):
        values = field.values(rule.subfields)
        if values:
            text = _clean(values[0], rule)
            if text:
                out.setdefault(text)
    return tuple(out)


def _imprint(marc: MarcRecord, rule: FieldRule) -> tuple[str, str, int | None]:
    fields = _fields(marc, rule)

    def first(code: str) -> str:
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
    return first(rule.place), first(rule.publisher), year


def _fixed(marc: MarcRecord, rule: FieldRule) -> str:
    if rule.fixed is None:
        return ""
    tag, start, end = rule.fixed
    value = marc.control_value(tag)
    return value[start:end] if len(value) >= end else ""


def _isbns(marc: MarcRecord, rule: FieldRule) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for field in _fields(marc, rule):
        for value in field.values(rule.subfields):
            number = isbn13(value)
            if number:
                out.setdefault(number)
    return tuple(out)


def _languages(marc: MarcRecord, rule: FieldRule) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for code in language_codes(_fixed(marc, rule)):
        out.setdefault(code)
    for field in _fields(marc, rule):
        for value in field.values(rule.subfields):
            for code in language_codes(value):
                out.setdefault(code)
    return tuple(out)


def _subjects(marc: MarcRecord, rule: FieldRule) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for field in _fields(marc, rule):
        heading = next((v for c, v in field.subfields if c in rule.heading), "")
        heading = _clean(heading, rule)
        if not heading:
            continue
        parts = [heading]
        parts += [
            text for c, v in field.subfields if c in rule.subdivisions and (text := _clean(v, rule))
        ]
        out.setdefault(rule.separator.join(parts))
    return tuple(out)


def to_record(marc: MarcRecord, raw: RawRecord) -> Record:
    """Map a decoded MARC21 record to the canonical ``Record``."""
    rules = field_map()
    place, publisher, year = _imprint(marc, rules["imprint"])
    if year is None:
        year = first_year(_fixed(marc, rules["year"]))
    return Record(
        title=_first(marc, rules["title"]),
        responsibility=_first(marc, rules["responsibility"]),
        authors=_each(marc, rules["authors"]),
        publisher=publisher,
        place=place,
        year=year,
        edition=_first(marc, rules["edition"]),
        isbns=_isbns(marc, rules["isbns"]),
        languages=_languages(marc, rules["languages"]),
        subjects=_subjects(marc, rules["subjects"]),
        flavour="marc21",
        charset=marc.charset,
        target_id=raw.target_id,
        position=raw.position,
        raw=raw,
    )
