"""Relevance (BM25F with stemming and boosts) and the sorts, over clustered records."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from core import Record
from core.clusters import Cluster
from dedup import Clusterer
from federator.query import parse_query
from federator.rank import FIELDS, K1, Ranker, query_terms, rank, sort_clusters, stem


def _works(records: list[Record]) -> list[Cluster]:
    c = Clusterer()
    c.add_all(records)
    return c.clusters()


def _book(title: str, target: str = "a", **kw: object) -> Record:
    return Record(title=title, target_id=target, position=len(title), **kw)  # type: ignore[arg-type]


def test_russian_and_english_words_match_through_their_stems() -> None:
    assert stem("библиотеки") == stem("библиотека") == stem("библиотеками")
    assert stem("libraries") == stem("library")
    works = _works(
        [
            _book("Библиотеки России", authors=("Иванов, И. И.",), year=2001),
            _book("Public libraries in America", authors=("Smith, John",), year=1999),
            _book("Война и мир", authors=("Толстой, Л. Н.",), year=1957),
        ]
    )
    ranked = rank(works, parse_query("библиотека"))
    assert ranked[0].display.title == "Библиотеки России" and ranked[0].score > 0
    assert ranked[1].score == 0 and ranked[2].score == 0
    assert rank(works, parse_query("library"))[0].display.title == "Public libraries in America"


def test_title_outweighs_subject_and_the_score_follows_the_formula() -> None:
    in_title = _book("Chess openings", authors=("Keene, R.",), year=1990)
    in_subject = _book("Games of the world", authors=("Botermans, J.",), year=1990,
                       subjects=("Chess",), target="b")  # fmt: skip
    works = _works([in_subject, in_title])
    ranker = Ranker(parse_query("chess"))
    ranked = ranker.rank(works)
    assert [w.display.title for w in ranked] == ["Chess openings", "Games of the world"]
    # the title hit, by hand: one term, in the title field only; "chess openings" is not
    # the title proper asked for, so no boost; one library, no holdings boost
    n, having = 2, 2
    idf = math.log(1 + (n - having + 0.5) / (having + 0.5))
    w, b = FIELDS["title"]
    avg = (2 + 4) / 2  # title words: "chess openings" / "games of the world"
    ntf = w * 1 / (1 - b + b * 2 / avg)
    assert ranked[0].score == pytest.approx(idf * ntf * (K1 + 1) / (K1 + ntf))


def test_exact_title_and_author_boosts() -> None:
    exact = _book("Anna Karenina", authors=("Tolstoy, Leo",), year=1999)
    longer = _book("Anna Karenina and her sisters", authors=("Brown, Anna",), year=1999,
                   target="b")  # fmt: skip
    works = _works([longer, exact])
    assert rank(works, parse_query('dc.title="anna karenina"'))[0].display.title == "Anna Karenina"
    by_author = rank(works, parse_query("dc.creator=tolstoy"))
    assert by_author[0].display.title == "Anna Karenina" and by_author[1].score == 0
    # the author boost: the same word matching the main author's surname
    plain = Ranker(parse_query("dc.title=anna"))
    boosted = Ranker(parse_query("anna"))
    plain.prepare(works)
    boosted.prepare(works)
    brown = next(w for w in works if w.display.authors == ("Brown, Anna",))
    assert boosted.score(brown) > plain.score(brown)


def test_holding_libraries_boost_is_modest() -> None:
    one = _book("Programming in Ada", authors=("Barnes, J. G. P.",), year=1982)
    many = [
        replace(_book("Ada programming manual", authors=("Pyle, I.",), year=1981), target_id=t)
        for t in "abcd"
    ]
    works = _works([one, *many])
    shared = next(w for w in works if len(w.libraries) == 4)
    ranked = rank(works, parse_query("ada"))
    # both titles hold "ada" once; the 4-library book wins by the holdings factor only
    lone = next(w for w in works if w is not shared)
    assert shared.score > lone.score
    assert shared.score / lone.score < 1.3
    # a clearly better match held by one library still comes first
    strong = rank(works, parse_query('dc.title="programming in ada"'))
    assert strong[0].display.title == "Programming in Ada"
    assert ranked[0] is shared


def test_query_terms_leave_out_negated_branches_and_dates() -> None:
    terms = query_terms(parse_query("dc.title=war and dc.date=1869 not dc.creator=tolstoy"))
    assert [(t.word, t.field) for t in terms] == [("war", "title")]
    masked = query_terms(parse_query("comp*"))
    assert masked[0].masked and masked[0].word == "comp"
    works = _works([_book("Computers and society", authors=("Rosenberg, R.",), year=1986)])
    assert rank(works, parse_query("comp*"))[0].score > 0


def test_sorts() -> None:
    works = _works(
        [
            _book("Zebra finches", authors=("Adams, A.",), year=2001),
            _book("Apple growing", authors=("Young, Y.",), year=1950, target="b"),
            _book("Middlemarch", year=1871, target="c"),
            replace(_book("Apple growing", authors=("Young, Y.",), year=1950), target_id="d"),
        ]
    )
    rank(works, parse_query("growing"))
    titles = lambda cs: [c.display.title for c in cs]  # noqa: E731
    assert titles(sort_clusters(works, "title")) == [
        "Apple growing",
        "Middlemarch",
        "Zebra finches",
    ]
    # no author sorts last
    assert titles(sort_clusters(works, "author")) == [
        "Zebra finches",
        "Apple growing",
        "Middlemarch",
    ]
    assert titles(sort_clusters(works, "date-asc")) == [
        "Middlemarch",
        "Apple growing",
        "Zebra finches",
    ]
    assert titles(sort_clusters(works, "date-desc"))[0] == "Zebra finches"
    assert titles(sort_clusters(works, "libraries"))[0] == "Apple growing"
    assert titles(sort_clusters(works, "relevance"))[0] == "Apple growing"
    with pytest.raises(ValueError, match="unknown sort"):
        sort_clusters(works, "colour")
