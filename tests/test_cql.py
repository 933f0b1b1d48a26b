"""protocols.cql: the CQL 1.2 grammar, error messages, CQL and XCQL output, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from core import CQLSyntaxError
from protocols.cql import (
    BOOLEANS,
    COMPARITOR_SYMBOLS,
    MAX_BOOLEANS,
    MAX_NESTING,
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
    to_xcql,
)


def sc(term: str, index: str = SERVER_CHOICE, relation: str = "=", *mods: Modifier) -> SearchClause:
    return SearchClause(index, relation, term, tuple(mods))


# --- the grammar, production by production ----------------------------------------------

PARSED: list[tuple[str, Node]] = [
    # searchClause ::= searchTerm  -> serverChoice, "=" (as YAZ and cql-java write XCQL)
    ("war", sc("war")),
    ('"war and peace"', sc("war and peace")),
    ('""', sc("")),
    # searchClause ::= index relation searchTerm
    ("dc.title=war", sc("war", "dc.title")),
    ("dc.title = war", sc("war", "dc.title")),
    ('dc.title="war and peace"', sc("war and peace", "dc.title")),
    ('"dc.title"=war', sc("war", "dc.title")),
    *[(f"dc.date{rel}2000", sc("2000", "dc.date", rel)) for rel in COMPARITOR_SYMBOLS],
    # namedComparitor ::= identifier (any, all, adj, context-set relations, as written)
    ('dc.title any "war peace"', sc("war peace", "dc.title", "any")),
    ("dc.title ALL war", sc("war", "dc.title", "ALL")),
    ('dc.title adj "war and peace"', sc("war and peace", "dc.title", "adj")),
    ("dc.title cql.exact war", sc("war", "dc.title", "cql.exact")),
    ("dc.title exact war", sc("war", "dc.title", "exact")),
    # relation modifiers, in the order written
    ("dc.title =/relevant war", sc("war", "dc.title", "=", Modifier("relevant"))),
    (
        "dc.title any/relevant/cql.string war",
        sc("war", "dc.title", "any", Modifier("relevant"), Modifier("cql.string")),
    ),
    ("dc.date =/locale=fr 2000", sc("2000", "dc.date", "=", Modifier("locale", "=", "fr"))),
    # booleans: case-insensitive, lower-cased, left-associative, one precedence
    ("a and b", Boolean("and", sc("a"), sc("b"))),
    ("a AND b", Boolean("and", sc("a"), sc("b"))),
    ("a Or b", Boolean("or", sc("a"), sc("b"))),
    ("a NOT b", Boolean("not", sc("a"), sc("b"))),
    ("a or b and c", Boolean("and", Boolean("or", sc("a"), sc("b")), sc("c"))),
    ("a and b or c", Boolean("or", Boolean("and", sc("a"), sc("b")), sc("c"))),
    ("a and (b or c)", Boolean("and", sc("a"), Boolean("or", sc("b"), sc("c")))),
    ("((a))", sc("a")),
    (
        "a prox/unit=word/distance<=2 b",
        Boolean(
            "prox",
            sc("a"),
            sc("b"),
            (Modifier("unit", "=", "word"), Modifier("distance", "<=", "2")),
        ),
    ),
    # "war and peace" is CQL: war AND peace (what YAZ does too)
    ("war and peace", Boolean("and", sc("war"), sc("peace"))),
    # term ::= ... | 'and' | 'or' | 'not' | 'prox' | 'sortby'
    ("and", sc("and")),
    ("sortby", sc("sortby")),
    ("a and and", Boolean("and", sc("a"), sc("and"))),
    ("a and or", Boolean("and", sc("a"), sc("or"))),
    ('dc.title="and"', sc("and", "dc.title")),
    # masking and escapes are kept exactly as written
    ("comp*", sc("comp*")),
    ("dc.title=*war?^", sc("*war?^", "dc.title")),
    ('"^war and peace^"', sc("^war and peace^")),
    (r'"a \"quoted\" word"', sc(r"a \"quoted\" word")),
    (r'"a\*b"', sc(r"a\*b")),
    (r'"back\\slash"', sc(r"back\\slash")),
    (r"a\*", sc(r"a\*")),
    ("Война", sc("Война")),
    ("dc.title=\tвойна\n", sc("война", "dc.title")),
    # prefixAssignment: scoped over the query that follows, outermost first
    (
        '>dc="info:srw/cql-context-set/1/dc-v1.1" dc.title=war',
        SearchClause(
            "dc.title", "=", "war", prefixes=(Prefix("info:srw/cql-context-set/1/dc-v1.1", "dc"),)
        ),
    ),
    ('>"http://x" war', SearchClause(SERVER_CHOICE, "=", "war", prefixes=(Prefix("http://x"),))),
    (
        ">a=x >b=y q and r",
        Boolean("and", sc("q"), sc("r"), prefixes=(Prefix("x", "a"), Prefix("y", "b"))),
    ),
    (
        ">a=x (>b=y q)",
        SearchClause(SERVER_CHOICE, "=", "q", prefixes=(Prefix("x", "a"), Prefix("y", "b"))),
    ),
    (
        "(>a=x q) and r",
        Boolean(
            "and", SearchClause(SERVER_CHOICE, "=", "q", prefixes=(Prefix("x", "a"),)), sc("r")
        ),
    ),
    # sortedQuery ::= scopedClause 'sortby' sortSpec
    ("war sortby dc.date", SortedQuery(sc("war"), (SortKey("dc.date"),))),
    (
        "a or b SORTBY dc.date/sort.descending dc.title/sort.ascending/sort.missingLow",
        SortedQuery(
            Boolean("or", sc("a"), sc("b")),
            (
                SortKey("dc.date", (Modifier("sort.descending"),)),
                SortKey("dc.title", (Modifier("sort.ascending"), Modifier("sort.missingLow"))),
            ),
        ),
    ),
]


@pytest.mark.parametrize(("text", "tree"), PARSED, ids=[t for t, _ in PARSED])
def test_parse(text: str, tree: Node) -> None:
    assert parse(text) == tree


@pytest.mark.parametrize(("text", "tree"), PARSED, ids=[t for t, _ in PARSED])
def test_to_cql_round_trip(text: str, tree: Node) -> None:
    written = to_cql(tree)
    assert parse(written) == tree
    assert to_cql(parse(written)) == written


def test_to_cql_writes_compact_normal_form() -> None:
    assert to_cql(parse("dc.title = war")) == "dc.title=war"
    assert to_cql(parse('cql.serverChoice = "war"')) == "war"
    assert to_cql(parse("a AND (b OR c)")) == "a and (b or c)"
    assert to_cql(parse("(a and b) or c")) == "a and b or c"
    assert to_cql(parse('dc.title any/relevant "a b"')) == 'dc.title any/relevant "a b"'
    assert to_cql(parse("dc.title =/relevant war")) == "dc.title=/relevant war"
    assert to_cql(sc("and")) == '"and"'
    assert to_cql(sc("a=b")) == '"a=b"'
    # a bare quote in a hand-built term is escaped rather than ending the string early
    assert to_cql(sc('say "hi"')) == r'"say \"hi\""'


# --- errors: what was wrong and where ----------------------------------------------------

ERRORS: list[tuple[str, str, int]] = [
    ("", "empty query", 0),
    ("   ", "empty query", 0),
    ("war and", "expected a search term after 'and' at position 7", 7),
    ("war and peace and", "expected a search term after 'and' at position 17", 17),
    ("a and ()", "expected a search term at position 7, found ')'", 7),
    ("war and or peace", "expected a search term after 'and' at position 8, found 'or'", 8),
    ("dc.title=", "expected a search term after relation '=' at position 9", 9),
    ("dc.title any", "expected a search term after relation 'any' at position 12", 12),
    # several bare words are not CQL: the second one is read as a relation
    ("tolstoy war", "expected a search term after relation 'war' at position 11", 11),
    ("= war", "expected a search term at position 0, found '='", 0),
    ('dc.title="war', "unterminated quoted string starting at position 9", 9),
    ('"war \\"', "unterminated quoted string starting at position 0", 0),
    ("(war", "expected ')' at position 4 to close '(' at position 0", 4),
    ("a and (b or c", "expected ')' at position 13 to close '(' at position 6", 13),
    ("war)", "unbalanced ')' at position 3", 3),
    ('war "peace"', "expected a boolean operator or end of query at position 4", 4),
    ("dc.title =/ war", "expected a search term after relation '=' at position 15", 15),
    ("dc.title =/x= war", "expected a search term after relation '=' at position 17", 17),
    ("dc.title =/ =x war", "expected a modifier name after '/' at position 12, found '='", 12),
    ("a and/ b", "expected a search term after 'and' at position 8", 8),
    ("a and/x= b", "expected a search term after 'and' at position 10", 10),
    ("a and/x= ", "expected a modifier value after '/x=' at position 9", 9),
    ("war sortby", "expected a sort index after 'sortby' at position 10", 10),
    ("war sortby dc.date =", "expected a sort index or end of query at position 19", 19),
    ("(war sortby dc.date)", "expected ')' at position 5 to close '(' at position 0", 5),
    (">dc=x", "expected a search term at position 5", 5),
    (">", "expected a prefix or URI after '>' at position 1", 1),
    (">dc=", "expected a URI after '>dc=' at position 4", 4),
    ("a and >dc=x b", "a prefix assignment '>' at position 6 may only start", 6),
]


@pytest.mark.parametrize(("text", "message", "position"), ERRORS, ids=[e[0] for e in ERRORS])
def test_syntax_errors(text: str, message: str, position: int) -> None:
    with pytest.raises(CQLSyntaxError) as info:
        parse(text)
    assert message in str(info.value)
    assert info.value.position == position
    assert info.value.diagnostic is not None
    assert (info.value.diagnostic.diagset, info.value.diagnostic.code) == ("sru", 10)


def test_parse_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    for text, _, _ in ERRORS:
        with pytest.raises(CQLSyntaxError):
            parse(text)
    assert capsys.readouterr() == ("", "")


def test_too_many_booleans_is_diagnostic_38() -> None:
    parse(" or ".join(["w"] * (MAX_BOOLEANS + 1)))
    with pytest.raises(CQLSyntaxError) as info:
        parse(" or ".join(["w"] * (MAX_BOOLEANS + 2)))
    assert info.value.diagnostic is not None and info.value.diagnostic.code == 38


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    parse("(" * MAX_NESTING + "w" + ")" * MAX_NESTING)
    deep = "(" * (MAX_NESTING + 1) + "w" + ")" * (MAX_NESTING + 1)
    with pytest.raises(CQLSyntaxError, match="nested deeper"):
        parse(deep)
    with pytest.raises(CQLSyntaxError):
        parse("(" * 100_000)


# --- XCQL -------------------------------------------------------------------------------


def test_to_xcql_is_well_formed_xcql() -> None:
    tree = parse(
        '>dc="info:srw/cql-context-set/1/dc-v1.1" dc.title any/relevant "a<b" '
        "or (dc.creator=x and y) sortby dc.date/sort.descending"
    )
    root = etree.fromstring(to_xcql(tree).encode())
    assert root.tag == "triple"
    assert root.findtext("prefixes/prefix/name") == "dc"
    assert root.findtext("boolean/value") == "or"
    left = root.find("leftOperand/searchClause")
    assert left is not None
    assert left.findtext("index") == "dc.title"
    assert left.findtext("relation/value") == "any"
    assert left.findtext("relation/modifiers/modifier/type") == "relevant"
    assert left.findtext("term") == "a<b"
    right = root.find("rightOperand/triple")
    assert right is not None and right.findtext("boolean/value") == "and"
    assert right.findtext("rightOperand/searchClause/index") == SERVER_CHOICE
    assert root.findtext("sortKeys/key/index") == "dc.date"
    assert root.findtext("sortKeys/key/modifiers/modifier/type") == "sort.descending"


# --- Hypothesis: generated trees round-trip; arbitrary text fails only as CQLSyntaxError --

_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
# terms are stored as written: a quote or backslash inside is always escaped
_raw = st.text(st.one_of(_CHARS, st.sampled_from(list(' ()=<>/"\\*?^\t'))), min_size=0, max_size=12)
terms = _raw.map(lambda s: "".join("\\" + c if c in '"\\' else c for c in s))
masked = st.text(st.sampled_from(list("ab*?^ ")), min_size=1, max_size=6)
any_term = st.one_of(terms, masked, st.sampled_from(["and", "OR", "sortby", "prox", ""]))
names = st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,8}", fullmatch=True).filter(
    lambda s: s.lower() not in {*BOOLEANS, "sortby"}
)
relations = st.one_of(st.sampled_from(COMPARITOR_SYMBOLS), names)
modifiers = st.lists(
    st.one_of(
        st.builds(Modifier, any_term),
        st.builds(Modifier, any_term, st.sampled_from(COMPARITOR_SYMBOLS), any_term),
    ),
    max_size=2,
).map(tuple)
prefixes = st.lists(st.builds(Prefix, any_term, st.none() | any_term), max_size=2).map(tuple)
clauses = st.one_of(
    st.builds(SearchClause, st.just(SERVER_CHOICE), st.just("="), any_term),
    st.builds(SearchClause, any_term, relations, any_term, modifiers, prefixes),
)


def _extend(children: st.SearchStrategy[Clause]) -> st.SearchStrategy[Clause]:
    return st.builds(Boolean, st.sampled_from(BOOLEANS), children, children, modifiers, prefixes)


trees: st.SearchStrategy[Node] = st.one_of(
    st.recursive(clauses, _extend, max_leaves=8),
    st.builds(
        SortedQuery,
        st.recursive(clauses, _extend, max_leaves=4),
        st.lists(st.builds(SortKey, any_term, modifiers), min_size=1, max_size=3).map(tuple),
    ),
)


@given(trees)
@settings(max_examples=200)
def test_generated_trees_round_trip(tree: Node) -> None:
    text = to_cql(tree)
    assert parse(text) == tree, text


_cqlish = st.lists(
    st.one_of(
        st.sampled_from(
            [" ", "(", ")", "=", "==", "<", ">", "<=", ">=", "<>", "/", '"', "\\", "*", "^"]
        ),
        st.sampled_from(["a", "dc.title", "and", "or", "not", "prox", "sortby", "any", ">x="]),
        _CHARS,
    ),
    max_size=30,
).map("".join)


@given(st.one_of(st.text(max_size=40), _cqlish))
@settings(max_examples=600)
def test_arbitrary_text_fails_only_as_cql_syntax_error(text: str) -> None:
    try:
        tree = parse(text)
    except CQLSyntaxError as exc:
        assert exc.position is not None and 0 <= exc.position <= len(text)
        return
    assert parse(to_cql(tree)) == tree
