"""The user's query as one CQL tree, and that tree as each target will receive it.

    text --parse_query--> CQL AST --to_rpn------> type-1 RPN (Z39.50 targets)
                                  --to_sru_cql--> CQL text   (SRU targets)

``parse_query`` accepts CQL, and also plain keywords, which are not CQL: ``tolstoy war
peace`` becomes ``tolstoy and war and peace`` on serverChoice (see its docstring), and the
catalogers' CCL form ``ti=war and au=tolstoy`` (``federator.ccl``).

``to_rpn`` maps CQL to Bib-1 through a table modelled on YAZ's ``pqf.properties``, tuned
for Zebra (``core/data/cql-bib1.csv``); a target's ``index_map`` overrides or extends its
index rows. Every choice is visible in that file, and each translation of a term is:

    relation (2=, and 6=3 for ==)   then structure (4=: word / phrase / numeric for ranges)
    then masking (5=) and anchoring (3=, 6=)   then the index (1=, and whatever else the
    target's map gives)   then relation modifiers (/relevant 2=102 ...)

Within one term a later attribute of the same type replaces an earlier one, so every type
is sent once (Zebra would otherwise use the last; other servers may refuse).

A ``sortby`` clause stays in the tree but neither translation sends it: the federator
orders the merged results itself (``to_sru_cql(..., sort=True)`` keeps it).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

from core import CQLSyntaxError, QueryError, Target, UnsupportedIndex
from federator.ccl import ccl_qualifiers, parse_ccl, qualifiers_used
from protocols.cql import (
    COMPARITOR_SYMBOLS,
    SERVER_CHOICE,
    Boolean,
    Clause,
    Modifier,
    Node,
    Prefix,
    SearchClause,
    SortedQuery,
    SortKey,
    parse,
    to_cql,
)
from protocols.z3950.rpn import (
    AttributesPlusTerm,
    Operator,
    ProximityOperator,
    RPNNode,
    RPNOperator,
    RPNQuery,
    to_pqf,
)

__all__ = [
    "KNOWN_RELATIONS",
    "context_set_name",
    "explain",
    "parse_attributes",
    "parse_query",
    "query_indexes",
    "same_use",
    "to_rpn",
    "to_sru_cql",
    "use_attribute",
]

#: Named relations CQL defines (``exact`` and ``scr`` are CQL 1.1 names of ``==`` and ``=``).
KNOWN_RELATIONS = ("any", "all", "adj", "within", "encloses", "exact", "scr")

Attributes = tuple[tuple[int, int], ...]

_STRUCTURE_CHARS = set("=<>()/")
_ATTR = re.compile(r"^(\d+)=(\d+)$")


# --- parsing the user's input -----------------------------------------------------------


def _unknown_relation(node: Node) -> bool:
    if isinstance(node, SortedQuery):
        return _unknown_relation(node.query)
    if isinstance(node, Boolean):
        return _unknown_relation(node.left) or _unknown_relation(node.right)
    rel = node.relation
    return rel not in COMPARITOR_SYMBOLS and "." not in rel and rel.lower() not in KNOWN_RELATIONS


def _keywords(text: str) -> Node | None:
    """``tolstoy "war and peace"`` -> AND of serverChoice terms; None if it is not that."""
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= n:
                return None
            words.append(text[i + 1 : end])
            i = end + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] != '"':
                if text[i] in _STRUCTURE_CHARS:
                    return None
                i += 1
            words.append(text[start:i])
    if not words:
        return None
    clause: Clause = SearchClause(SERVER_CHOICE, "=", words[0])
    for word in words[1:]:
        clause = Boolean("and", clause, SearchClause(SERVER_CHOICE, "=", word))
    return clause


def parse_query(text: str) -> Node:
    """The user's query as one CQL tree.

    CQL is taken as CQL: ``war and peace`` is ``war AND peace``, as YAZ reads it. Plain
    keywords that are not CQL (``tolstoy war peace`` would need booleans; the CQL parser
    reads it as index ``tolstoy``, relation ``war``, term ``peace``) become an AND of
    serverChoice terms, quoted phrases kept whole. That fallback applies only when the text
    has none of CQL's structure characters ``= < > ( ) /`` outside quotes and either fails
    to parse or uses a named relation CQL does not define; otherwise the CQL error stands.

    A query that qualifies a term with a CCL qualifier CQL does not know (``ti=``, ``au=``,
    ``su=``, ``py=``, ``pb=``, ``ib=``, ``kw=``; ``core/data/ccl.csv``) is read as CCL
    (``federator.ccl``): ``ti=war and au=tolstoy`` means ``dc.title=war and
    dc.creator=tolstoy``.

    >>> from protocols.cql import to_cql
    >>> to_cql(parse_query('tolstoy "war and peace"'))
    'tolstoy and "war and peace"'
    >>> to_cql(parse_query("tolstoy war peace"))
    'tolstoy and war and peace'
    >>> to_cql(parse_query("ti=war? and py=1860-1870"))
    'dc.title=war* and (dc.date>=1860 and dc.date<=1870)'
    """
    if _is_ccl(text):
        return parse_ccl(text)
    try:
        node = parse(text)
    except CQLSyntaxError:
        fallback = _keywords(text)
        if fallback is None:
            raise
        return fallback
    if _unknown_relation(node):
        fallback = _keywords(text)
        if fallback is not None:
            return fallback
    return node


def _is_ccl(text: str) -> bool:
    """Whether the text qualifies a term with a CCL qualifier that is no CQL index of ours."""
    table = ccl_qualifiers()
    rows = _table().rows
    default = _table().default_set
    return any(
        name in table and f"index.{name}" not in rows and f"index.{default}.{name}" not in rows
        for name in qualifiers_used(text)
    )


# --- the Bib-1 table --------------------------------------------------------------------


def parse_attributes(spec: str) -> Attributes:
    """``"1=4 4=1"`` -> ``((1, 4), (4, 1))``; ``ValueError`` names the bad pair.

    Only numeric values: the RPN model has no string attribute values (``1=_ALLRECORDS``).
    """
    out: list[tuple[int, int]] = []
    for pair in spec.split():
        m = _ATTR.match(pair)
        if m is None:
            raise ValueError(f"{pair!r} is not a Bib-1 attribute 'type=value' with numbers")
        out.append((int(m.group(1)), int(m.group(2))))
    return tuple(out)


@dataclass(frozen=True)
class _Table:
    sets: dict[str, str] = field(default_factory=dict)  # URI -> set name
    default_set: str = "dc"
    rows: dict[str, Attributes] = field(default_factory=dict)  # lower-cased key -> attrs


@cache
def _table() -> _Table:
    text = resources.files("core").joinpath("data", "cql-bib1.csv").read_text("utf-8")
    table = _Table()
    default_uri = ""
    for row in csv.reader(text.splitlines()):
        if not row or row[0].startswith("#") or row[0] == "key":
            continue
        key, value = row[0].strip(), row[1].strip()
        if key == "set":
            default_uri = value
        elif key.startswith("set."):
            table.sets[value] = key[4:].lower()
        else:
            table.rows[key.lower()] = parse_attributes(value)
    return replace(table, default_set=table.sets.get(default_uri, "dc"))


def _lower_map(index_map: Mapping[str, str] | None) -> dict[str, str]:
    return {k.strip().lower(): v for k, v in (index_map or {}).items()}


# --- prefixes: which context set an index belongs to ------------------------------------

Scope = dict[str | None, str]  # prefix name (None: default set) -> URI


def _enter(scope: Scope, prefixes: tuple[Prefix, ...]) -> Scope:
    if not prefixes:
        return scope
    inner = dict(scope)
    for p in prefixes:
        inner[None if p.name is None else p.name.lower()] = p.uri
    return inner


def _index_keys(index: str, scope: Scope) -> list[str]:
    """Names to look the index up by, most specific first; empty if its set is unknown."""
    low = index.lower()
    sets = _table().sets
    prefix, dot, rest = low.partition(".")
    if dot:
        if prefix not in scope:
            return [low]
        name = sets.get(scope[prefix])
        return [f"{name}.{rest}"] if name else []
    if None in scope:
        name = sets.get(scope[None])
        return [f"{name}.{low}"] if name else []
    return [low, f"{_table().default_set}.{low}"]


def _lookup(
    index: str, scope: Scope, target_map: dict[str, str], target_id: str | None
) -> str | Attributes:
    """The target's name for the index (a string) or the default attributes for it."""
    keys = _index_keys(index, scope)
    for key in keys:
        if key in target_map:
            if not target_map[key].strip():
                raise UnsupportedIndex(index, target_id)
            return target_map[key]
    rows = _table().rows
    for key in keys:
        if f"index.{key}" in rows:
            return rows[f"index.{key}"]
    raise UnsupportedIndex(index, target_id)


