"""federator.query: the user's text as a CQL tree, and that tree per target (RPN or CQL)."""

from __future__ import annotations

import csv
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import CQLSyntaxError, QueryError, Target, UnsupportedIndex
from federator.query import explain, parse_attributes, parse_query, to_rpn, to_sru_cql
from protocols.cql import (
    SERVER_CHOICE,
    Boolean,
    Clause,
    Node,
    SearchClause,
    parse,
    to_cql,
)
from protocols.z3950.rpn import AttributesPlusTerm, RPNNode, RPNOperator, to_pqf

ZTARGET = Target("lib", "Library", "z3950", host="127.0.0.1", port=2100, database="lib")
SRU_TARGET = Target("sru", "SRU library", "sru", url="http://127.0.0.1:2100/lib")


def table() -> dict[str, str]:
    """core/data/cql-bib1.csv read on its own, for expectations derived from the data."""
    text = resources.files("core").joinpath("data", "cql-bib1.csv").read_text("utf-8")
    rows = [r for r in csv.reader(text.splitlines()) if r and not r[0].startswith("#")]
    return {r[0]: r[1] for r in rows[1:] if not r[0].startswith("set")}


def attrs(spec: str) -> dict[int, int]:
    return {int(t): int(v) for t, v in (p.split("=") for p in spec.split())}


def one(node: RPNNode) -> AttributesPlusTerm:
    assert isinstance(node, AttributesPlusTerm), node
    return node


def rpn(text: str, index_map: dict[str, str] | None = None) -> RPNNode:
    return to_rpn(parse_query(text), index_map, target_id="lib").root


def term_attrs(text: str, index_map: dict[str, str] | None = None) -> tuple[dict[int, int], str]:
    node = one(rpn(text, index_map))
    return dict(node.attributes), node.term


def diagnostic_code(
    exc: pytest.ExceptionInfo[QueryError] | pytest.ExceptionInfo[UnsupportedIndex],
) -> int:
    assert exc.value.diagnostic is not None
    return exc.value.diagnostic.code


# --- parse_query --------------------------------------------------------------------------


def test_cql_is_taken_as_cql() -> None:
    assert parse_query("war and peace") == parse("war and peace")
    assert parse_query('dc.title="war and peace"') == parse('dc.title="war and peace"')
    assert parse_query("dc.title any war") == parse("dc.title any war")


def and_of(*words: str) -> Clause:
    node: Clause = SearchClause(SERVER_CHOICE, "=", words[0])
    for word in words[1:]:
        node = Boolean("and", node, SearchClause(SERVER_CHOICE, "=", word))
    return node


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # a named relation CQL does not define: plain words, not CQL
        ("tolstoy war peace", ["tolstoy", "war", "peace"]),
        # not CQL at all (a search term after "peace" is missing)
        ("war and peace tolstoy", ["war", "and", "peace", "tolstoy"]),
        ("tolstoy war", ["tolstoy", "war"]),
        ('tolstoy "war and peace"', ["tolstoy", "war and peace"]),
        ("  лев   толстой  ", ["лев", "толстой"]),
        ("comp* prog?am", ["comp*", "prog?am"]),
        ('tolstoy "a=b (c)"', ["tolstoy", "a=b (c)"]),  # structure inside quotes is text
    ],
)
def test_plain_keywords_become_an_and_of_server_choice_terms(text: str, words: list[str]) -> None:
    assert parse_query(text) == and_of(*words)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("dc.title=", 9),  # structure characters: the user meant CQL
        ("(tolstoy war", 12),
        ('tolstoy "war and peace', 8),  # an unbalanced quote is not a keyword
        ("", 0),
        ("   ", 0),
    ],
)
def test_cql_errors_stand_when_the_text_is_not_plain_keywords(text: str, position: int) -> None:
    with pytest.raises(CQLSyntaxError) as info:
        parse_query(text)
    assert info.value.position == position


def test_a_named_relation_in_structured_cql_is_kept() -> None:
    # with parentheses the user wrote CQL; the unknown relation is for the target to refuse
    assert parse_query("(tolstoy war peace)") == SearchClause("tolstoy", "war", "peace")
    with pytest.raises(QueryError) as info:
        to_rpn(parse_query("(dc.title war peace)"))
    assert diagnostic_code(info) == 19


# --- to_rpn: indexes ------------------------------------------------------------------------


