"""The local-collection connector over the real demo exports (RUSMARC cp1251 / UTF-8 from
IRBIS, MARC21 MARCXML): CQL semantics checked against books.yaml, the source the records
were written from; paging; diagnostics; scan."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from stdnum import isbn as stdisbn

from connectors.local import LocalConnector
from core import RawRecord, TargetDiagnostic, TargetUnreachable
from demo.collections import DATA, demo_libraries, demo_targets
from federator.collection import ensure_collection
from normalizers import normalize

BOOKS: list[dict[str, Any]] = yaml.safe_load((DATA / "books.yaml").read_text("utf-8"))["books"]
LETTER = {"oblsci": "O", "citylib": "C", "childlib": "D", "unilib": "U"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every demo library indexed once for this module: id -> target."""
    cache = tmp_path_factory.mktemp("collections")
    targets = demo_targets(cache)
    for t in targets:
        report = ensure_collection(t)
        assert report.records > 0 and not report.bad, report
    return {t.id: t for t in targets}


def held(lib: str) -> list[dict[str, Any]]:
    return [b for b in BOOKS if LETTER[lib] in b["in"]]


async def run(target: Any, query: str, limit: int = 500) -> tuple[int, list[RawRecord]]:
    async with LocalConnector(target) as conn:
        result = await conn.search(query, limit)
    return result.hits, list(result.records)


def titles(records: list[RawRecord], target: Any) -> list[str]:
    return [normalize(r, charset=target.charset, flavour=target.flavour).title for r in records]


def test_every_record_of_every_library_is_indexed(built: dict[str, Any]) -> None:
    for lib in demo_libraries():
        hits, records = asyncio.run(run(built[lib.id], "dc.date>0"))
        assert hits == len(held(lib.id)) == len(records), lib.id


@pytest.mark.parametrize("lib", ["oblsci", "unilib"])
def test_isbn_10_and_13_find_the_same_record(built: dict[str, Any], lib: str) -> None:
    target = built[lib]
    with_isbn = [b for b in held(lib) if b.get("isbn")]
    assert with_isbn
    for book in with_isbn:
        ten = stdisbn.to_isbn10(book["isbn"]) if stdisbn.isbn_type(book["isbn"]) == "ISBN13" else ""
        thirteen = stdisbn.to_isbn13(book["isbn"])
        forms = [book["isbn"], thirteen, stdisbn.format(thirteen)] + ([ten] if ten else [])
        for form in forms:
            hits, records = asyncio.run(run(target, f'bath.isbn="{form}"'))
            assert hits == 1, (form, book["k"])
            record = normalize(records[0], charset=target.charset, flavour=target.flavour)
            assert record.year == book["y"]


@pytest.mark.parametrize("lib", ["oblsci", "citylib", "childlib", "unilib"])
def test_year_relations_and_ranges(built: dict[str, Any], lib: str) -> None:
    target = built[lib]
    years = [b["y"] for b in held(lib)]
    cases = {
        "dc.date>=1990": sum(y >= 1990 for y in years),
        "dc.date<1980": sum(y < 1980 for y in years),
        "dc.date=1985": sum(y == 1985 for y in years),
        'dc.date within "1980 1989"': sum(1980 <= y <= 1989 for y in years),
        "dc.date=19*": sum(1900 <= y <= 1999 for y in years),
        "dc.date<>1985": sum(y != 1985 for y in years),
    }
    for query, expected in cases.items():
        assert asyncio.run(run(target, query))[0] == expected, query


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower().replace("ё", "е")))


def test_author_title_subject_words_with_stemming(built: dict[str, Any]) -> None:
    target = built["oblsci"]
    books = held("oblsci")

    def by_author(name: str) -> int:
        return sum(any(h.startswith(name) for h in [b["a"], *b.get("co", [])]) for b in books)

    assert asyncio.run(run(target, "dc.creator=Толстой"))[0] == by_author("Толстой")
    assert asyncio.run(run(target, "dc.creator=достоевского"))[0] == by_author("Достоевский")
    # "войной" (instrumental) and "война" share the stem "войн"
    war = sum("война" in _words(f"{b['t']} {b.get('v', '')}") for b in books)
    assert war >= 3
    assert asyncio.run(run(target, "dc.title=войной"))[0] == war
    assert asyncio.run(run(target, "dc.title=Война"))[0] == war
    # English stemming: "algorithm" finds "algorithms"
    algo = sum("algorithms" in _words(f"{b['t']} {b.get('v', '')}") for b in books)
    assert algo and asyncio.run(run(target, "dc.title=algorithm"))[0] == algo
    fiction = sum(any("Fiction" in s for s in b.get("subj", [])) for b in books)
    assert fiction and asyncio.run(run(target, "dc.subject=fiction"))[0] == fiction


