"""The cataloger's CCL form: read into the same CQL tree as CQL, and checked against YAZ's own
CCL parser on real zebrasrv libraries (same hit counts for the same CCL)."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import CQLSyntaxError, Target
from demo.zebra import Federation, ZebraLibrary
from federator.ccl import ccl_qualifiers, parse_ccl, qualifiers_used
from federator.query import explain, parse_query, to_rpn
from protocols.cql import parse, to_cql
from protocols.z3950.rpn import to_pqf


def ccl_table() -> dict[str, str]:
    """core/data/ccl.csv read on its own: qualifier -> CQL index."""
    text = resources.files("core").joinpath("data", "ccl.csv").read_text("utf-8")
    rows = [r for r in csv.reader(text.splitlines()) if r and not r[0].startswith("#")]
    return {r[0]: r[1] for r in rows[1:]}


@pytest.mark.parametrize(
    ("ccl", "cql"),
    [
        ("ti=war and au=tolstoy", "dc.title=war and dc.creator=tolstoy"),
        ("TI=war AND AU=tolstoy", "dc.title=war and dc.creator=tolstoy"),
        ("ti=war peace", 'dc.title="war peace"'),
        ('ti="war and peace"', 'dc.title="war and peace"'),
        ("ti,su=moscow", "dc.title=moscow or dc.subject=moscow"),
        ("au=tolst? or au=dosto#evsky", "dc.creator=tolst* or dc.creator=dosto?evsky"),
        ('ti="what? #1"', r'dc.title="what\? \#1"'),
        ("ti=c*a^b", r"dc.title=c\*a\^b"),
        ("py=1860-1870", "dc.date>=1860 and dc.date<=1870"),
        ("py=1860-", "dc.date>=1860"),
        ("py=-1870", "dc.date<=1870"),
        ("py>1990 and pb=penguin", "dc.date>1990 and dc.publisher=penguin"),
        ("su=1-2", "dc.subject=1-2"),  # ranges only where the table says so
        ("ib=0814727352 or isbn=0839108826", "bath.isbn=0814727352 or bath.isbn=0839108826"),
        ("kw=opera not any=verdi", "opera not verdi"),
        ("tolstoy war", "tolstoy and war"),
        ("tolstoy not su=film", "tolstoy not dc.subject=film"),
        ("(ti=a or ti=b) and au=c", "dc.title=a or dc.title=b and dc.creator=c"),
        ("ti=a and (au=b or au=c)", "dc.title=a and (dc.creator=b or dc.creator=c)"),
        ("ti=war au=tolstoy", "dc.title=war and dc.creator=tolstoy"),  # side by side: AND
        ("ti=war and dc.creator=tolstoy", "dc.title=war and dc.creator=tolstoy"),
        ("ti=war and bath.issn=1234", "dc.title=war and bath.issn=1234"),
    ],
)
def test_ccl_reads_as_the_cql_it_means(ccl: str, cql: str) -> None:
    assert to_cql(parse_ccl(ccl)) == cql
    assert parse_query(ccl) == parse_ccl(ccl)
    assert parse_ccl(ccl) == parse(cql)


def test_qualifiers_come_from_the_data_file() -> None:
    table = ccl_table()
    assert {q: c.index for q, c in ccl_qualifiers().items()} == table
    for qualifier, index in table.items():
        node = parse_ccl(f"{qualifier}=x")
        expected = "x" if index == "cql.serverChoice" else f"{index}=x"
        assert to_cql(node) == expected


@pytest.mark.parametrize(
    "text",
    [
        "dc.title=war",
        "title=war and author=tolstoy",  # our CQL aliases, not CCL
        "isbn=0814727352",  # a qualifier CQL knows too: read as CQL, means the same
        "war and peace",
        'dc.title any "ti=war"',
    ],
)
def test_cql_stays_cql(text: str) -> None:
    try:
        expected = parse(text)
    except CQLSyntaxError:
        expected = parse_query(text)  # the plain keyword fallback
    assert parse_query(text) == expected


def test_qualifiers_used() -> None:
    assert qualifiers_used("ti,AU=x and py>1 and foo") == ["ti", "au", "py"]
    assert qualifiers_used('"unterminated') == []


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("ti=", "CCL: expected a search term after 'ti=' at position 3", 3),
        ("ti=war and", "CCL: expected a search term after 'and' at position 10", 10),
        ("ti=war or )", "CCL: expected a search term after 'or' at position 10, found ')'", 10),
        ("(ti=war", "CCL: expected ')' at position 7 to close '(' at position 0", 7),
        ("ti=war)", "CCL: expected a boolean operator or end of query at position 6, found ')'", 6),
        ('ti="war', "CCL: unterminated quoted phrase starting at position 3", 3),
        ("ti,=war", "CCL: empty qualifier in 'ti,' at position 0", 0),
        ("ti=(war)", "CCL: expected a search term after 'ti=' at position 3, found '('", 3),
    ],
)
def test_ccl_errors_say_what_and_where(text: str, message: str, position: int) -> None:
    with pytest.raises(CQLSyntaxError) as info:
        parse_query(text)
    assert str(info.value) == message
    assert info.value.position == position
    assert info.value.diagnostic is not None and info.value.diagnostic.code == 10


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(CQLSyntaxError, match="nested deeper"):
        parse_ccl("(" * 100 + "ti=a" + ")" * 100)


def test_query_explain_of_ccl() -> None:
    z = Target("z", "Z", "z3950", host="h")
    assert explain(parse_query("ti=war? and py=1860-1870"), z) == (
        "@and @attr 1=4 @attr 2=3 @attr 4=2 @attr 5=1 war "
        "@and @attr 1=30 @attr 2=4 @attr 4=109 1860 @attr 1=30 @attr 2=2 @attr 4=109 1870"
    )
    sru = Target("s", "S", "sru", url="http://h/s", index_map={"dc.title": "title"})
    assert explain(parse_query("ti=war? and py=1860-1870"), sru) == (
        "title=war* and (dc.date>=1860 and dc.date<=1870)"
    )


ccl_text = st.lists(
    st.sampled_from(
        [
            *("ti", "au", "py", "=", ">", "<=", ",", " ", "and", "or", "not", "(", ")", '"'),
            *("?", "#", "war", "1860-1870", "-", "*", "^", "\\", "x.y"),
        ]
    ),
    max_size=12,
).map("".join)


@given(ccl_text)
@settings(max_examples=400)
def test_ccl_fails_only_as_a_syntax_error_and_round_trips_as_cql(text: str) -> None:
    try:
        node = parse_ccl(text)
    except CQLSyntaxError:
        return
    assert parse(to_cql(node)) == node


# -- against YAZ's own CCL parser on zebrasrv ------------------------------------------------

# YAZ qualifier file with the meaning of core/data/ccl.csv and our Bib-1 table: s=pw is
# "phrase if several words", t=r right truncation with '?', r=r ranges a-b
YAZ_QUALIFIERS = """\
ti u=4 s=pw t=r
au u=1003 s=pw t=r
su u=21 s=pw t=r
pb u=1018 s=pw t=r
ib u=7 s=pw
py u=30 r=r 4=109
term u=1016 s=pw t=r
"""
SAME = [
    "ti=computer",
    "ti=how to program",
    "ti=comp?",
    "au=collins",
    "ti=computer and au=collins",
    "ti=computer or su=music",
    "ti=computer not ti=program",
    "(ti=computer or ti=internet) and py=1970-1995",
    "py=1900-1990",
    "py>1990",
    "pb=education and py>1970",
    "pb=university press",
    "ib=0814727352",
    "computer",
]


def _yaz(lib: ZebraLibrary, lines: list[str], bib: Path) -> list[int]:
    script = "\n".join([f"open tcp:{lib.zurl}", f"set_cclfile {bib}", *lines, "quit"]) + "\n"
    done = subprocess.run(
        ["yaz-client"], input=script.encode(), capture_output=True, timeout=20, check=False
    )
    out = done.stdout.decode("utf-8", "replace")
    chunks = out.split("Sent searchRequest.")[1:]
    assert len(chunks) == sum(line.startswith("find ") for line in lines), out
    counts = []
    for chunk in chunks:
        hits = re.search(r"Number of hits: (\d+)", chunk)
        assert hits and "Diagnostic" not in chunk.split("Number of hits")[0], chunk
        counts.append(int(hits.group(1)))
    return counts


@pytest.mark.servers
@pytest.mark.skipif(shutil.which("yaz-client") is None, reason="yaz-client not installed (yaz)")
def test_same_hits_as_yaz_ccl(zebra_libraries: Federation, tmp_path: Path) -> None:
    bib = tmp_path / "svod.bib"
    bib.write_text(YAZ_QUALIFIERS, "utf-8")
    found_any = [0] * len(SAME)
    for lib in zebra_libraries:
        theirs = _yaz(lib, ["querytype ccl2rpn", *(f"find {q}" for q in SAME)], bib)
        ours = _yaz(
            lib,
            ["querytype prefix", *(f"find {to_pqf(to_rpn(parse_query(q)))}" for q in SAME)],
            bib,
        )
        assert ours == theirs, lib.name
        found_any = [a + b for a, b in zip(found_any, ours, strict=True)]
    assert all(found_any), list(zip(SAME, found_any, strict=True))