# --- terms: escapes, masking, anchoring -------------------------------------------------

_Char = tuple[str, bool]  # a character, and whether it is an unescaped * ? ^


def _scan(term: str, masked: bool) -> list[_Char]:
    out: list[_Char] = []
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


def _strip(chars: list[_Char]) -> list[_Char]:
    start, end = 0, len(chars)
    while start < end and chars[start][0].isspace() and not chars[start][1]:
        start += 1
    while end > start and chars[end - 1][0].isspace() and not chars[end - 1][1]:
        end -= 1
    return chars[start:end]


def _words(chars: list[_Char]) -> list[list[_Char]]:
    words: list[list[_Char]] = [[]]
    for ch in chars:
        if ch[0].isspace():
            if words[-1]:
                words.append([])
        else:
            words[-1].append(ch)
    return [w for w in words if w]


def _masking(chars: list[_Char], term: str, anchors: bool) -> tuple[str, Attributes]:
    """The term text to send and its position / truncation attributes."""
    rows = _table().rows
    attrs: list[tuple[int, int]] = []
    first = bool(chars) and chars[0] == ("^", True)
    last = len(chars) > int(first) and chars[-1] == ("^", True)
    chars = chars[int(first) : len(chars) - int(last)]
    if any(ch == ("^", True) for ch in chars):
        raise QueryError.sru(32, f"'^' can only anchor the start or end of a term: {term}", term)
    if anchors and first and last:
        attrs += rows["position.firstandlast"]
    elif anchors and first:
        attrs += rows["position.first"]
    elif anchors and last:
        raise QueryError.sru(
            32, f"Bib-1 cannot anchor a term at the end of a field only: {term}", term
        )
    masks = [i for i, (_, special) in enumerate(chars) if special]
    plain = "".join(c for c, special in chars if not special)
    if not plain.strip():
        if masks:
            raise QueryError.sru(29, f"a term needs more than masking characters: {term}", term)
        raise QueryError.sru(27, "empty search term", term)
    end = len(chars) - 1
    if not masks:
        if any(c in "*?#" for c in plain):
            attrs += rows["truncation.none"]
        return plain, tuple(attrs)
    if masks == [end] and chars[end][0] == "*":
        return plain, (*attrs, *rows["truncation.right"])
    if masks == [0] and chars[0][0] == "*":
        return plain, (*attrs, *rows["truncation.left"])
    if masks == [0, end] and chars[0][0] == chars[end][0] == "*":
        return plain, (*attrs, *rows["truncation.both"])
    # Z39.58 masking has no escape, and "?" followed by digits is "up to n characters"
    if any(c in "?#" for c in plain):
        raise QueryError.sru(28, f"'?' or '#' cannot be sent literally with masking: {term}", term)
    out: list[str] = []
    for c, special in chars:
        if special:
            mask = "?" if c == "*" else "#"
            if out and out[-1] == "?" and mask == "?":
                continue
            out.append(mask)
        else:
            if c.isdigit() and out and out[-1] == "?":
                raise QueryError.sru(
                    28, f"a digit cannot follow '*' in Z39.58 masking: {term}", term
                )
            out.append(c)
    return "".join(out), (*attrs, *rows["truncation.z3958"])


