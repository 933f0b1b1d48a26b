"""Type-1 (RPN) queries: the tree a Z39.50 SearchRequest carries.

    RPNQuery ::= SEQUENCE { attributeSet AttributeSetId, rpn RPNStructure }
    RPNStructure ::= CHOICE { op [0] Operand, rpnRpnOp [1] IMPLICIT RpnRpnOp }
    Operand ::= CHOICE { attrTerm AttributesPlusTerm, resultSet ResultSetId, ... }
    RpnRpnOp ::= SEQUENCE { rpn1 RPNStructure, rpn2 RPNStructure, op Operator }
    Operator ::= [46] CHOICE { and [0] NULL, or [1] NULL, and-not [2] NULL,
                               prox [3] IMPLICIT ProximityOperator }

An attribute value is a number (``1=4``) or a string (``1=_ALLRECORDS``, sent as a
``complex`` value holding one string, as YAZ does).

``to_pqf`` prints the tree in YAZ's prefix query format, so a query can be shown to a
cataloger and compared with what ``yaz-client`` sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from core.errors import QueryError

__all__ = [
    "BIB1",
    "AttributeValue",
    "AttributesPlusTerm",
    "Operator",
    "ProximityOperator",
    "ProximityRelation",
    "ProximityUnit",
    "RPNNode",
    "RPNOperator",
    "RPNQuery",
    "ResultSetOperand",
    "parse_attribute_list",
    "parse_pqf",
    "to_pqf",
]

BIB1 = "1.2.840.10003.3.1"

Operator = Literal["and", "or", "and-not", "prox"]

#: A numeric attribute value, or a string one (``complex`` with one string in the standard).
AttributeValue = int | str


@dataclass(frozen=True, slots=True)
class AttributesPlusTerm:
    """A term with its attributes, ``((1, 4), (5, 1))`` meaning use=title, right truncation."""

    attributes: tuple[tuple[int, AttributeValue], ...]
    term: str


@dataclass(frozen=True, slots=True)
class ResultSetOperand:
    """``resultSet ResultSetId``: the records of an earlier named result set (PQF ``@set``)."""

    name: str


class ProximityRelation(IntEnum):
    """relationType [4] IMPLICIT INTEGER of ProximityOperator."""

    LESS_THAN = 1
    LESS_THAN_OR_EQUAL = 2
    EQUAL = 3
    GREATER_THAN_OR_EQUAL = 4
    GREATER_THAN = 5
    NOT_EQUAL = 6


class ProximityUnit(IntEnum):
    """KnownProximityUnit ::= INTEGER."""

    CHARACTER = 1
    WORD = 2
    SENTENCE = 3
    PARAGRAPH = 4
    SECTION = 5
    CHAPTER = 6
    DOCUMENT = 7
    ELEMENT = 8
    SUBELEMENT = 9
    ELEMENT_TYPE = 10
    BYTE = 11


# ProximityOperator ::= SEQUENCE {
#     exclusion         [1] IMPLICIT BOOLEAN OPTIONAL,
#     distance          [2] IMPLICIT INTEGER,
#     ordered           [3] IMPLICIT BOOLEAN,
#     relationType      [4] IMPLICIT INTEGER { lessThan (1), ..., notEqual (6) },
#     proximityUnitCode [5] CHOICE { known [1] IMPLICIT KnownProximityUnit,
#                                    private [2] IMPLICIT INTEGER } }
@dataclass(frozen=True, slots=True)
class ProximityOperator:
    """Both operands within ``distance`` ``unit``s of each other (``relation`` says how).

    The default is YAZ's and CQL's ``prox``: at most one word apart, in any order.
    """

    distance: int = 1
    ordered: bool = False
    relation: int = ProximityRelation.LESS_THAN_OR_EQUAL
    unit: int = ProximityUnit.WORD
    exclusion: bool | None = False
    private_unit: bool = False


@dataclass(frozen=True, slots=True)
class RPNOperator:
    """A boolean node: ``op`` applied to ``left`` and ``right``.

    ``proximity`` is set exactly when ``op`` is ``prox``.
    """

    op: Operator
    left: RPNNode
    right: RPNNode
    proximity: ProximityOperator | None = None

    def __post_init__(self) -> None:
        if (self.op == "prox") != (self.proximity is not None):
            raise ValueError("a prox operator needs a ProximityOperator, and only it has one")


RPNNode = AttributesPlusTerm | RPNOperator | ResultSetOperand


@dataclass(frozen=True, slots=True)
class RPNQuery:
    """A whole type-1 query with its default attribute set (Bib-1 unless told otherwise)."""

    root: RPNNode
    attribute_set: str = BIB1


_PQF_OPS = {"and": "@and", "or": "@or", "and-not": "@not"}


def _pqf_term(term: str) -> str:
    if term and not any(c in ' "\\@{}' or c.isspace() for c in term):
        return term
    return '"' + term.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pqf_prox(prox: ProximityOperator) -> str:
    exclusion = "1" if prox.exclusion else "0"
    which = "p" if prox.private_unit else "k"
    return (
        f"@prox {exclusion} {prox.distance} {int(prox.ordered)} {int(prox.relation)}"
        f" {which} {int(prox.unit)}"
    )


def _pqf_node(node: RPNNode) -> str:
    if isinstance(node, RPNOperator):
        op = _pqf_prox(node.proximity) if node.proximity is not None else _PQF_OPS[node.op]
        return f"{op} {_pqf_node(node.left)} {_pqf_node(node.right)}"
    if isinstance(node, ResultSetOperand):
        return f"@set {_pqf_term(node.name)}"
    attrs = "".join(f"@attr {t}={v} " for t, v in node.attributes)
    return attrs + _pqf_term(node.term)


def to_pqf(query: RPNQuery) -> str:
    """YAZ PQF for the query, e.g. ``@and @attr 1=4 war @attr 1=1003 tolstoy``."""
    prefix = "" if query.attribute_set == BIB1 else f"@attrset {query.attribute_set} "
    return prefix + _pqf_node(query.root)


_PQF_OPERATORS: dict[str, Operator] = {"@and": "and", "@or": "or", "@not": "and-not"}
_PQF_ATTRSETS = {"bib-1": BIB1, "bib1": BIB1}


def _pqf_tokens(text: str) -> list[tuple[str, bool]]:
    """Split PQF into (token, was_quoted) pairs; quoted tokens are always terms."""
    tokens: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text[i] == '"':
            out: list[str] = []
            i += 1
            while True:
                if i >= n:
                    raise QueryError(f"PQF: unterminated quoted term in {text!r}")
                if text[i] == "\\" and i + 1 < n:
                    out.append(text[i + 1])
                    i += 2
                elif text[i] == '"':
                    i += 1
                    break
                else:
                    out.append(text[i])
                    i += 1
            tokens.append(("".join(out), True))
        else:
            j = i
            while j < n and not text[j].isspace():
                j += 1
            tokens.append((text[i:j], False))
            i = j
    return tokens


def _pqf_attrset(token: str) -> str:
    name = _PQF_ATTRSETS.get(token.lower())
    if name:
        return name
    if "." in token and all(part.isdigit() for part in token.split(".")):
        return token
    raise QueryError(f"PQF: unknown attribute set {token!r}")


def _attribute(token: str) -> tuple[int, AttributeValue]:
    kind, eq, value = token.partition("=")
    if not eq or not kind.isdigit() or not value:
        raise QueryError(f"PQF: expected TYPE=VALUE, got {token!r}")
    if value.isdigit():
        return int(kind), int(value)
    return int(kind), value


def parse_attribute_list(spec: str) -> tuple[tuple[int, AttributeValue], ...]:
    """``"1=4 4=1"`` -> ``((1, 4), (4, 1))``; what ``Connector.scan`` takes as an index.

    >>> parse_attribute_list("1=1003 5=1")
    ((1, 1003), (5, 1))
    """
    return tuple(_attribute(pair) for pair in spec.split())


_PROX_RELATIONS = {"<": 1, "<=": 2, "=": 3, ">=": 4, ">": 5, "!=": 6, "<>": 6}
_PROX_UNITS = {unit.name.lower().replace("_", ""): unit.value for unit in ProximityUnit}


class _PQFParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _pqf_tokens(text)
        self.pos = 0

    def take(self, what: str) -> tuple[str, bool]:
        if self.pos >= len(self.tokens):
            raise QueryError(f"PQF: expected {what} at the end of {self.text!r}")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def number(self, what: str, table: dict[str, int] | None = None) -> int:
        token, quoted = self.take(what)
        if not quoted and token.isdigit():
            return int(token)
        if not quoted and table is not None and token.lower() in table:
            return table[token.lower()]
        raise QueryError(f"PQF: expected {what}, got {token!r} in {self.text!r}")

    def attribute(self, attribute_set: str) -> tuple[int, AttributeValue]:
        token, quoted = self.take("an attribute")
        if not quoted and "=" not in token:
            if _pqf_attrset(token) != attribute_set:
                raise QueryError(f"PQF: per-attribute set {token!r} is not supported")
            token, quoted = self.take("an attribute")
        if quoted:
            raise QueryError(f"PQF: expected TYPE=VALUE, got {token!r}")
        return _attribute(token)

    def proximity(self) -> ProximityOperator:
        # @prox exclusion distance ordered relation which-code unit-code (YAZ's order)
        exclusion = self.number("a prox exclusion flag (0 or 1)")
        distance = self.number("a prox distance")
        ordered = self.number("a prox ordered flag (0 or 1)")
        relation = self.number("a prox relation (1-6)", _PROX_RELATIONS)
        which, quoted = self.take("a prox unit kind (k or p)")
        if quoted or which.lower() not in ("k", "known", "p", "private"):
            raise QueryError(f"PQF: expected a prox unit kind k or p, got {which!r}")
        unit = self.number("a prox unit", _PROX_UNITS)
        if exclusion > 1 or ordered > 1 or not 1 <= relation <= 6:
            raise QueryError(f"PQF: bad @prox arguments in {self.text!r}")
        return ProximityOperator(
            distance=distance,
            ordered=bool(ordered),
            relation=relation,
            unit=unit,
            exclusion=bool(exclusion),
            private_unit=which.lower().startswith("p"),
        )

    def node(self, attribute_set: str) -> RPNNode:
        attributes: list[tuple[int, AttributeValue]] = []
        while True:
            token, quoted = self.take("a term or an operator")
            if quoted or not token.startswith("@"):
                return AttributesPlusTerm(tuple(attributes), token)
            if token == "@attr":
                attributes.append(self.attribute(attribute_set))
            elif token in _PQF_OPERATORS and not attributes:
                left = self.node(attribute_set)
                right = self.node(attribute_set)
                return RPNOperator(_PQF_OPERATORS[token], left, right)
            elif token == "@prox" and not attributes:
                prox = self.proximity()
                left = self.node(attribute_set)
                right = self.node(attribute_set)
                return RPNOperator("prox", left, right, prox)
            elif token == "@set" and not attributes:
                return ResultSetOperand(self.take("a result set name")[0])
            else:
                raise QueryError(f"PQF: {token!r} is not supported here in {self.text!r}")


def parse_pqf(text: str) -> RPNQuery:
    """Parse YAZ's prefix query format into an ``RPNQuery``.

    Supports ``@attrset``, ``@attr TYPE=VALUE`` (numeric or string values),
    ``@and``/``@or``/``@not``, ``@prox exclusion distance ordered relation k|p unit``,
    ``@set NAME`` and quoted terms; anything else raises ``core.QueryError``.

    >>> parse_pqf("@attr 1=4 computer").root
    AttributesPlusTerm(attributes=((1, 4),), term='computer')
    >>> to_pqf(parse_pqf("@prox 0 3 1 2 k 2 war peace"))
    '@prox 0 3 1 2 k 2 war peace'
    """
    parser = _PQFParser(text)
    attribute_set = BIB1
    if parser.tokens[:1] == [("@attrset", False)]:
        parser.pos = 1
        attribute_set = _pqf_attrset(parser.take("an attribute set")[0])
    root = parser.node(attribute_set)
    if parser.pos != len(parser.tokens):
        raise QueryError(f"PQF: unexpected {parser.tokens[parser.pos][0]!r} after the query")
    return RPNQuery(root, attribute_set)
