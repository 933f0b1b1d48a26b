"""Clustering rules, one at a time: normalization, identifiers, reject rules, works, the
merged display record, incremental additions. Records are real books (Debian's sample
MARC21 records, LC records from the labeled set) or spelled as catalogs spell them."""

from __future__ import annotations

import doctest
import importlib
from dataclasses import replace
from pathlib import Path

import pytest

from core import ConfigError, RawRecord, Record
from core.clusters import Level
from dedup import Clusterer, features, load_rules, skeleton
from dedup.compare import authors_agree, same_manifestation, words_conflict
from dedup.normalize import edition_number, pages_from_extent, parse_name, title_skeleton
from dedup.rules import default_rules

DATA = Path(__file__).parent / "data" / "dedup"

WAR_AND_PEACE = Record(
    title="War and peace",
    authors=("Tolstoy, Leo, 1828-1910",),
    publisher="Penguin Books",
    place="Harmondsworth",
    year=1982,
    isbns=("9780140444179",),
    pages=1444,
    subjects=("Napoleonic Wars, 1800-1815 -- Fiction",),
    target_id="a",
    position=1,
)


@pytest.mark.parametrize(
    "module",
    [
        "dedup.normalize",
        "dedup.keys",
        "dedup.compare",
        "dedup.merge",
        "dedup.cluster",
        "federator.rank",
        "federator.facets",
    ],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    "spellings",
    [
        ("Толстой", "Tolstoĭ", "Tolstoj", "Tolstoy", "TOLSTOI"),
        ("Достоевский", "Dostoevskiĭ", "Dostoevskij", "Dostoyevsky", "Dostoevsky"),
        ("Чехов", "Chekhov", "Čехов".replace("Č", "Ч")),
        ("Щедрин", "Shchedrin", "Shhedrin"),
        ("Ёлкин", "Елкин", "Elkin"),
        ("Война и мир", "Voĭna i mir", "voina  i  mir"),
    ],
)
def test_transliteration_and_script_variants_share_a_skeleton(spellings: tuple[str, ...]) -> None:
    assert len({skeleton(s) for s in spellings}) == 1, {s: skeleton(s) for s in spellings}


def test_title_skeleton_drops_isbd_marks_brackets_articles_and_gmd() -> None:
    assert title_skeleton("The computer bible /") == title_skeleton("Computer Bible.")
    assert title_skeleton("[Iz Moskvy da v Pekin") == skeleton("Iz Moskvy da v Pekin")
    assert title_skeleton("Hamlet [electronic resource]") == "hamlet"
    assert title_skeleton("Война и мир [Текст] : роман") == "voina i mir roman"
    # "a" alone is a title, not an article
    assert title_skeleton("A") == "a"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Tolstoy, Leo, 1828-1910", ("tolstoi", "l")),
        ("Толстой, Лев Николаевич", ("tolstoi", "l")),
        ("Толстой Л. Н.", ("tolstoi", "l")),
        ("Л. Н. Толстой", ("tolstoi", "l")),
        ("Толстой Лев Николаевич", ("tolstoi", "l")),
        ("Leo Tolstoy", ("tolstoi", "l")),
        ("Tolstoĭ, Aleksei", ("tolstoi", "a")),
    ],
)
def test_names_inverted_initials_and_natural_order(name: str, expected: tuple[str, str]) -> None:
    assert parse_name(name) == expected


def test_initials_agree_with_full_names_but_not_with_other_forenames() -> None:
    lev = features(replace(WAR_AND_PEACE, authors=("Толстой, Л. Н.",)))
    leo = features(WAR_AND_PEACE)
    aleksei = features(replace(WAR_AND_PEACE, authors=("Tolstoĭ, Aleksei",)))
    assert authors_agree(lev, leo) is True
    assert authors_agree(aleksei, leo) is False
    assert authors_agree(features(replace(WAR_AND_PEACE, authors=())), leo) is None


def test_edition_numbers_and_page_counts() -> None:
    assert [edition_number(e) for e in ("2nd ed.", "Изд. 3-е, испр.", "Second edition")] == [
        2,
        3,
        2,
    ]
    assert edition_number("Rev. ed.") is None
    assert pages_from_extent("xii, 345 p. : ill. ; 24 cm") == 345
    assert pages_from_extent("480 с. : ил.") == 480