def test_phrases_truncation_and_masking(built: dict[str, Any]) -> None:
    target = built["unilib"]
    books = held("unilib")
    acp = sum(b["t"] == "The art of computer programming" for b in books)
    assert acp == 3
    assert asyncio.run(run(target, 'dc.title="art of computer programming"'))[0] == acp
    assert asyncio.run(run(target, 'dc.title="programming computer"'))[0] == 0
    assert asyncio.run(run(target, 'dc.title any "programming computer"'))[0] >= acp
    pro = sum(
        any(w.startswith("program") for w in _words(f"{b['t']} {b.get('i', '')}")) for b in books
    )
    assert asyncio.run(run(target, "dc.title=program*"))[0] == pro
    assert asyncio.run(run(target, "dc.title=progr?mming"))[0] == sum(
        "programming" in _words(f"{b['t']} {b.get('i', '')}") for b in books
    )
    # == is the whole title: the 2nd edition's has a subtitle, "Fluent Python : clear, ..."
    whole = sum(b["t"] == "Fluent Python" and not b.get("i") for b in books)
    exact = asyncio.run(run(target, 'dc.title=="fluent python"'))
    assert exact[0] == whole == 1 and titles(exact[1], target) == ["Fluent Python"]
    assert asyncio.run(run(target, 'dc.title=="fluent python*"'))[0] == 2


def test_booleans_are_set_operations(built: dict[str, Any]) -> None:
    target = built["oblsci"]

    def ids(query: str) -> set[bytes]:
        return {r.data for r in asyncio.run(run(target, query))[1]}

    a, b = ids("dc.creator=толстой"), ids("dc.date<1985")
    assert a and b and a - b and a & b
    assert ids("dc.creator=толстой and dc.date<1985") == a & b
    assert ids("dc.creator=толстой or dc.date<1985") == a | b
    assert ids("dc.creator=толстой not dc.date<1985") == a - b
    assert ids("(dc.creator=толстой or dc.creator=пушкин) and dc.date<1985") == (
        (a | ids("dc.creator=пушкин")) & b
    )
    # serverChoice searches every field: author, title, publisher, year
    assert ids("толстой") >= a
    assert ids("Захаров") and ids("Захаров") <= ids("dc.publisher=захаров")


def test_paging_returns_a_prefix_of_the_same_ranking(built: dict[str, Any]) -> None:
    target = built["citylib"]
    total, all_records = asyncio.run(run(target, "dc.date>1900", 500))
    assert total == len(all_records) > 10
    for limit in (0, 1, 5, 10):
        hits, records = asyncio.run(run(target, "dc.date>1900", limit))
        assert hits == total
        assert [r.data for r in records] == [r.data for r in all_records[:limit]]
        assert [r.position for r in records] == list(range(1, limit + 1))
        assert all(r.target_id == "citylib" and r.syntax == "rusmarc" for r in records)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('dc.identifier.doi="10.1000/1"', 16),
        ("bib.whatever=x", 16),
        ("dc.title<war", 19),
        ("dc.title within war", 19),
        ("dc.title=/fuzzy war", 20),
        ("dc.title=war prox dc.title=peace", 37),
        ("dc.date=nineteen", 36),
        ("dc.title=*", 29),
        ('dc.title=""', 27),
        ("dc.title=(", 10),
    ],
)
def test_what_the_index_cannot_answer_is_a_diagnostic(
    built: dict[str, Any], query: str, code: int
) -> None:
    with pytest.raises(TargetDiagnostic) as info:
        asyncio.run(run(built["oblsci"], query))
    diag = info.value.diagnostic
    assert diag is not None and (diag.diagset, diag.code) == ("sru", code)


def test_index_map_renames_and_refuses(built: dict[str, Any]) -> None:
    from dataclasses import replace

    target = replace(built["oblsci"], index_map={"ti": "title", "dc.subject": ""})
    assert asyncio.run(run(target, "ti=война"))[0] == asyncio.run(run(target, "title=война"))[0]
    with pytest.raises(TargetDiagnostic) as info:
        asyncio.run(run(target, "dc.subject=история"))
    assert info.value.diagnostic is not None and info.value.diagnostic.code == 16


def test_a_collection_never_built_is_unreachable(tmp_path: Path) -> None:
    target = demo_targets(tmp_path)[0]
    with pytest.raises(TargetUnreachable, match="no collection index"):
        asyncio.run(run(target, "мир"))


def test_ping_and_scan(built: dict[str, Any]) -> None:
    async def go() -> tuple[str, list[Any], list[Any], list[Any]]:
        async with LocalConnector(built["oblsci"]) as conn:
            return (
                await conn.ping(),
                await conn.scan("dc.title", "война", 3),
                await conn.scan("dc.title", "война и", 2),
                await conn.scan("dc.creator", "тол", 2),
            )

    ping, words, headings, authors = asyncio.run(go())
    books = held("oblsci")
    assert f"{len(books)} records" in ping
    # single words: the words as written (not stems), with the records holding them
    assert [t.term for t in words] == sorted(t.term for t in words)
    war = sum("война" in _words(f"{b['t']} {b.get('v', '')}") for b in books)
    assert (words[0].term, words[0].count) == ("война", war)
    # several words: whole title headings
    assert all(" " in t.term for t in headings) and headings[0].term.startswith("война и мир")
    tolstoy = sum(b["a"].startswith("Толстой") for b in books)
    assert (authors[0].term, authors[0].count) == ("толстой", tolstoy)
    with pytest.raises(TargetDiagnostic):
        asyncio.run(LocalConnector(built["oblsci"]).scan("dc.date", "1990"))
