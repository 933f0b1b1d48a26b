"""The matching rules as data: ``dedup/data/rules.yaml`` and ``dedup/data/translit.yaml``.

Loaded once and validated here, so that a wrong rules file fails at load time with a
``core.ConfigError`` naming the key, never in the middle of a search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from core import ConfigError

__all__ = [
    "REJECT_RULES",
    "FuzzyRoute",
    "Reject",
    "Rules",
    "Translit",
    "WorkRules",
    "default_rules",
    "load_rules",
    "translit",
]

#: Reject rules the comparison code knows (see the rules file for what each means).
REJECT_RULES = frozenset(
    {
        "years_differ",
        "pages_differ",
        "formats_differ",
        "issns_disjoint",
        "isbns_disjoint",
        "editions_differ",
        "authors_differ",
        "title_below",
        "languages_disjoint",
        "publishers_differ",
        "title_words_differ",
        "subtitles_differ",
    }
)
BLOCKS = frozenset({"title_head", "author_year", "word_year"})
MERGE_POLICIES = frozenset({"longest", "union", "richest", "imprint", "most", "max"})


@dataclass(frozen=True, slots=True)
class Reject:
    """A rule that forbids a merge whatever the similarity: ``years_differ``, ..."""

    rule: str
    more_than: int = 0
    min: float = 0.0


@dataclass(frozen=True, slots=True)
class FuzzyRoute:
    """Blocked comparison of normalized fields."""

    blocks: tuple[str, ...]
    max_block: int
    max_members: int
    weights: dict[str, float]
    threshold: float
    min_title_chars: int
    need_one_of: tuple[str, ...]
    reject: tuple[Reject, ...]


@dataclass(frozen=True, slots=True)
class WorkRules:
    """When two editions belong to one work."""

    min_title: float
    author_similarity: float
    anonymous_publisher: float
    max_block: int
    reject: tuple[Reject, ...]


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything the clusterer decides by: the parsed rules file."""

    identifiers: tuple[str, ...]
    identifier_reject: tuple[Reject, ...]
    fuzzy: FuzzyRoute
    work: WorkRules
    articles: frozenset[str]
    gmd: tuple[str, ...]
    publisher_noise: frozenset[str]
    merge: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Translit:
    """Cyrillic -> Latin table, characters to drop, and Latin folds (regex, replacement)."""

    table: dict[str, str]
    drop: str
    folds: tuple[tuple[str, str], ...]


def _need(data: Any, key: str, where: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ConfigError(f"rules.yaml: {where}: missing '{key}'")
    return data[key]


def _rejects(items: Any, where: str) -> tuple[Reject, ...]:
    if not isinstance(items, list):
        raise ConfigError(f"rules.yaml: {where}: 'reject' must be a list")
    out = []
    for item in items:
        name = str(_need(item, "rule", where))
        if name not in REJECT_RULES:
            raise ConfigError(f"rules.yaml: {where}: unknown reject rule {name!r}")
        out.append(Reject(name, int(item.get("more_than", 0)), float(item.get("min", 0.0))))
    return tuple(out)


def load_rules(text: str) -> Rules:
    """Parse a rules file (the YAML text); raise ``ConfigError`` naming a wrong key."""
    data = yaml.safe_load(text)
    man = _need(data, "manifestation", "top level")
    fz = _need(man, "fuzzy", "manifestation")
    blocks = tuple(str(b) for b in _need(fz, "blocks", "manifestation.fuzzy"))
    unknown = set(blocks) - BLOCKS
    if unknown:
        raise ConfigError(f"rules.yaml: manifestation.fuzzy: unknown blocks {sorted(unknown)}")
    evidence = _need(fz, "evidence", "manifestation.fuzzy")
    weights = {str(k): float(v) for k, v in _need(fz, "weights", "manifestation.fuzzy").items()}
    if set(weights) - {"title", "author", "publisher", "pages"}:
        raise ConfigError("rules.yaml: manifestation.fuzzy.weights: unknown field")
    wk = _need(data, "work", "top level")
    norm = _need(data, "normalize", "top level")
    merge = {str(k): str(v) for k, v in _need(data, "merge", "top level").items()}
    bad = {k: v for k, v in merge.items() if v not in MERGE_POLICIES}
    if bad:
        raise ConfigError(f"rules.yaml: merge: unknown policies {bad}")
    return Rules(
        identifiers=tuple(str(i) for i in _need(data, "identifiers", "top level")),
        identifier_reject=_rejects(
            _need(_need(man, "identifier", "manifestation"), "reject", "identifier"),
            "manifestation.identifier",
        ),
        fuzzy=FuzzyRoute(
            blocks=blocks,
            max_block=int(_need(fz, "max_block", "manifestation.fuzzy")),
            max_members=int(_need(fz, "max_members", "manifestation.fuzzy")),
            weights=weights,
            threshold=float(_need(fz, "threshold", "manifestation.fuzzy")),
            min_title_chars=int(evidence.get("min_title_chars", 1)),
            need_one_of=tuple(str(x) for x in evidence.get("need_one_of", ())),
            reject=_rejects(_need(fz, "reject", "manifestation.fuzzy"), "manifestation.fuzzy"),
        ),
        work=WorkRules(
            min_title=float(_need(wk, "min_title", "work")),
            author_similarity=float(wk.get("author_similarity", 100)),
            anonymous_publisher=float(wk.get("anonymous_publisher", 0)),
            max_block=int(wk.get("max_block", 400)),
            reject=_rejects(wk.get("reject", []), "work"),
        ),
        articles=frozenset(str(a) for a in norm.get("articles", ())),
        gmd=tuple(str(g) for g in norm.get("gmd", ())),
        publisher_noise=frozenset(str(w) for w in norm.get("publisher_noise", ())),
        merge=merge,
    )


def _data(name: str) -> str:
    return resources.files("dedup").joinpath("data", name).read_text("utf-8")


@cache
def default_rules() -> Rules:
    """The shipped rules (``dedup/data/rules.yaml``), loaded once."""
    return load_rules(_data("rules.yaml"))


@cache
def translit() -> Translit:
    """The shipped transliteration table (``dedup/data/translit.yaml``), loaded once."""
    data = yaml.safe_load(_data("translit.yaml"))
    table = {str(k): str(v) for k, v in _need(data, "cyrillic", "translit.yaml").items()}
    for k in list(table):
        table.setdefault(k.upper(), table[k])
    folds = tuple((str(a), str(b)) for a, b in data.get("folds", ()))
    return Translit(table, str(data.get("drop", "")), folds)
