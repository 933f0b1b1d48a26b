"""The merged display record of a cluster, by per-field policy (``merge:`` in rules.yaml).

``longest`` title, ``union`` of subjects and identifiers, the most complete (then earliest)
``imprint``, and so on: the policy names are explained in the rules file. Source records are
never changed; each stays in its cluster with its ``raw`` bytes.

>>> a = Record(title="War and peace", subjects=("Napoleonic Wars",), year=1970, target_id="a")
>>> b = Record(title="War and peace : a novel", publisher="Penguin", place="London",
...            year=1982, subjects=("Russia -- Fiction",), target_id="b")
>>> m = merge_records([a, b])
>>> m.title, m.publisher, m.year, m.subjects
('War and peace : a novel', 'Penguin', 1982, ('Napoleonic Wars', 'Russia -- Fiction'))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import fields, replace
from operator import attrgetter
from typing import Any

from core.records import Record, richness
from dedup.rules import Rules, default_rules

__all__ = ["merge_records", "merger"]

_FIELDS = {f.name for f in fields(Record)}


def _longest(values: list[Any]) -> Any:
    best = values[0]
    for v in values[1:]:
        if len(v) > len(best):
            best = v
    return best


def _union(values: list[Any]) -> tuple[Any, ...]:
    seen: dict[Any, None] = {}
    for v in values:
        for item in v:
            seen.setdefault(item)
    return tuple(seen)


def _most(values: list[Any]) -> Any:
    return Counter(values).most_common(1)[0][0]


def _imprint_rank(r: Record) -> tuple[int, int]:
    return (bool(r.place) + bool(r.publisher) + bool(r.year), -(r.year or 9999))


_Getter = Callable[[Record], tuple[Any, ...]]
#: id(rules) -> (rules, the policy in order: (field, how, column or -1), one getter of the
#: columns); the rules object is kept, so its id is not reused while the entry lives
_PLANS: dict[int, tuple[Rules, list[tuple[str, str, int]], _Getter]] = {}


def _plan(rules: Rules) -> tuple[list[tuple[str, str, int]], _Getter]:
    hit = _PLANS.get(id(rules))
    if hit is not None and hit[0] is rules:
        return hit[1], hit[2]
    plan: list[tuple[str, str, int]] = []
    names: list[str] = []
    for name, how in rules.merge.items():
        if how == "imprint":
            plan.append((name, how, -1))
        elif name in _FIELDS and how != "richest":
            plan.append((name, how, len(names)))
            names.append(name)
    if len(names) > 1:
        get: _Getter = attrgetter(*names)
    else:  # attrgetter of one name returns the value itself
        get = lambda r: tuple(getattr(r, n) for n in names)  # noqa: E731
    _PLANS[id(rules)] = (rules, plan, get)
    return plan, get


def _place(r: Record) -> tuple[str, int]:
    return (r.target_id, r.position)


def merge_records(records: list[Record], rules: Rules | None = None) -> Record:
    """One display record for ``records`` (non-empty), field by field."""
    if len(records) == 1:
        return records[0]
    # the same records give the same display whatever order the libraries answered in
    records = sorted(records, key=_place)
    plan, get = _plan(rules or default_rules())
    base = max(records, key=richness)
    columns = list(zip(*map(get, records), strict=True))
    changes: dict[str, Any] = {}
    for name, how, column in plan:
        if how == "imprint":
            top = max(records, key=_imprint_rank)
            changes.update(place=top.place, publisher=top.publisher, year=top.year)
            continue
        present = [v for v in columns[column] if v]
        if not present:
            continue
        if how == "longest":
            changes[name] = _longest(present)
        elif how == "union":
            changes[name] = _union(present)
        elif how == "most":
            changes[name] = _most(present)
        elif how == "max":
            changes[name] = max(present)
    return replace(base, **changes)


def merger(rules: Rules | None = None) -> Callable[[list[Record]], Record]:
    """A merge function bound to ``rules``, as clusters want it."""

    def merge(records: list[Record]) -> Record:
        return merge_records(records, rules) if records else Record()

    return merge