def test_every_index_row_of_the_table_maps_to_its_attributes() -> None:
    rows = table()
    indexes = {k.removeprefix("index."): v for k, v in rows.items() if k.startswith("index.")}
    assert len(indexes) > 40
    for index, spec in indexes.items():
        got, term = term_attrs(f"{index}=x")
        assert term == "x"
        assert {t: got[t] for t in attrs(spec)} == attrs(spec), index
        # index names are case-insensitive in CQL
        assert term_attrs(f"{index.upper()}=x")[0] == got


def test_unprefixed_names_fall_back_to_the_default_set_dc() -> None:
    rows = table()
    assert term_attrs("description=x")[0][1] == attrs(rows["index.dc.description"])[1]
    with pytest.raises(UnsupportedIndex) as info:
        to_rpn(parse("nosuchindex=x"), target_id="lib")
    assert info.value.index == "nosuchindex"
    assert "'lib'" in str(info.value)
    assert diagnostic_code(info) == 16


def test_prefix_assignments_choose_the_context_set() -> None:
    dc = "info:srw/cql-context-set/1/dc-v1.1"
    bath = "http://zing.z3950.org/cql/bath/2.0/"
    assert term_attrs(f'>x="{dc}" x.title=war')[0][1] == 4
    assert term_attrs(f'>"{bath}" isbn=1')[0][1] == 7  # a default set for bare names
    assert term_attrs(f'>dc="{bath}" dc.isbn=1')[0][1] == 7
    for query in ('>x="http://elsewhere/" x.title=war', '>"http://elsewhere/" title=war'):
        with pytest.raises(UnsupportedIndex):
            rpn(query)
    # an assignment only reaches the subquery it is scoped over
    with pytest.raises(UnsupportedIndex):
        rpn(f'(>x="{dc}" x.title=war) and x.title=peace')


def test_a_target_map_overrides_and_extends_the_defaults() -> None:
    target_map = {
        "DC.Title": "1=4 4=1",  # keys are case-insensitive
        "local.shelf": "1=20",
        "dc.subject": "",  # this target cannot search subjects
        "title": "1=5",  # an alias does not reach dc.title
    }
    got, _ = term_attrs("dc.title=war", target_map)
    assert (got[1], got[4]) == (4, 1)
    assert term_attrs("local.shelf=QA76", target_map)[0][1] == 20
    assert term_attrs("title=war", target_map)[0][1] == 5
    assert term_attrs("dc.creator=x", target_map)[0][1] == 1003  # the defaults still apply
    with pytest.raises(UnsupportedIndex) as info:
        rpn("dc.subject=music", target_map)
    assert info.value.index == "dc.subject" and "'lib'" in str(info.value)


def test_a_broken_target_map_is_a_query_error_naming_target_and_index() -> None:
    with pytest.raises(QueryError, match=r"target 'lib': index_map 'dc.title': '1=abc'"):
        rpn("dc.title=war", {"dc.title": "1=4 1=abc"})


def test_parse_attributes() -> None:
    assert parse_attributes("1=4 4=1") == ((1, 4), (4, 1))
    assert parse_attributes("") == ()
    for bad in ("1=_ALLRECORDS", "x", "1=", "=4", "1=4=5"):
        with pytest.raises(ValueError, match="type=value"):
            parse_attributes(bad)


# --- to_rpn: relations and terms --------------------------------------------------------------


def test_relations() -> None:
    rows = table()
    word, phrase = attrs(rows["structure.word"]), attrs(rows["structure.phrase"])
    for relation in ("=", "<>"):
        got, _ = term_attrs(f"dc.title{relation}war")
        assert got == {1: 4, **attrs(rows[f"relation.{relation}"]), **word}
        got, term = term_attrs(f'dc.title{relation}"war and peace"')
        assert (got, term) == (
            {1: 4, **attrs(rows[f"relation.{relation}"]), **phrase},
            "war and peace",
        )
    for relation in ("<", "<=", ">", ">="):
        got, _ = term_attrs(f"dc.date{relation}2000")
        expected = {1: 30, **attrs(rows[f"relation.{relation}"])}
        assert got == {**expected, **attrs(rows[f"structure.{relation}"])}
    exact = {1: 4, **attrs(rows["relation.=="]), **phrase}
    assert exact[6] == 3
    assert term_attrs("dc.title==war") == (exact, "war")
    assert term_attrs("dc.title exact war") == (exact, "war")  # the CQL 1.1 name of ==
    assert term_attrs('dc.title adj "war peace"') == ({1: 4, 2: 3, **phrase}, "war peace")
    assert term_attrs("dc.title ADJ war") == term_attrs("dc.title cql.adj war")