# --- CQL -> RPN -------------------------------------------------------------------------

_RELATION_ALIASES = {"exact": "==", "scr": "="}
_RANGES = ("<", "<=", ">", ">=")


def _relation(name: str, scope: Scope) -> str:
    low = name.lower()
    prefix, dot, rest = low.partition(".")
    if dot:
        # only the CQL context set defines relations we know
        uri = scope.get(prefix)
        context = prefix if uri is None else _table().sets.get(uri)
        if context != "cql":
            raise QueryError.sru(19, f"unsupported relation '{name}'", name)
        low = rest
    low = _RELATION_ALIASES.get(low, low)
    if f"relation.{low}" not in _table().rows:
        raise QueryError.sru(19, f"unsupported relation '{name}'", name)
    return low


def _merge(*groups: Attributes) -> Attributes:
    merged: dict[int, int] = {}
    for group in groups:
        for attr_type, value in group:
            merged[attr_type] = value
    return tuple(sorted(merged.items()))


def _clause_rpn(
    node: SearchClause, scope: Scope, target_map: dict[str, str], target_id: str | None
) -> RPNNode:
    rows = _table().rows
    found = _lookup(node.index, scope, target_map, target_id)
    try:
        index_attrs = found if isinstance(found, tuple) else parse_attributes(found)
    except ValueError as exc:
        where = f"target '{target_id}': " if target_id else ""
        raise QueryError(f"{where}index_map '{node.index}': {exc}") from None
    relation = _relation(node.relation, scope)
    masked, regexp = True, False
    modifier_attrs: list[tuple[int, int]] = []
    for mod in node.modifiers:
        name = mod.name.lower().removeprefix("cql.")
        key = f"relationmodifier.{name}"
        if key not in rows or mod.value is not None:
            raise QueryError.sru(20, f"unsupported relation modifier '/{mod.name}'", mod.name)
        masked = masked and name not in ("unmasked", "regexp")
        regexp = regexp or name == "regexp"
        modifier_attrs += rows[key]

    def term(
        chars: list[_Char], structure: Attributes, anchors: bool, rel: str = relation
    ) -> AttributesPlusTerm:
        text: str
        mask_attrs: Attributes
        if regexp:
            text, mask_attrs = node.term, ()
        else:
            text, mask_attrs = _masking(chars, node.term, anchors)
        attrs = _merge(
            rows[f"relation.{rel}"], structure, mask_attrs, index_attrs, tuple(modifier_attrs)
        )
        return AttributesPlusTerm(attrs, text)

    chars = _strip(_scan(node.term, masked))
    if relation == "within":
        # CQL 1.2: "within" takes two values, the bounds of an inclusive range
        bounds = _words(chars)
        if len(bounds) != 2:
            raise QueryError.sru(36, f"'within' needs two values: {node.term}", node.term)
        low = term(bounds[0], rows["structure.>="], False, ">=")
        return RPNOperator("and", low, term(bounds[1], rows["structure.<="], False, "<="))
    if relation in ("any", "all"):
        words = _words(chars) or [chars]
        op: Operator = "or" if relation == "any" else "and"
        result: RPNNode = term(words[0], rows["structure.word"], True)
        for word in words[1:]:
            result = RPNOperator(op, result, term(word, rows["structure.word"], True))
        return result
    if relation in _RANGES:
        return term(chars, rows[f"structure.{relation}"], False)
    if relation in ("==", "adj") or len(_words(chars)) > 1:
        # == is a complete field already, so anchors add nothing there
        return term(chars, rows["structure.phrase"], relation != "==")
    return term(chars, rows["structure.word"], True)