def test_isbn10_and_isbn13_are_one_identifier_and_bad_check_digits_are_ignored() -> None:
    as10 = replace(WAR_AND_PEACE, isbns=("0-14-044417-3",))
    assert features(as10).identifiers == features(WAR_AND_PEACE).identifiers
    wrong = replace(WAR_AND_PEACE, isbns=("9780140444170",))  # check digit 0, not 9
    assert features(wrong).isbns == frozenset()


def _cluster(records: list[Record]) -> Clusterer:
    c = Clusterer()
    c.add_all(records)
    return c


def test_same_edition_cataloged_differently_merges() -> None:
    other = replace(
        WAR_AND_PEACE,
        title="War and peace /",
        authors=("Tolstoi, L. N.",),
        publisher="Penguin",
        isbns=(),
        pages=1450,
        target_id="b",
        position=9,
    )
    cyrillic_translit_typo = replace(
        WAR_AND_PEACE, title="War adn peace", isbns=(), target_id="c", position=3
    )
    c = _cluster([WAR_AND_PEACE, other, cyrillic_translit_typo])
    assert len(c.manifestations) == 1
    assert c.manifestations[0].libraries == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"year": 1993}, "years_differ"),
        ({"pages": 1300}, "pages_differ"),
        ({"format": "sound"}, "formats_differ"),
        ({"edition": "2nd ed."}, "editions_differ"),
        ({"publisher": "Oxford University Press"}, "publishers_differ"),
        ({"title": "Anna Karenina"}, "title_below"),
        ({"languages": ("rus",)}, "languages_disjoint"),
    ],
)
def test_reject_rules_keep_other_editions_apart(change: dict[str, object], rule: str) -> None:
    base = replace(WAR_AND_PEACE, isbns=(), languages=("eng",))
    other = replace(base, target_id="b", **change)  # type: ignore[arg-type]
    rules = default_rules()
    assert same_manifestation(features(base), features(other), rules, shared_id=False) is None
    without = replace(
        rules,
        fuzzy=replace(rules.fuzzy, reject=tuple(r for r in rules.fuzzy.reject if r.rule != rule)),
    )
    if rule not in ("title_below", "publishers_differ"):
        # the rule alone made the difference
        assert same_manifestation(features(base), features(other), without, shared_id=False)


def test_disjoint_issns_never_merge_even_with_equal_titles() -> None:
    a = Record(
        title="Annual report", publisher="Library of Congress", year=1990, issns=("0083-1565",)
    )
    b = replace(a, issns=("0378-5955",), target_id="b")
    assert len(_cluster([a, b]).manifestations) == 2
    assert len(_cluster([a, replace(b, issns=a.issns)]).manifestations) == 1


def test_a_record_without_usable_key_never_merges() -> None:
    bare = [Record(title="Poems", target_id=t) for t in "abc"]
    assert len(_cluster(bare).manifestations) == 3
    # no title, no identifier: nothing to go by
    blank = [Record(authors=("Pushkin, A. S.",), year=1999, target_id=t) for t in "ab"]
    c = _cluster(blank)
    assert len(c.manifestations) == 2 and len(c.works) == 2


def test_a_bad_shared_isbn_alone_does_not_merge_disagreeing_titles() -> None:
    anna = Record(
        title="Anna Karenina",
        authors=("Tolstoy, Leo",),
        year=1982,
        publisher="Penguin Books",
        isbns=WAR_AND_PEACE.isbns,  # the publisher reused it
        target_id="b",
    )
    c = _cluster([WAR_AND_PEACE, anna])
    assert len(c.manifestations) == 2
    # one author: two works, not one
    assert len(c.works) == 2
    # the shared ISBN does merge when the titles agree (subtitle left out, ISBD marks)
    same = replace(anna, title="War and peace : a novel /", target_id="c")
    assert c.add(same) is c.manifestations[0]


def test_volumes_of_a_series_stay_apart() -> None:
    vol5 = Record(
        title="Rodale organic gardening basics. Volume 5, Herbs",
        authors=("Rodale Books",),
        year=2001,
        publisher="Rodale",
    )
    vol7 = replace(vol5, title="Rodale organic gardening basics. Volume 7, Pests", target_id="b")
    c = _cluster([vol5, vol7])
    assert len(c.manifestations) == 2 and len(c.works) == 2
    assert words_conflict(title_skeleton(vol5.title), title_skeleton(vol7.title))