@pytest.mark.parametrize(("relation", "op"), [("any", "or"), ("all", "and")])
def test_any_and_all_split_into_words(relation: str, op: str) -> None:
    node = rpn(f'dc.title {relation} "  war  peace\tcomp* "')
    assert isinstance(node, RPNOperator) and node.op == op
    assert isinstance(node.left, RPNOperator) and node.left.op == op
    leaves = [one(node.left.left), one(node.left.right), one(node.right)]
    assert [t.term for t in leaves] == ["war", "peace", "comp"]
    assert [dict(t.attributes)[4] for t in leaves] == [2, 2, 2]
    assert [dict(t.attributes).get(5) for t in leaves] == [None, None, 1]
    assert one(rpn(f"dc.title {relation} war")).term == "war"


@pytest.mark.parametrize(
    ("term", "sent", "truncation", "position"),
    [
        ("comp*", "comp", 1, {}),
        ("*puter", "puter", 2, {}),
        ("*put*", "put", 3, {}),
        ("co*er", "co?er", 104, {}),  # Z39.58: '?' any number of characters
        ("comp?ter", "comp#ter", 104, {}),  # Z39.58: '#' one character
        ("c**p*", "c?p?", 104, {}),
        (r"a\*", "a*", 100, {}),  # an escaped mask is a literal character
        (r"a\?b\\", "a?b\\", 100, {}),
        ("war", "war", None, {}),
        ("^war", "war", None, {3: 1}),
        ("^war^", "war", None, {4: 1, 6: 3}),
        ('"^war and peace^"', "war and peace", None, {4: 1, 6: 3}),
        ("^comp*", "comp", 1, {3: 1}),
        (r"\^war", "^war", None, {}),
    ],
)
def test_masking_and_anchoring(
    term: str, sent: str, truncation: int | None, position: dict[int, int]
) -> None:
    got, text = term_attrs(f"dc.title={term}")
    assert text == sent
    assert got.get(5) == truncation
    assert {t: got[t] for t in position} == position
    if 3 not in position:
        assert 3 not in got


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('dc.title=""', 27),
        ('dc.title="   "', 27),
        ("dc.title=*", 29),
        ("dc.title=**", 29),
        ('dc.title="war^"', 32),  # Bib-1 has no "last in field"
        ("dc.title=wa^r", 32),
        (r"dc.title=a*b\?", 28),  # Z39.58 cannot say a literal '?'
        ("dc.title=a*1", 28),  # '?1' would mean "up to one character"
        ("dc.title within x", 36),  # within needs two values
        ('dc.date within "1 2 3"', 36),
        ("dc.title encloses x", 19),
        ("dc.title foo.any x", 19),
        ("dc.title =/ignoreCase war", 20),
        ("dc.title =/relevant=1 war", 20),
        ("a prox/unit=page b", 42),
        ("a prox/distance<=x b", 41),
        ("a and/rel.combine=sum b", 46),
    ],
)
def test_what_bib1_cannot_say_is_a_query_error_with_its_diagnostic(query: str, code: int) -> None:
    with pytest.raises(QueryError) as info:
        to_rpn(parse(query))
    assert diagnostic_code(info) == code


def test_relation_modifiers() -> None:
    rows = table()
    assert (
        term_attrs("dc.title =/relevant war")[0][2] == attrs(rows["relationModifier.relevant"])[2]
    )
    assert term_attrs("dc.title =/cql.stem war")[0][2] == attrs(rows["relationModifier.stem"])[2]
    got, text = term_attrs("dc.title =/unmasked ^co*p?")
    assert (text, got[5]) == ("^co*p?", 100)
    got, text = term_attrs(r'dc.title =/regexp "co.*p\"x"')
    assert (text, got[5]) == (r"co.*p\"x", 102)
    assert term_attrs("dc.title =/masked comp*") == term_attrs("dc.title=comp*")


def test_booleans_and_sort() -> None:
    node = rpn("a or b not (c and d) sortby dc.date")
    assert isinstance(node, RPNOperator) and node.op == "and-not"
    assert isinstance(node.left, RPNOperator) and node.left.op == "or"
    assert isinstance(node.right, RPNOperator) and node.right.op == "and"
    assert [one(n).term for n in (node.left.left, node.left.right)] == ["a", "b"]


