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

__all__ = ["BIB1", "AttributesPlusTerm", "RPNNode", "RPNOperator", "RPNQuery", "to_pqf"]

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
    if term and not any(c in term for c in ' "\\@{}'):
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