_RPN_OPS: dict[str, Operator] = {"and": "and", "or": "or", "not": "and-not"}
_PROX_RELATIONS = {"<": 1, "<=": 2, "=": 3, ">=": 4, ">": 5, "<>": 6}
_PROX_UNITS = {"word": 2, "sentence": 3, "paragraph": 4, "element": 8}


def _proximity(modifiers: tuple[Modifier, ...]) -> ProximityOperator:
    """CQL ``prox/distance<=3/unit=word/ordered`` as YAZ's cql2rpn reads it.

    Defaults: distance <= 1 word (0 for the other units), unordered.
    """
    distance: int | None = None
    relation, unit, ordered = 2, 2, False
    for mod in modifiers:
        name = mod.name.lower().removeprefix("cql.")
        value = mod.value or ""
        if name == "distance":
            if mod.comparison not in _PROX_RELATIONS:
                raise QueryError.sru(
                    40, f"unsupported proximity relation '{mod.comparison}'", value
                )
            if not value.isdigit():
                raise QueryError.sru(41, f"unsupported proximity distance '{value}'", value)
            relation, distance = _PROX_RELATIONS[mod.comparison], int(value)
        elif name in ("ordered", "unordered") and mod.value is None:
            ordered = name == "ordered"
        elif name == "unit" and mod.comparison == "=" and value.lower() in _PROX_UNITS:
            unit = _PROX_UNITS[value.lower()]
        elif name == "unit":
            raise QueryError.sru(42, f"unsupported proximity unit '{value}'", value)
        else:
            raise QueryError.sru(46, f"unsupported boolean modifier '/{mod.name}'", mod.name)
    if distance is None:
        distance = 1 if unit == 2 else 0
    return ProximityOperator(distance=distance, ordered=ordered, relation=relation, unit=unit)