def test_pqf_of_a_typical_query() -> None:
    pqf = to_pqf(to_rpn(parse_query('dc.title="war and peace" and dc.creator=tolstoy')))
    rows = table()
    title = {1: 4, **attrs(rows["relation.="]), **attrs(rows["structure.phrase"])}
    creator = {1: 1003, **attrs(rows["relation.="]), **attrs(rows["structure.word"])}

    def pqf_attrs(a: dict[int, int]) -> str:
        return " ".join(f"@attr {t}={v}" for t, v in sorted(a.items()))

    assert pqf == f'@and {pqf_attrs(title)} "war and peace" {pqf_attrs(creator)} tolstoy'


# --- to_sru_cql and explain -------------------------------------------------------------


def test_to_sru_cql_renames_indexes_only() -> None:
    query = parse_query('dc.title any/relevant "war peace" and (dc.creator=tolstoy or war)')
    assert to_sru_cql(query) == to_cql(query)
    renamed = to_sru_cql(query, {"DC.TITLE": "title", "cql.serverChoice": "anywhere"})
    assert renamed == 'title any/relevant "war peace" and (dc.creator=tolstoy or anywhere=war)'
    assert parse(renamed) == parse(
        'title any/relevant "war peace" and (dc.creator=tolstoy or anywhere=war)'
    )
    with pytest.raises(UnsupportedIndex, match="'sru'"):
        to_sru_cql(query, {"dc.creator": " "}, target_id="sru")


def test_to_sru_cql_resolves_prefixes_before_renaming() -> None:
    dc = "info:srw/cql-context-set/1/dc-v1.1"
    query = parse_query(f'>x="{dc}" x.title=war')
    assert to_sru_cql(query, {"dc.title": "title"}) == f'>x="{dc}" title=war'


def test_to_sru_cql_and_sort_keys() -> None:
    query = parse_query("war sortby dc.title/sort.descending dc.date")
    assert to_sru_cql(query, {"dc.title": "title"}) == "war"
    kept = to_sru_cql(query, {"dc.title": "title"}, sort=True)
    assert kept == "war sortby title/sort.descending dc.date"


def test_explain() -> None:
    query = parse_query('dc.title="war and peace" and tolstoy')
    assert explain(query, ZTARGET) == to_pqf(to_rpn(query, target_id="lib"))
    assert explain(query, SRU_TARGET) == 'dc.title="war and peace" and tolstoy'
    mapped = Target("m", "M", "z3950", host="h", index_map={"dc.title": "1=4 4=1 6=3"})
    assert (
        explain(parse_query("dc.title=war"), mapped)
        == "@attr 1=4 @attr 2=3 @attr 4=1 @attr 6=3 war"
    )


# --- Hypothesis: translation fails only as QueryError; SRU output is the same query -------

INDEXES = ["dc.title", "DC.Creator", "title", "bath.isbn", "rec.id", "nosuch", "x.title", "any"]
RELATIONS = ["=", "==", "<", ">", "<=", ">=", "<>", "any", "ALL", "adj", "exact", "within", "x"]
# terms as written in CQL: a backslash always escapes something
terms = st.lists(
    st.sampled_from(["a", "b", " ", "^", "*", "?", "#", "1", "\\*", "\\\\"]), max_size=6
).map("".join)
clauses = st.one_of(
    st.builds(SearchClause, st.just(SERVER_CHOICE), st.just("="), terms),
    st.builds(SearchClause, st.sampled_from(INDEXES), st.sampled_from(RELATIONS), terms),
)
trees = st.recursive(
    clauses,
    lambda children: st.builds(
        Boolean, st.sampled_from(["and", "or", "not", "prox"]), children, children
    ),
    max_leaves=6,
)


@given(trees)
@settings(max_examples=300)
def test_translation_fails_only_as_query_error(tree: Clause) -> None:
    try:
        query = to_rpn(tree, {"x.title": "1=4"})
    except QueryError:
        pass
    else:
        assert to_pqf(query)
    text = to_sru_cql(tree)
    assert parse(text) == tree


@given(st.text(max_size=30))
@settings(max_examples=300)
def test_parse_query_fails_only_as_cql_syntax_error(text: str) -> None:
    try:
        node: Node = parse_query(text)
    except CQLSyntaxError:
        return
    assert parse(to_cql(node)) == node