def test_editions_and_translations_form_one_work() -> None:
    second = replace(
        WAR_AND_PEACE, year=1991, edition="2nd ed.", isbns=("9780140447934",), target_id="b"
    )
    russian = Record(
        title="Война и мир : роман в четырех томах",
        authors=("Толстой, Л. Н.",),
        publisher="Художественная литература",
        place="Москва",
        year=1957,
        languages=("rus",),
        target_id="c",
    )
    english_with_uniform = replace(
        WAR_AND_PEACE, uniform_title="Voĭna i mir. English", target_id="d", position=5
    )
    c = _cluster([russian, WAR_AND_PEACE, second, english_with_uniform])
    assert len(c.manifestations) == 3
    # the uniform title joins the English edition to the Russian work; "War and peace"
    # editions join it through their own titles
    assert len(c.works) == 1
    work = c.works[0]
    assert work.editions == 3 and sorted(work.libraries) == ["a", "b", "c", "d"]


def test_merged_display_record_policy_and_raw_records_kept() -> None:
    raw = RawRecord("b", 9, "usmarc", b"...")
    longer = replace(
        WAR_AND_PEACE,
        title="War and peace : a novel",
        place="",
        publisher="",
        year=None,
        subjects=("Russia -- History -- 1801-1917 -- Fiction",),
        isbns=("9780140444179", "9780140447934"),
        target_id="b",
        position=9,
        raw=raw,
    )
    c = _cluster([WAR_AND_PEACE, longer])
    (m,) = c.manifestations
    d = m.display
    assert d.title == "War and peace : a novel"  # longest
    assert d.publisher == "Penguin Books" and d.year == 1982  # the complete imprint
    assert set(d.subjects) == set(WAR_AND_PEACE.subjects) | set(longer.subjects)  # union
    assert set(d.isbns) == {"9780140444179", "9780140447934"}  # all identifiers
    assert [r.raw for r in m.records] == [None, raw]  # every source record, as sent
    # the work is shown by its title proper
    assert m.work is not None and m.work.display.title == "War and peace"


def test_adding_updates_one_cluster_and_keeps_the_others() -> None:
    c = Clusterer()
    a = c.add(WAR_AND_PEACE)
    b = c.add(replace(WAR_AND_PEACE, title="Anna Karenina", isbns=(), target_id="b"))
    versions = (a.version, b.version)
    shown = a.display
    again = c.add(replace(WAR_AND_PEACE, title="War and peace : a novel", target_id="c"))
    assert again is a and a.version == versions[0] + 1 and b.version == versions[1]
    assert a.display is not shown and a.display.title == "War and peace : a novel"
    assert c.clusters(Level.MANIFESTATION) == [a, b] and len(c) == 3
    assert c.version == 3


def test_debian_sample_duplicates_are_found() -> None:
    from demo.zebra import MissingPackageError, corpus_records
    from normalizers import normalize

    try:
        raws = corpus_records()
    except MissingPackageError as exc:
        pytest.skip(str(exc))
    records = [normalize(RawRecord("debian", i, "usmarc", r)) for i, r in enumerate(raws, 1)]
    c = _cluster(records)
    merged = [m for m in c.manifestations if len(m.records) > 1]
    # the sample holds one book twice under two control numbers, and nothing else twice
    titles = [r.title for r in records]
    twice = {t for t in titles if titles.count(t) > 1}
    assert {m.records[0].title for m in merged} == twice
    assert all(len({r.position for r in m.records}) == 2 for m in merged)


def test_wrong_rules_files_name_the_key() -> None:
    text = (Path(__file__).parents[1] / "dedup" / "data" / "rules.yaml").read_text("utf-8")
    assert load_rules(text) == default_rules()
    with pytest.raises(ConfigError, match="unknown reject rule 'colours_differ'"):
        load_rules(text.replace("rule: formats_differ", "rule: colours_differ", 1))
    with pytest.raises(ConfigError, match="unknown policies"):
        load_rules(text.replace("subjects: union", "subjects: shortest"))


def _labeled_records() -> list[Record]:
    from federator.collection import BadRecord, read_records
    from normalizers import normalize

    files = ["lib-a.mrc", "lib-b.xml", "lib-c.mrc", "lib-d-rusmarc.iso"]
    items = [i for f in files for i in read_records(str(DATA / f), target_id=f)]
    return [normalize(i[1]) for i in items if not isinstance(i, BadRecord)]


