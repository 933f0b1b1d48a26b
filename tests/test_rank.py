"""Relevance (BM25F with stemming and boosts) and the sorts, over clustered records."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from core import Record
from core.clusters import Cluster, Manifestation
from dedup import Clusterer
from dedup.keys import normalize_text
from dedup.merge import merger
from dedup.normalize import parse_name, skeleton, title_proper
from federator.query import parse_query
from federator.rank import (
    AUTHOR_BOOST,
    FIELDS,
    K1,
    LIBRARY_BOOST,
    TITLE_BOOST,
    QueryTerm,
    Ranker,
    query_terms,
    rank,
    sort_clusters,
    stem,
)

DATA = Path(__file__).parent / "data" / "dedup"


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


# -- the cached features follow the clusters ---------------------------------------------


def _edition(id: str, *records: Record) -> Manifestation:
    m = Manifestation(id, merger())
    for r in records:
        m.add(r)
    return m


def test_a_cluster_that_gains_a_member_is_analysed_again() -> None:
    openings = _edition("m1", _book("Openings", authors=("Keene, R.",)))
    primer = _edition("m2", _book("Chess primer", target="b"))
    ranker = Ranker(parse_query("chess"))
    ranker.rank([openings, primer])
    assert openings.score == 0 and primer.score > 0
    # another library's record of the same book brings a subject: the merged record has it
    openings.add(_book("Openings", authors=("Keene, R.",), subjects=("Chess",), target="c"))
    ranked = ranker.rank([openings, primer])
    assert openings.score > 0
    fresh = Ranker(parse_query("chess")).rank([openings, primer])
    assert [(c.id, c.score) for c in ranked] == [(c.id, c.score) for c in fresh]
    # a second library holds the primer: the same text, so only the holdings factor moves
    before = primer.score
    primer.add(_book("Chess primer", target="d"))
    ranker.rank([openings, primer])
    assert primer.score == pytest.approx(before * (1 + LIBRARY_BOOST * math.log(2)))


def test_a_ranker_tells_apart_clusters_with_the_same_id() -> None:
    # two sessions' clusterers both number from 1: features are not shared between them
    ranker = Ranker(parse_query("chess"))
    assert ranker.rank([_edition("m1", _book("Chess primer"))])[0].score > 0
    assert ranker.rank([_edition("m1", _book("Gardening"))])[0].score == 0


@functools.cache
def _labeled_libraries() -> list[list[Record]]:
    from federator.collection import BadRecord, read_records
    from normalizers import normalize

    out = []
    for name in ("lib-a.mrc", "lib-b.xml", "lib-c.mrc", "lib-d-rusmarc.iso"):
        items = read_records(str(DATA / name))
        out.append([normalize(i[1]) for i in items if not isinstance(i, BadRecord)])
    return out


def _reference_scores(clusters: list[Cluster], query: str) -> dict[str, float]:
    # the module docstring's formula, computed the plain way from each display record
    terms = query_terms(parse_query(query))

    def words(texts: Iterable[str]) -> list[str]:
        return [w for t in texts if t for w in normalize_text(t).split()]

    docs = {}
    for c in clusters:
        r = c.display
        names = [x.name for x in r.contributors]
        docs[c.id] = {
            "title": words([r.title, r.subtitle, r.uniform_title, *r.parallel_titles, *r.series]),
            "author": words([*r.authors, *names, r.responsibility]),
            "subject": words(r.subjects),
            "other": words([r.publisher, r.place, r.edition]),
        }
    n = len(clusters) or 1
    avg = {f: max(1.0, sum(len(d[f]) for d in docs.values()) / n) for f in FIELDS}

    def ntf(t: QueryTerm, doc: dict[str, list[str]]) -> float:
        total = 0.0
        for f, (w, b) in FIELDS.items():
            if t.field in (None, f):
                if t.masked:
                    tf = sum(1 for x in doc[f] if x.startswith(t.word))
                else:
                    tf = [stem(x) for x in doc[f]].count(t.stem)
                total += w * tf / (1 - b + b * len(doc[f]) / avg[f])
        return total

    ntfs = {(t, cid): ntf(t, doc) for t in set(terms) for cid, doc in docs.items()}
    idf = {}
    for t in terms:
        having = sum(1 for cid in docs if ntfs[t, cid] > 0)
        idf[t] = math.log(1 + (n - having + 0.5) / (having + 0.5))
    phrase = " ".join(t.word for t in terms if t.field in ("title", None) and not t.masked)
    asked = {t.word for t in terms if t.field in ("author", None) and not t.masked}
    out = {}
    for c in clusters:
        bm25 = 0.0
        for t in terms:
            x = ntfs[t, c.id]
            bm25 += idf[t] * x * (K1 + 1) / (K1 + x)
        r = c.display
        main = [*r.authors[:1], *[x.name for x in r.contributors[:1]]]
        surnames = {s for m in main for s in (parse_name(m)[0], normalize_text(m.split(",")[0]))}
        surnames.discard("")
        if phrase and phrase == normalize_text(title_proper(r.title)):
            bm25 *= 1 + TITLE_BOOST
        if surnames & asked or {skeleton(s) for s in surnames} & {skeleton(w) for w in asked}:
            bm25 *= 1 + AUTHOR_BOOST
        out[c.id] = bm25 * (1 + LIBRARY_BOOST * math.log(len(c.libraries)))
    return out


#: plain, several words, fielded, masked, by author, Cyrillic, a repeated word, negation
QUERIES = ["computer", "history of schools", "dc.title=guide", "comp*", "dc.creator=tokareva",
           "thomas paine", "истории", "gubernii", "schools and schools",
           "dc.title=talisman not novel"]  # fmt: skip


def test_ranking_as_results_arrive_follows_the_formula() -> None:
    clusterer = Clusterer()
    rankers = {q: Ranker(parse_query(q)) for q in QUERIES}
    for library in _labeled_libraries():  # one library answering after another
        clusterer.add_all(library)
        works = clusterer.clusters()
        first = {c.id: min((r.target_id, r.position) for r in c.records) for c in works}
        for query, ranker in rankers.items():
            ranked = ranker.rank(works)
            expected = _reference_scores(works, query)
            scores = [c.score for c in works]
            assert scores == pytest.approx([expected[c.id] for c in works]), query
            order = sorted(
                works,
                key=lambda c: (-c.score, normalize_text(c.display.title), c.display.year or 0,
                               first[c.id]),
            )  # fmt: skip
            assert ranked == order, query
    for query, ranker in rankers.items():
        assert any(c.score for c in ranker.rank(works)), query
