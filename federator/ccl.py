"""A small CCL (Common Command Language, ISO 8777) for catalogers, read into the CQL tree.

    ti=war and au=tolstoy          dc.title=war and dc.creator=tolstoy
    ti=war peace                   dc.title="war peace"          (a qualified phrase)
    ti,su=moscow                   dc.title=moscow or dc.subject=moscow
    au=tolst? and py=1860-1870     dc.creator=tolst* and (dc.date>=1860 and dc.date<=1870)
    tolstoy not su=film            tolstoy not dc.subject=film

The grammar, close to YAZ's CCL without its proximity operators::

    query      ::= element { [boolean] element }      boolean ::= and | or | not
    element    ::= '(' query ')' | qualifiers relation words | words
    qualifiers ::= name { ',' name }                   relation ::= = < > <= >= <>
    words      ::= ( word | "quoted words" )+

Booleans are case-insensitive, left-associative, all of one precedence; two elements side
by side are ANDed. The qualifiers are data (``core/data/ccl.csv``); a name that is not
there is taken as a CQL index (``dc.title``, ``bath.isbn``). In words ``?`` truncates and
``#`` stands for one character, as in YAZ's CCL; a quoted phrase is literal. Unqualified
words are ANDed, each on ``cql.serverChoice``, the way plain keyword input is.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Literal

from core import CQLSyntaxError
from protocols.cql import SERVER_CHOICE, Boolean, Clause, SearchClause

__all__ = ["CCLQualifier", "ccl_qualifiers", "parse_ccl", "qualifiers_used"]

RELATIONS = ("=", "<", ">", "<=", ">=", "<>")
_BOOLEANS: dict[str, Literal["and", "or", "not"]] = {"and": "and", "or": "or", "not": "not"}
_RANGE = re.compile(r"^(\d*)-(\d*)$")
_MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class CCLQualifier:
    """One row of ``core/data/ccl.csv``: a CCL qualifier and the CQL index it means."""

    name: str
    index: str
    range: bool = False


@cache
def ccl_qualifiers() -> dict[str, CCLQualifier]:
    """The qualifier table, by lower-case name."""
    text = resources.files("core").joinpath("data", "ccl.csv").read_text("utf-8")
    out: dict[str, CCLQualifier] = {}
    for row in csv.reader(text.splitlines()):
        if len(row) < 2 or row[0].startswith("#") or row[0] == "qualifier":
            continue
        name = row[0].strip().lower()
        out[name] = CCLQualifier(name, row[1].strip(), row[2].strip() == "range")
    return out


# --- lexer ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["word", "string", "sym", "eof"]
    text: str
    pos: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(_Token("sym", c, i))
            i += 1
        elif c in "=<>":
            two = text[i : i + 2]
            size = 2 if two in ("<=", ">=", "<>") else 1
            out.append(_Token("sym", text[i : i + size], i))
            i += size
        elif c == '"':
            start, i = i, i + 1
            chars: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                raise CQLSyntaxError(
                    f"CCL: unterminated quoted phrase starting at position {start}", start
                )
            out.append(_Token("string", "".join(chars), start))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '()=<>"':
                i += 1
            out.append(_Token("word", text[start:i], start))
    out.append(_Token("eof", "", n))
    return out


def qualifiers_used(text: str) -> list[str]:
    """Lower-case names written before a relation: ``ti,au=x`` -> ``["ti", "au"]``."""
    try:
        toks = _tokens(text)
    except CQLSyntaxError:
        try:  # an unterminated phrase: the CCL parser will say so, if this is CCL
            toks = _tokens(text + '"')
        except CQLSyntaxError:
            return []
    return [
        name.strip().lower()
        for tok, nxt in pairwise(toks)
        if tok.kind == "word" and nxt.kind == "sym" and nxt.text in RELATIONS
        for name in tok.text.split(",")
    ]


# --- terms ------------------------------------------------------------------------------


def _cql_term(tok: _Token) -> str:
    """CCL text as a CQL term: ``?`` -> ``*`` and ``#`` -> ``?`` outside quotes, CQL's own
    masking characters escaped so they stay literal."""
    out = []
    for c in tok.text:
        if c in '\\*^"' or (c in "?#" and tok.kind == "string"):
            out.append("\\" + c)
        elif c == "?" and tok.kind == "word":
            out.append("*")
        elif c == "#" and tok.kind == "word":
            out.append("?")
        else:
            out.append(c)
    return "".join(out)


# --- parser -----------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.toks[self.i]

    def peek(self) -> _Token:
        return self.toks[min(self.i + 1, len(self.toks) - 1)]

    def advance(self) -> _Token:
        tok = self.toks[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def error(self, expected: str) -> CQLSyntaxError:
        tok = self.tok
        found = "" if tok.kind == "eof" else f", found '{tok.text}'"
        return CQLSyntaxError(f"CCL: {expected} at position {tok.pos}{found}", tok.pos)

    def at_end(self) -> bool:
        return self.tok.kind == "eof"

    def at_sym(self, sym: str) -> bool:
        return self.tok.kind == "sym" and self.tok.text == sym

    def at_boolean(self) -> bool:
        return self.tok.kind == "word" and self.tok.text.lower() in _BOOLEANS

    def at_qualified(self) -> bool:
        nxt = self.peek()
        return self.tok.kind == "word" and nxt.kind == "sym" and nxt.text in RELATIONS

    def at_word(self) -> bool:
        """A term word: not a boolean, not the qualifier of the next element."""
        if self.tok.kind == "string":
            return True
        return self.tok.kind == "word" and not self.at_boolean() and not self.at_qualified()

    def query(self) -> Clause:
        left = self.element()
        while True:
            if self.at_boolean():
                op = _BOOLEANS[self.advance().text.lower()]
                if self.at_end() or self.at_sym(")"):
                    raise self.error(f"expected a search term after '{op}'")
                left = Boolean(op, left, self.element())
            elif self.tok.kind in ("word", "string") or self.at_sym("("):
                left = Boolean("and", left, self.element())
            else:
                return left

    def element(self) -> Clause:
        tok = self.tok
        if self.at_sym("("):
            self.advance()
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise CQLSyntaxError(
                    f"CCL: parentheses nested deeper than {_MAX_DEPTH} at position {tok.pos}",
                    tok.pos,
                )
            inner = self.query()
            if not self.at_sym(")"):
                at = self.tok.pos
                raise CQLSyntaxError(
                    f"CCL: expected ')' at position {at} to close '(' at position {tok.pos}", at
                )
            self.advance()
            self.depth -= 1
            return inner
        if self.at_qualified():
            return self.qualified()
        if not self.at_word():
            raise self.error("expected a search term")
        clause: Clause = SearchClause(SERVER_CHOICE, "=", _cql_term(self.advance()))
        while self.at_word():
            word = SearchClause(SERVER_CHOICE, "=", _cql_term(self.advance()))
            clause = Boolean("and", clause, word)
        return clause

    def qualified(self) -> Clause:
        names_tok = self.advance()
        relation = self.advance().text
        names = [n.strip() for n in names_tok.text.split(",")]
        if not all(names):
            raise CQLSyntaxError(
                f"CCL: empty qualifier in '{names_tok.text}' at position {names_tok.pos}",
                names_tok.pos,
            )
        if not self.at_word():
            raise self.error(f"expected a search term after '{names_tok.text}{relation}'")
        words = [self.advance()]
        while self.at_word():
            words.append(self.advance())
        table = ccl_qualifiers()
        result: Clause | None = None
        for name in names:
            qualifier = table.get(name.lower())
            index = qualifier.index if qualifier else name
            ranged = qualifier is not None and qualifier.range
            clause = _clause(index, relation, words, ranged)
            result = clause if result is None else Boolean("or", result, clause)
        assert result is not None
        return result


def _clause(index: str, relation: str, words: list[_Token], ranged: bool) -> Clause:
    single = words[0] if len(words) == 1 and words[0].kind == "word" else None
    bounds = _RANGE.match(single.text) if single and ranged and relation == "=" else None
    if bounds and (bounds.group(1) or bounds.group(2)):
        low, high = bounds.group(1), bounds.group(2)
        lower = SearchClause(index, ">=", low)
        upper = SearchClause(index, "<=", high)
        if low and high:
            return Boolean("and", lower, upper)
        return lower if low else upper
    return SearchClause(index, relation, " ".join(_cql_term(w) for w in words))


def parse_ccl(text: str) -> Clause:
    """Parse CCL into the CQL tree; ``CQLSyntaxError`` (SRU diagnostic 10) names the place.

    >>> from protocols.cql import to_cql
    >>> to_cql(parse_ccl("ti=war peace and au=tolst?"))
    'dc.title="war peace" and dc.creator=tolst*'
    """
    parser = _Parser(text)
    if parser.at_end():
        raise CQLSyntaxError("CCL: empty query", 0)
    node = parser.query()
    if not parser.at_end():
        raise parser.error("expected a boolean operator or end of query")
    return node
