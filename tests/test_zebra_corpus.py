"""The demo corpus (Debian's sample records) and its overlapping split into libraries."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pymarc
import pytest
from lxml import etree

import demo.zebra as zebra
from demo.zebra import (
    MARCXML_COLLECTIONS,
    SAMPLE_MARC,
    Manifest,
    MissingPackageError,
    corpus_records,
    plan_split,
    split_corpus,
)

MARCXML = "{http://www.loc.gov/MARC21/slim}"


@pytest.fixture(scope="module")
def corpus() -> list[bytes]:
    try:
        return corpus_records()
    except MissingPackageError as exc:
        pytest.skip(str(exc))


def _sample_leaders() -> list[bytes]:
    """Leaders of sample-marc.gz, found by walking the record lengths."""
    data = gzip.decompress(SAMPLE_MARC.read_bytes())
    leaders, pos = [], 0
    while pos + 24 <= len(data) and data[pos : pos + 5].isdigit():
        leaders.append(data[pos : pos + 24])
        pos += int(data[pos : pos + 5])
    return leaders


def _marcxml_count(path: Path) -> int:
    xml = path.read_bytes()
    if path.suffix == ".gz":
        xml = gzip.decompress(xml)
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    return len(root.findall(f".//{MARCXML}record"))


def test_corpus_is_every_marc21_example_record_in_utf8(corpus: list[bytes]) -> None:
    leaders = _sample_leaders()
    marc21 = [leader for leader in leaders if leader[20:24] == b"4500"]
    assert len(marc21) == len(leaders) - 1  # the danMARC2 record is dropped
    expected = len(marc21) + sum(_marcxml_count(p) for p in MARCXML_COLLECTIONS)
    assert len(corpus) == expected == 69
    for data in corpus:
        assert data[9:10] == b"a" and data[20:24] == b"4500"
        data.decode("utf-8")  # raises if any record is not UTF-8
        record = pymarc.Record(data=data, force_utf8=True)
        assert record["245"] is not None
    # the LoC opera records keep their diacritics through the conversion
    titles = " ".join(pymarc.Record(data=d, force_utf8=True)["245"]["a"] for d in corpus)
    assert "Ko\u0308nigin" in titles or "Königin" in titles


def test_corpus_is_cached_but_callers_get_their_own_list(corpus: list[bytes]) -> None:
    again = corpus_records()
    assert again == corpus and again is not corpus


def test_split_is_deterministic(corpus: list[bytes]) -> None:
    assert split_corpus(corpus) == split_corpus(corpus)
    assert plan_split(corpus) == plan_split(corpus)
    assert plan_split(corpus, seed=7) != plan_split(corpus)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_split_uses_every_combination_of_libraries(corpus: list[bytes], n: int) -> None:
    manifest = plan_split(corpus, n)
    names = tuple(f"lib{i + 1}" for i in range(n))
    assert manifest.libraries == names
    combinations = {combo for k in range(1, n + 1) for combo in itertools.combinations(names, k)}
    assert {e.libraries for e in manifest.entries} == combinations
    shares = split_corpus(corpus, n)
    assert [len(s) for s in shares] == [len(manifest.held_by(name)) for name in names]
    assert sum(len(s) for s in shares) == sum(len(e.libraries) for e in manifest.entries)


def test_split_without_localize_copies_records_unchanged(corpus: list[bytes]) -> None:
    manifest = plan_split(corpus, 2, names=["north", "south"])
    north, south = split_corpus(corpus, 2, names=["north", "south"], localize=False)
    assert north == [corpus[e.seq - 1] for e in manifest.held_by("north")]
    assert south == [corpus[e.seq - 1] for e in manifest.held_by("south")]


def test_localized_copy_keeps_isbn_title_and_author(corpus: list[bytes]) -> None:
    manifest = plan_split(corpus)
    for name, share in zip(manifest.libraries, split_corpus(corpus), strict=True):
        for data, entry in zip(share, manifest.held_by(name), strict=True):
            copy = pymarc.Record(data=data, force_utf8=True)
            original = pymarc.Record(data=corpus[entry.seq - 1], force_utf8=True)
            for tag in ("020", "100", "110", "245", "260", "650", "700"):
                assert [f.value() for f in copy.get_fields(tag)] == [
                    f.value() for f in original.get_fields(tag)
                ], (name, entry.seq, tag)
            assert copy["001"].data == entry.local_001(name)
            assert (original["001"].data or "").strip() == entry.original_001
            assert copy["852"]["a"] == name


def test_manifest_round_trips_through_json(corpus: list[bytes]) -> None:
    manifest = plan_split(corpus)
    assert Manifest.from_json(manifest.to_json()) == manifest
    seqs = [e.seq for e in manifest.entries]
    assert seqs == list(range(1, len(corpus) + 1))


@pytest.mark.parametrize(
    ("n", "names"), [(0, None), (2, ["a"]), (2, ["same", "same"]), (1, ["lib 1"])]
)
def test_split_rejects_bad_library_names(n: int, names: list[str] | None) -> None:
    with pytest.raises(ValueError):
        plan_split([], n, names=names)


def test_missing_examples_name_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(zebra, "_corpus_cache", [])
    monkeypatch.setattr(zebra, "SAMPLE_MARC", tmp_path / "sample-marc.gz")
    with pytest.raises(MissingPackageError, match=r"idzebra-2\.0-examples") as caught:
        corpus_records()
    assert caught.value.package == "idzebra-2.0-examples"