def _rpn(node: Clause, scope: Scope, target_map: dict[str, str], target_id: str | None) -> RPNNode:
    scope = _enter(scope, node.prefixes)
    if isinstance(node, SearchClause):
        return _clause_rpn(node, scope, target_map, target_id)
    if node.op == "prox":
        return RPNOperator(
            "prox",
            _rpn(node.left, scope, target_map, target_id),
            _rpn(node.right, scope, target_map, target_id),
            _proximity(node.modifiers),
        )
    if node.modifiers:
        name = node.modifiers[0].name
        raise QueryError.sru(46, f"unsupported boolean modifier '/{name}'", name)
    return RPNOperator(
        _RPN_OPS[node.op],
        _rpn(node.left, scope, target_map, target_id),
        _rpn(node.right, scope, target_map, target_id),
    )


def to_rpn(
    node: Node, index_map: Mapping[str, str] | None = None, *, target_id: str | None = None
) -> RPNQuery:
    """The query as a type-1 RPN tree with Bib-1 attributes, for a Z39.50 target.

    ``index_map`` is the target's: CQL index -> attributes (``"1=4 4=1"``); an empty value
    says the target cannot search that index. A ``sortby`` clause is dropped (sorting is a
    separate Z39.50 service). Raises ``UnsupportedIndex`` for an index nobody maps and
    ``QueryError`` (with its SRU diagnostic) for what Bib-1 cannot express here: ``prox``
    modifiers other than distance / unit / (un)ordered,
    ``within``/``encloses``, unknown relation modifiers, a lone ``*``.

    >>> to_pqf(to_rpn(parse_query("dc.title=war* and dc.creator=tolstoy")))
    '@and @attr 1=4 @attr 2=3 @attr 4=2 @attr 5=1 war @attr 1=1003 @attr 2=3 @attr 4=2 tolstoy'
    """
    if isinstance(node, SortedQuery):
        node = node.query
    return RPNQuery(_rpn(node, {}, _lower_map(index_map), target_id))


# --- CQL -> CQL for SRU targets ---------------------------------------------------------


def _rename(index: str, scope: Scope, target_map: dict[str, str], target_id: str | None) -> str:
    for key in _index_keys(index, scope) or [index.lower()]:
        if key in target_map:
            if not target_map[key].strip():
                raise UnsupportedIndex(index, target_id)
            return target_map[key].strip()
    return index


def _sru(node: Clause, scope: Scope, target_map: dict[str, str], target_id: str | None) -> Clause:
    scope = _enter(scope, node.prefixes)
    if isinstance(node, SearchClause):
        return replace(node, index=_rename(node.index, scope, target_map, target_id))
    return replace(
        node,
        left=_sru(node.left, scope, target_map, target_id),
        right=_sru(node.right, scope, target_map, target_id),
    )


