"""Type-1 (RPN) queries: the tree a Z39.50 SearchRequest carries.

    RPNQuery ::= SEQUENCE { attributeSet AttributeSetId, rpn RPNStructure }
    RPNStructure ::= CHOICE { op [0] Operand, rpnRpnOp [1] IMPLICIT RpnRpnOp }
    Operand ::= CHOICE { attrTerm AttributesPlusTerm, resultSet ResultSetId, ... }
    RpnRpnOp ::= SEQUENCE { rpn1 RPNStructure, rpn2 RPNStructure, op Operator }
    Operator ::= [46] CHOICE { and [0] NULL, or [1] NULL, and-not [2] NULL, prox [3] ... }

``to_pqf`` prints the tree in YAZ's prefix query format, so a query can be shown to a
cataloger and compared with what ``yaz-client`` sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.errors import QueryError

__all__ = [
    "BIB1",
    "AttributesPlusTerm",
    "RPNNode",
    "RPNOperator",
    "RPNQuery",
    "parse_pqf",
    "to_pqf",
]

BIB1 = "1.2.840.10003.3.1"

Operator = Literal["and", "or", "and-not"]


@dataclass(frozen=True, slots=True)
class AttributesPlusTerm:
    """A term with its attributes, ``((1, 4), (5, 1))`` meaning use=title, right truncation."""

    attributes: tuple[tuple[int, int], ...]
    term: str


@dataclass(frozen=True, slots=True)
class RPNOperator:
    """A boolean node: ``op`` applied to ``left`` and ``right``."""

    op: Operator
    left: RPNNode
    right: RPNNode


RPNNode = AttributesPlusTerm | RPNOperator


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


def _pqf_node(node: RPNNode) -> str:
    if isinstance(node, RPNOperator):
        return f"{_PQF_OPS[node.op]} {_pqf_node(node.left)} {_pqf_node(node.right)}"
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

    def attribute(self, attribute_set: str) -> tuple[int, int]:
        token, quoted = self.take("an attribute")
        if not quoted and "=" not in token:
            if _pqf_attrset(token) != attribute_set:
                raise QueryError(f"PQF: per-attribute set {token!r} is not supported")
            token, quoted = self.take("an attribute")
        kind, _, value = token.partition("=")
        if quoted or not kind.isdigit() or not value.isdigit():
            raise QueryError(f"PQF: expected TYPE=VALUE with numbers, got {token!r}")
        return int(kind), int(value)

    def node(self, attribute_set: str) -> RPNNode:
        attributes: list[tuple[int, int]] = []
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
            else:
                raise QueryError(f"PQF: {token!r} is not supported here in {self.text!r}")


def parse_pqf(text: str) -> RPNQuery:
    """Parse YAZ's prefix query format (the subset ``to_pqf`` writes) into an ``RPNQuery``.

    Supports ``@attrset``, ``@attr TYPE=VALUE``, ``@and``/``@or``/``@not`` and quoted terms;
    anything else raises ``core.QueryError``.

    >>> parse_pqf("@attr 1=4 computer").root
    AttributesPlusTerm(attributes=((1, 4),), term='computer')
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
