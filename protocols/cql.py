"""CQL 1.2 (Contextual Query Language): parser, abstract syntax tree, CQL and XCQL output.

The grammar, from the CQL 1.2 specification (LoC, "CQL: the Contextual Query Language"):

    sortedQuery       ::= prefixAssignment sortedQuery | scopedClause ['sortby' sortSpec]
    cqlQuery          ::= prefixAssignment cqlQuery | scopedClause
    prefixAssignment  ::= '>' prefix '=' uri | '>' uri
    scopedClause      ::= scopedClause booleanGroup searchClause | searchClause
    booleanGroup      ::= boolean [modifierList]
    boolean           ::= 'and' | 'or' | 'not' | 'prox'
    searchClause      ::= '(' cqlQuery ')' | index relation searchTerm | searchTerm
    relation          ::= comparitor [modifierList]
    comparitor        ::= comparitorSymbol | namedComparitor
    comparitorSymbol  ::= '=' | '>' | '<' | '>=' | '<=' | '<>' | '=='
    namedComparitor   ::= identifier
    modifierList      ::= modifierList modifier | modifier
    modifier          ::= '/' modifierName [comparitorSymbol modifierValue]
    prefix, uri, modifierName, modifierValue, searchTerm, index ::= term
    term              ::= identifier | 'and' | 'or' | 'not' | 'prox' | 'sortby'
    identifier        ::= charString1 | charString2
    charString1       := characters other than whitespace ( ) = < > " /
    charString2       := a double-quoted string; backslash escapes the next character
    sortSpec          ::= sortSpec singleSpec | singleSpec
    singleSpec        ::= index [modifierList]

Booleans are case-insensitive and left-associative, all with the same precedence. A bare
term becomes ``cql.serverChoice = term``, exactly as YAZ and cql-java put it in XCQL.

Terms are kept as written, backslash escapes and masking characters (``*``, ``?``, ``^``)
included, so ``\\*`` (a literal star) stays distinct from ``*`` (a mask) until a
translator interprets them. Index, relation and modifier names keep their spelling; only
the boolean operators are lower-cased (they are keywords, not names).

>>> parse('dc.title = "war and peace" and tolstoy')
Boolean(op='and', left=SearchClause(index='dc.title', relation='=', term='war and peace', \
modifiers=(), prefixes=()), right=SearchClause(index='cql.serverChoice', relation='=', \
term='tolstoy', modifiers=(), prefixes=()), modifiers=(), prefixes=())
>>> to_cql(parse('dc.title="war and peace" AND tolstoy'))
'dc.title="war and peace" and tolstoy'
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from core import CQLSyntaxError, Diagnostic

__all__ = [
    "BOOLEANS",
    "COMPARITOR_SYMBOLS",
    "SERVER_CHOICE",
    "Boolean",
    "Clause",
    "Modifier",
    "Node",
    "Prefix",
    "SearchClause",
    "SortKey",
    "SortedQuery",
    "parse",
    "to_cql",
    "to_xcql",
]

SERVER_CHOICE = "cql.serverChoice"
BOOLEANS = ("and", "or", "not", "prox")
COMPARITOR_SYMBOLS = ("=", "==", "<", ">", "<=", ">=", "<>")

#: Beyond these a query is refused (SRU diagnostic 38) rather than risking deep recursion.
MAX_BOOLEANS = 256
MAX_NESTING = 64

BooleanOp = Literal["and", "or", "not", "prox"]

_SPECIAL = set('()=<>"/')
_BOOLEAN_OPS: dict[str, BooleanOp] = {"and": "and", "or": "or", "not": "not", "prox": "prox"}
_KEYWORDS = {*BOOLEANS, "sortby"}


# modifier ::= '/' modifierName [comparitorSymbol modifierValue]
@dataclass(frozen=True, slots=True)
class Modifier:
    """A relation, boolean or sort modifier: ``/relevant`` or ``/distance<=3``."""

    name: str
    comparison: str | None = None
    value: str | None = None


# prefixAssignment ::= '>' prefix '=' uri | '>' uri
@dataclass(frozen=True, slots=True)
class Prefix:
    """A context set assignment: ``>dc="info:srw/..."``; ``name`` None sets the default set."""

    uri: str
    name: str | None = None


# searchClause ::= index relation searchTerm | searchTerm
@dataclass(frozen=True, slots=True)
class SearchClause:
    """``index relation term``: ``dc.title =/relevant war``; a bare term gets serverChoice.

    ``prefixes`` are the context set assignments scoped over this clause, outermost first.
    """

    index: str
    relation: str
    term: str
    modifiers: tuple[Modifier, ...] = ()
    prefixes: tuple[Prefix, ...] = ()


# scopedClause ::= scopedClause booleanGroup searchClause
@dataclass(frozen=True, slots=True)
class Boolean:
    """``left op right``; ``op`` is lower case; ``not`` means and-not."""

    op: BooleanOp
    left: Clause
    right: Clause
    modifiers: tuple[Modifier, ...] = ()
    prefixes: tuple[Prefix, ...] = ()


# singleSpec ::= index [modifierList]
@dataclass(frozen=True, slots=True)
class SortKey:
    """One sort key: ``dc.date/sort.descending``."""

    index: str
    modifiers: tuple[Modifier, ...] = ()


# sortedQuery ::= scopedClause 'sortby' sortSpec
@dataclass(frozen=True, slots=True)
class SortedQuery:
    """A query with a ``sortby`` clause; it only ever stands at the root of a tree."""

    query: Clause
    keys: tuple[SortKey, ...]


Clause = SearchClause | Boolean
Node = SearchClause | Boolean | SortedQuery


# --- lexer ------------------------------------------------------------------------------

TokenKind = Literal["word", "string", "sym", "eof"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: TokenKind
    text: str
    pos: int

    def describe(self) -> str:
        if self.kind == "eof":
            return "end of query"
        if self.kind == "string":
            return f"'\"{self.text}\"'"
        return f"'{self.text}'"


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()/":
            out.append(_Token("sym", c, i))
            i += 1
        elif c in "=<>":
            two = text[i : i + 2]
            if two in ("==", "<=", ">=", "<>"):
                out.append(_Token("sym", two, i))
                i += 2
            else:
                out.append(_Token("sym", c, i))
                i += 1
        elif c == '"':
            start, i = i, i + 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise CQLSyntaxError(
                        f"unterminated quoted string starting at position {start}", start
                    )
                if text[i] == "\\" and i + 1 < n:
                    chars.append(text[i : i + 2])
                    i += 2
                elif text[i] == '"':
                    i += 1
                    break
                else:
                    chars.append(text[i])
                    i += 1
            out.append(_Token("string", "".join(chars), start))
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            out.append(_Token("word", text[start:i], start))
    out.append(_Token("eof", "", n))
    return out


# --- parser -----------------------------------------------------------------------------


def _with_prefixes(node: Clause, prefixes: list[Prefix]) -> Clause:
    if not prefixes:
        return node
    return replace(node, prefixes=(*prefixes, *node.prefixes))


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0
        self.booleans = 0

    @property
    def tok(self) -> _Token:
        return self.toks[self.i]

    def advance(self) -> _Token:
        tok = self.toks[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def is_term(self) -> bool:
        return self.tok.kind in ("word", "string")

    def is_sym(self, *syms: str) -> bool:
        return self.tok.kind == "sym" and self.tok.text in syms

    def at_end(self) -> bool:
        return self.tok.kind == "eof"

    def at_relation(self) -> bool:
        tok = self.tok
        if tok.kind == "sym":
            return tok.text in COMPARITOR_SYMBOLS
        # a word that is not a keyword after a term can only be a named comparitor
        return tok.kind == "word" and tok.text.lower() not in _KEYWORDS

    def is_keyword(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.lower() in words

    def error(self, expected: str) -> CQLSyntaxError:
        tok = self.tok
        found = "" if tok.kind == "eof" else f", found {tok.describe()}"
        return CQLSyntaxError(f"{expected} at position {tok.pos}{found}", tok.pos)

    def term(self, expected: str) -> str:
        if not self.is_term():
            raise self.error(expected)
        return self.advance().text

    def sorted_query(self) -> Node:
        if self.at_end():
            raise CQLSyntaxError("empty query: expected a search term at position 0", 0)
        prefixes = self.prefix_assignments()
        query = _with_prefixes(self.scoped_clause(), prefixes)
        if self.is_keyword("sortby"):
            self.advance()
            keys = [self.sort_key("expected a sort index after 'sortby'")]
            while self.is_term():
                keys.append(self.sort_key("expected a sort index"))
            if not self.at_end():
                raise self.error("expected a sort index or end of query")
            return SortedQuery(query, tuple(keys))
        if not self.at_end():
            if self.is_sym(")"):
                pos = self.tok.pos
                raise CQLSyntaxError(f"unbalanced ')' at position {pos}", pos)
            raise self.error("expected a boolean operator or end of query")
        return query

    def sort_key(self, expected: str) -> SortKey:
        if not self.is_term():
            raise self.error(expected)
        index = self.advance().text
        return SortKey(index, self.modifier_list())

    def cql_query(self) -> Clause:
        prefixes = self.prefix_assignments()
        return _with_prefixes(self.scoped_clause(), prefixes)

    def prefix_assignments(self) -> list[Prefix]:
        prefixes: list[Prefix] = []
        while self.is_sym(">"):
            self.advance()
            first = self.term("expected a prefix or URI after '>'")
            if self.is_sym("="):
                self.advance()
                uri = self.term(f"expected a URI after '>{first}='")
                prefixes.append(Prefix(uri, first))
            else:
                prefixes.append(Prefix(first))
        return prefixes

    def scoped_clause(self) -> Clause:
        left = self.search_clause(None)
        while self.is_keyword(*BOOLEANS):
            tok = self.advance()
            self.booleans += 1
            if self.booleans > MAX_BOOLEANS:
                err = CQLSyntaxError(
                    f"too many boolean operators (more than {MAX_BOOLEANS}) at position {tok.pos}",
                    tok.pos,
                )
                err.diagnostic = Diagnostic.of("sru", 38, str(MAX_BOOLEANS))
                raise err
            modifiers = self.modifier_list()
            right = self.search_clause(tok)
            left = Boolean(_BOOLEAN_OPS[tok.text.lower()], left, right, modifiers)
        return left

    def search_clause(self, after: _Token | None) -> Clause:
        if self.is_sym("("):
            paren = self.advance()
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise CQLSyntaxError(
                    f"parentheses nested deeper than {MAX_NESTING} at position {paren.pos}",
                    paren.pos,
                )
            inner = self.cql_query()
            if not self.is_sym(")"):
                tok = self.tok
                found = "" if tok.kind == "eof" else f", found {tok.describe()}"
                raise CQLSyntaxError(
                    f"expected ')' at position {tok.pos} to close '(' at position "
                    f"{paren.pos}{found}",
                    tok.pos,
                )
            self.advance()
            self.depth -= 1
            return inner
        if not self.is_term():
            if self.is_sym(">"):
                pos = self.tok.pos
                raise CQLSyntaxError(
                    f"a prefix assignment '>' at position {pos} may only start the query "
                    "or a parenthesized subquery",
                    pos,
                )
            if after is not None:
                raise self.error(f"expected a search term after '{after.text}'")
            raise self.error("expected a search term")
        first = self.advance()
        if not self.at_relation():
            return SearchClause(SERVER_CHOICE, "=", first.text)
        relation = self.advance()
        modifiers = self.modifier_list()
        if not self.is_term():
            if (
                after is not None
                and first.kind == "word"
                and first.text.lower() in BOOLEANS
                and relation.kind == "word"
            ):
                # "war and or peace": a keyword taken as an index is far likelier a typo
                raise CQLSyntaxError(
                    f"expected a search term after '{after.text}' at position {first.pos}, "
                    f"found '{first.text}'",
                    first.pos,
                )
            raise self.error(f"expected a search term after relation '{relation.text}'")
        term = self.advance().text
        return SearchClause(first.text, relation.text, term, modifiers)

    def modifier_list(self) -> tuple[Modifier, ...]:
        mods: list[Modifier] = []
        while self.is_sym("/"):
            self.advance()
            name = self.term("expected a modifier name after '/'")
            if self.tok.kind == "sym" and self.tok.text in COMPARITOR_SYMBOLS:
                comp = self.advance()
                value = self.term(f"expected a modifier value after '/{name}{comp.text}'")
                mods.append(Modifier(name, comp.text, value))
            else:
                mods.append(Modifier(name))
        return tuple(mods)


def parse(text: str) -> Node:
    """Parse a CQL 1.2 query; raise ``CQLSyntaxError`` naming what was wrong and where.

    >>> parse("dc.title any war")
    SearchClause(index='dc.title', relation='any', term='war', modifiers=(), prefixes=())
    >>> parse("war and")
    Traceback (most recent call last):
    ...
    core.errors.CQLSyntaxError: expected a search term after 'and' at position 7
    """
    return _Parser(text).sorted_query()


# --- CQL output -------------------------------------------------------------------------


def _escape_quotes(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 < len(text):
                out.append(text[i : i + 2])
                i += 2
                continue
            out.append("\\\\")  # a lone trailing backslash would eat the closing quote
        elif c == '"':
            out.append('\\"')
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _quote(text: str) -> str:
    if (
        text
        and not any(c.isspace() or c in _SPECIAL for c in text)
        and text.lower() not in _KEYWORDS
    ):
        return text
    return '"' + _escape_quotes(text) + '"'


def _modifiers(mods: tuple[Modifier, ...]) -> str:
    out = []
    for m in mods:
        if m.comparison is None or m.value is None:
            out.append(f"/{_quote(m.name)}")
        else:
            out.append(f"/{_quote(m.name)}{m.comparison}{_quote(m.value)}")
    return "".join(out)


def _prefixes(prefixes: tuple[Prefix, ...]) -> str:
    out = []
    for p in prefixes:
        if p.name is None:
            out.append(f">{_quote(p.uri)} ")
        else:
            out.append(f">{_quote(p.name)}={_quote(p.uri)} ")
    return "".join(out)


def _clause(node: Clause) -> str:
    if isinstance(node, Boolean):
        left = _clause(node.left)
        if node.left.prefixes:
            left = f"({left})"
        right = _clause(node.right)
        if isinstance(node.right, Boolean) or node.right.prefixes:
            right = f"({right})"
        body = f"{left} {node.op}{_modifiers(node.modifiers)} {right}"
    elif node.index == SERVER_CHOICE and node.relation == "=" and not node.modifiers:
        body = _quote(node.term)
    else:
        rel = node.relation
        mods = _modifiers(node.modifiers)
        if rel in COMPARITOR_SYMBOLS:
            sep = " " if mods else ""
            body = f"{_quote(node.index)}{rel}{mods}{sep}{_quote(node.term)}"
        else:
            body = f"{_quote(node.index)} {rel}{mods} {_quote(node.term)}"
    return _prefixes(node.prefixes) + body


def to_cql(node: Node) -> str:
    """CQL text for a tree, quoting terms where needed; ``parse(to_cql(n)) == n``.

    >>> to_cql(Boolean("or", SearchClause("dc.title", "=", "a b"), SearchClause(SERVER_CHOICE, "=", "c")))
    'dc.title="a b" or c'
    """  # noqa: E501
    if isinstance(node, SortedQuery):
        keys = " ".join(_quote(k.index) + _modifiers(k.modifiers) for k in node.keys)
        return f"{_clause(node.query)} sortby {keys}"
    return _clause(node)


# --- XCQL output ------------------------------------------------------------------------


def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xmods(mods: tuple[Modifier, ...], pad: str) -> list[str]:
    if not mods:
        return []
    lines = [f"{pad}<modifiers>"]
    for m in mods:
        lines.append(f"{pad}  <modifier>")
        lines.append(f"{pad}    <type>{_x(m.name)}</type>")
        if m.comparison is not None and m.value is not None:
            lines.append(f"{pad}    <comparison>{_x(m.comparison)}</comparison>")
            lines.append(f"{pad}    <value>{_x(m.value)}</value>")
        lines.append(f"{pad}  </modifier>")
    lines.append(f"{pad}</modifiers>")
    return lines


def _xclause(node: Clause, pad: str, sort: tuple[SortKey, ...] = ()) -> list[str]:
    tag = "triple" if isinstance(node, Boolean) else "searchClause"
    lines = [f"{pad}<{tag}>"]
    if node.prefixes:
        lines.append(f"{pad}  <prefixes>")
        for p in node.prefixes:
            lines.append(f"{pad}    <prefix>")
            if p.name is not None:
                lines.append(f"{pad}      <name>{_x(p.name)}</name>")
            lines.append(f"{pad}      <identifier>{_x(p.uri)}</identifier>")
            lines.append(f"{pad}    </prefix>")
        lines.append(f"{pad}  </prefixes>")
    if isinstance(node, Boolean):
        lines.append(f"{pad}  <boolean>")
        lines.append(f"{pad}    <value>{node.op}</value>")
        lines += _xmods(node.modifiers, pad + "    ")
        lines.append(f"{pad}  </boolean>")
        lines.append(f"{pad}  <leftOperand>")
        lines += _xclause(node.left, pad + "    ")
        lines.append(f"{pad}  </leftOperand>")
        lines.append(f"{pad}  <rightOperand>")
        lines += _xclause(node.right, pad + "    ")
        lines.append(f"{pad}  </rightOperand>")
    else:
        lines.append(f"{pad}  <index>{_x(node.index)}</index>")
        lines.append(f"{pad}  <relation>")
        lines.append(f"{pad}    <value>{_x(node.relation)}</value>")
        lines += _xmods(node.modifiers, pad + "    ")
        lines.append(f"{pad}  </relation>")
        lines.append(f"{pad}  <term>{_x(node.term)}</term>")
    if sort:
        lines.append(f"{pad}  <sortKeys>")
        for key in sort:
            lines.append(f"{pad}    <key>")
            lines.append(f"{pad}      <index>{_x(key.index)}</index>")
            lines += _xmods(key.modifiers, pad + "      ")
            lines.append(f"{pad}    </key>")
        lines.append(f"{pad}  </sortKeys>")
    lines.append(f"{pad}</{tag}>")
    return lines


def to_xcql(node: Node) -> str:
    """XCQL (the XML form of CQL) for a tree; sort keys go inside the top element, as YAZ does.

    >>> print(to_xcql(parse("war")))
    <searchClause>
      <index>cql.serverChoice</index>
      <relation>
        <value>=</value>
      </relation>
      <term>war</term>
    </searchClause>
    """
    if isinstance(node, SortedQuery):
        return "\n".join(_xclause(node.query, "", node.keys))
    return "\n".join(_xclause(node, ""))