def to_sru_cql(
    node: Node,
    index_map: Mapping[str, str] | None = None,
    *,
    target_id: str | None = None,
    sort: bool = False,
) -> str:
    """The query as CQL text for an SRU target, indexes renamed by its ``index_map``.

    An index the map does not name is sent as it is; an empty value raises
    ``UnsupportedIndex``. A ``sortby`` clause is left out unless ``sort``: the federator
    orders the merged results itself, and a server without sort indexes configured refuses
    the whole search (zebrasrv: SRU diagnostic 89).

    >>> to_sru_cql(parse_query("dc.title=war sortby dc.date"), {"dc.title": "title"})
    'title=war'
    >>> to_sru_cql(parse_query("dc.title=war sortby dc.title"), {"dc.title": "title"}, sort=True)
    'title=war sortby title'
    """
    target_map = _lower_map(index_map)
    if isinstance(node, SortedQuery) and not sort:
        node = node.query
    if isinstance(node, SortedQuery):
        scope = _enter({}, node.query.prefixes)
        keys = tuple(
            SortKey(_rename(k.index, scope, target_map, target_id), k.modifiers) for k in node.keys
        )
        return to_cql(SortedQuery(_sru(node.query, {}, target_map, target_id), keys))
    return to_cql(_sru(node, {}, target_map, target_id))


# --- what a query needs from a target (index_map: auto) ---------------------------------


def query_indexes(node: Node) -> list[str]:
    """The indexes a query uses (sort keys included), each as lower-case ``set.name`` in our
    context set names, prefixes resolved; an index in an unknown set stays as written.

    >>> query_indexes(parse_query("title=war and bath.isbn=1 sortby dc.date"))
    ['dc.title', 'bath.isbn', 'dc.date']
    """
    found: list[str] = []

    def canonical(index: str, scope: Scope) -> str:
        keys = _index_keys(index, scope)
        return keys[-1] if keys else index.lower()

    def walk(clause: Clause, scope: Scope) -> None:
        scope = _enter(scope, clause.prefixes)
        if isinstance(clause, SearchClause):
            found.append(canonical(clause.index, scope))
        else:
            walk(clause.left, scope)
            walk(clause.right, scope)

    if isinstance(node, SortedQuery):
        walk(node.query, {})
        outer = _enter({}, node.query.prefixes)
        found.extend(canonical(k.index, outer) for k in node.keys)
    else:
        walk(node, {})
    return list(dict.fromkeys(found))


def context_set_name(uri: str) -> str | None:
    """Our short name for a CQL context set URI (``"dc"``), or None if we do not know it."""
    return _table().sets.get(uri.strip())


def use_attribute(index: str) -> int | None:
    """The Bib-1 use attribute (type 1) our table gives a lower-case index name, if any.

    >>> use_attribute("dc.creator")
    1003
    """
    attrs = _table().rows.get(f"index.{index.lower()}")
    return next((value for kind, value in attrs or () if kind == 1), None)


def same_use(index: str) -> list[str]:
    """Index names (lower case, table order) that our table maps to the same Bib-1 use
    attribute as ``index``: its synonyms (``dc.creator``: ``dc.author``, ``bath.author``...).
    """
    use = use_attribute(index)
    if use is None:
        return []
    names = [k.removeprefix("index.") for k in _table().rows if k.startswith("index.")]
    return [n for n in names if n != index.lower() and use_attribute(n) == use]


def explain(node: Node, target: Target) -> str:
    """What ``target`` would be sent: PQF for Z39.50, CQL for SRU.

    >>> from core import Target
    >>> explain(parse_query("tolstoy"), Target("z", "Z", "z3950", host="h"))
    '@attr 1=1016 @attr 2=3 @attr 4=2 tolstoy'
    """
    if target.protocol == "z3950":
        return to_pqf(to_rpn(node, target.index_map, target_id=target.id))
    return to_sru_cql(node, target.index_map, target_id=target.id)
