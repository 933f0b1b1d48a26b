"""Copies and their availability, from the holdings fields of bibliographic records.

MARC21 852 with items in 876-878, Koha's 952 (and 995 in UNIMARC), RUSMARC 899, IRBIS's
exemplar field 910: which subfield says what, and what each status code means, is data
(``normalizers/data/holdings.yaml``) that a cataloger can read and extend.

>>> from normalizers.marc import DataField, MarcRecord
>>> copy = DataField("910", " ", " ", (("a", "1"), ("b", "666468"), ("d", "КХ")))
>>> holdings_of(MarcRecord("", (), (copy,), "utf-8", "rusmarc"))[0].status
<HoldingStatus.ON_LOAN: 'on_loan'>
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import yaml

from core import Holding, HoldingStatus, RecordError
from core.fastinit import constructor
from normalizers.clean import trim
from normalizers.marc import DataField, MarcRecord

__all__ = ["HoldingSource", "StatusRule", "holding_sources", "holdings_of", "status_of"]


@dataclass(frozen=True, slots=True)
class StatusRule:
    """One line of a status table; ``kind`` is codes, patterns, present, other_than, default."""

    kind: str
    subfield: str = ""
    codes: Mapping[str, HoldingStatus] | None = None
    patterns: tuple[tuple[re.Pattern[str], HoldingStatus], ...] = ()
    values: tuple[str, ...] = ()
    status: HoldingStatus = HoldingStatus.UNKNOWN


@dataclass(frozen=True, slots=True)
class HoldingSource:
    """How one tag describes copies (see the header of ``data/holdings.yaml``)."""

    tag: str
    flavours: tuple[str, ...]
    library: str = ""
    branch: str = ""
    location: str = ""
    call_number: str = ""
    barcode: str = ""
    due: str = ""
    note: str = ""
    copies: str = ""
    parent: str = ""
    status: tuple[StatusRule, ...] = ()


def _status(value: Any, where: str) -> HoldingStatus:
    try:
        return HoldingStatus(str(value))
    except ValueError:
        known = ", ".join(s.value for s in HoldingStatus)
        raise RecordError(f"holdings.yaml {where}: unknown status {value!r} ({known})") from None


def _status_rule(entry: Mapping[str, Any], where: str) -> StatusRule:
    if "default" in entry:
        return StatusRule("default", status=_status(entry["default"], where))
    code = str(entry.get("subfield", ""))
    if "codes" in entry:
        table = {str(k).casefold(): _status(v, where) for k, v in entry["codes"].items()}
        return StatusRule("codes", code, codes=table)
    if "patterns" in entry:
        patterns = tuple(
            (re.compile(str(k)), _status(v, where)) for k, v in entry["patterns"].items()
        )
        return StatusRule("patterns", code, patterns=patterns)
    if "present" in entry:
        return StatusRule("present", code, status=_status(entry["present"], where))
    if "other_than" in entry:
        values = tuple(str(v) for v in entry["other_than"])
        return StatusRule("other_than", code, values=values, status=_status(entry["status"], where))
    raise RecordError(
        f"holdings.yaml {where}: a status rule needs codes, patterns, present, "
        "other_than or default"
    )


@cache
def holding_sources() -> dict[str, HoldingSource]:
    """The holdings table, loaded once from ``normalizers/data/holdings.yaml``."""
    text = resources.files("normalizers").joinpath("data", "holdings.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    out: dict[str, HoldingSource] = {}
    for tag, entry in data.items():
        where = f"tag {tag}"
        out[str(tag)] = HoldingSource(
            tag=str(tag),
            flavours=tuple(str(f) for f in entry.get("flavours", ())),
            library=str(entry.get("library", "")),
            branch=str(entry.get("branch", "")),
            location=str(entry.get("location", "")),
            call_number=str(entry.get("call_number", "")),
            barcode=str(entry.get("barcode", "")),
            due=str(entry.get("due", "")),
            note=str(entry.get("note", "")),
            copies=str(entry.get("copies", "")),
            parent=str(entry.get("parent", "")),
            status=tuple(_status_rule(r, where) for r in entry.get("status", ())),
        )
    return out


def status_of(field: DataField, rules: tuple[StatusRule, ...]) -> HoldingStatus:
    """The first status rule that matches ``field``."""
    for rule in rules:
        if rule.kind == "default":
            return rule.status
        value = field.first(rule.subfield).strip()
        if rule.kind == "codes" and rule.codes is not None:
            found = rule.codes.get(value.casefold())
            if found is not None:
                return found
        elif rule.kind == "patterns":
            for pattern, status in rule.patterns:
                if value and pattern.search(value):
                    return status
        elif value and _applies(rule, value):
            return rule.status
    return HoldingStatus.UNKNOWN


def _applies(rule: StatusRule, value: str) -> bool:
    """A ``present`` or ``other_than`` rule, given that the subfield is there."""
    return rule.kind == "present" or (rule.kind == "other_than" and value not in rule.values)


def _first(field: DataField, codes: str) -> str:
    """The first value of the first of ``codes`` (in their order) the field has, trimmed."""
    for code in codes:
        value = trim(field.first(code), period=False)
        if value:
            return value
    return ""


def _call_number(field: DataField, codes: str) -> str:
    parts = [trim(v, period=False) for code in codes for v in field.values(code)]
    return " ".join(p for p in parts if p)


def _copies(field: DataField, code: str) -> int:
    value = field.first(code).strip() if code else ""
    return int(value) if value.isdigit() and int(value) > 0 else 1


_NO_PARENT: Final = Holding()
#: ``Holding(...)``, cheaper (``core.fastinit``)
_new_holding: Final = constructor(Holding)


def _holding(field: DataField, source: HoldingSource, parent: Holding | None) -> Holding:
    base = parent or _NO_PARENT
    return _new_holding(
        library=_first(field, source.library) or base.library,
        branch=_first(field, source.branch) or base.branch,
        location=_first(field, source.location) or base.location,
        call_number=_call_number(field, source.call_number) or base.call_number,
        barcode=_first(field, source.barcode),
        status=status_of(field, source.status),
        due=_first(field, source.due),
        copies=_copies(field, source.copies),
        note=_first(field, source.note),
    )


@dataclass(frozen=True, slots=True)
class _Sources:
    """The holdings table of one flavour, and what follows from it alone."""

    by_tag: dict[str, HoldingSource]
    tags: frozenset[str]
    parents: frozenset[str]


def _sources_for(flavour: str) -> _Sources:
    sources = {t: s for t, s in holding_sources().items() if flavour in s.flavours}
    parents = frozenset(s.parent for s in sources.values() if s.parent)
    return _Sources(sources, frozenset(sources), parents)


#: ``_sources_for`` each flavour, made once
_FLAVOURS: Final[dict[str, _Sources]] = {}


def holdings_of(
    marc: MarcRecord, by_tag: Mapping[str, list[DataField]] | None = None
) -> tuple[Holding, ...]:
    """Every copy the record describes, in record order within each source tag.

    ``by_tag`` (the record's fields by tag), when the caller has it, saves a scan.
    """
    table = _FLAVOURS.get(marc.flavour)
    if table is None:
        table = _FLAVOURS[marc.flavour] = _sources_for(marc.flavour)
    present = by_tag.keys() if by_tag is not None else {f.tag for f in marc.fields}
    if table.tags.isdisjoint(present):
        return ()  # most records: no holdings field at all
    sources = table.by_tag
    with_items = {s.parent for s in sources.values() if s.parent and s.tag in present}
    out: list[Holding] = []
    for tag, source in sources.items():
        if tag not in present or (tag in table.parents and tag in with_items):
            continue  # no such field; or its items stand for it
        last_parent: Holding | None = None
        parent_source = sources.get(source.parent) if source.parent else None
        for f in marc.fields:
            if parent_source is not None and f.tag == parent_source.tag:
                last_parent = _holding(f, parent_source, None)
            elif f.tag == tag:
                out.append(_holding(f, source, last_parent))
    return tuple(out)