def _view(c: Clusterer, level: Level) -> list[tuple[object, ...]]:
    return [
        (x.id, [(r.target_id, r.position) for r in x.records], x.display, x.display.raw)
        for x in c.clusters(level)
    ]


def test_copies_of_cached_records_are_analysed_once_and_cluster_like_fresh_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dedup.cluster

    calls = []

    def counted(record: Record, rules: object = None) -> object:
        calls.append(record)
        return features(record, rules)  # type: ignore[arg-type]

    monkeypatch.setattr(dedup.cluster, "features", counted)
    records = _labeled_records()
    # as an engine's cache serves them: the decoded record, then copies for later searches
    fresh = _cluster([replace(r) for r in records])
    first = _cluster(records)
    analysed = len(calls)
    # the second and third searches merge the same groups: the third reuses merged records
    searches = [_cluster([r.at(r.target_id, r.position, r.raw) for r in records]) for _ in "23"]
    assert analysed == 2 * len(records) and len(calls) == analysed  # copies: no new analysis
    for level in (Level.MANIFESTATION, Level.WORK):
        views = [_view(c, level) for c in (fresh, first, *searches)]
        assert all(v == views[0] for v in views)
    assert sum(len(w.records) > 1 for w in fresh.works) > 50  # merges were exercised
    # arriving in another order, the groups merge as they do without copies
    backwards = _cluster([r.at(r.target_id, r.position, r.raw) for r in reversed(records)])
    plain = _cluster([replace(r) for r in reversed(records)])
    assert _view(backwards, Level.WORK) == _view(plain, Level.WORK)


def test_two_records_of_one_library_merge_by_position_whatever_was_merged_before() -> None:
    # one library cataloged the book twice; the imprints tie, so position decides
    a = replace(WAR_AND_PEACE, publisher="Penguin", isbns=(), position=1)
    b = replace(WAR_AND_PEACE, publisher="Penguin Books", isbns=(), position=2)
    a, b = a.at("a", 1), b.at("a", 2)  # both met before: remembered merges are allowed
    first = _cluster([a, b])
    swapped = _cluster([a.at("a", 2), b.at("a", 1)])
    assert len(first.works) == len(swapped.works) == 1
    assert first.works[0].display.publisher == "Penguin"
    assert swapped.works[0].display.publisher == "Penguin Books"


def test_a_catalogers_bracketed_subtitle_does_not_make_an_edition_a_work_of_its_own() -> None:
    from federator.collection import BadRecord, read_records
    from normalizers import normalize

    demo = Path(__file__).parents[1] / "demo" / "data" / "collections"
    records = [
        normalize(item[1])
        for name in ("oblsci-rusmarc-cp1251.iso", "citylib-rusmarc-utf8.iso")
        for item in read_records(str(demo / name), target_id=name.split("-")[0])
        if not isinstance(item, BadRecord)
    ]
    c = _cluster(records)

    def work_of(title: str) -> set[str]:
        return {m.work.id for m in c.manifestations if m.records[0].title == title and m.work}

    first_version = work_of("Война и мир : [первая редакция романа]")  # Захаров, 2000
    assert len(first_version) == 1
    assert work_of("Война и мир : роман : в 4 т.") == first_version  # 1983
    assert work_of("Война и мир : роман") == first_version  # Эксмо, 2015
    # subtitles the books state still keep volumes of a collected edition apart
    volumes = [
        m.work
        for m in c.manifestations
        if m.records[0].title.startswith("Собрание сочинений : в 22")
    ]
    assert len(volumes) == 2 and volumes[0] is not volumes[1]  # т. 4 and т. 5


def test_a_works_title_does_not_depend_on_which_library_answered_first() -> None:
    english = replace(WAR_AND_PEACE, uniform_title="Voĭna i mir. English", target_id="b")
    russian = Record(
        title="Война и мир",
        authors=("Толстой, Лев",),
        uniform_title="Voĭna i mir",
        year=1957,
        target_id="a",
        position=4,
    )
    for arrival in ([english, russian], [russian, english]):
        (work,) = _cluster(arrival).works
        assert work.editions == 2 and work.display.title == "Война и мир"  # library a's
