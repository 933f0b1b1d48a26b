"""The ``zebra_libraries`` fixture: three real zebrasrv libraries that answer Z39.50 and SRU
exactly as the split manifest says."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import unicodedata
import urllib.parse
import urllib.request
from collections import Counter

import pymarc
import pytest
from lxml import etree

from demo.zebra import (
    MANIFEST_NAME,
    Federation,
    Manifest,
    ManifestEntry,
    ZebraLibrary,
    corpus_records,
)

pytestmark = pytest.mark.servers

SRW = "{http://www.loc.gov/zing/srw/}"
MARCXML = "{http://www.loc.gov/MARC21/slim}"
XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)

# what svod-marc21.abs sends to the Title index (Bib-1 1=4): whole fields, and $t of names
TITLE_FIELDS = {"130", "222", "240", "242", "245", "246", "247", "440", "490", "630", "730"}
TITLE_FIELDS |= {"740", "830"}
TITLE_SUBFIELD_T = {"600", "610", "700", "710", "711", "800"}

needs_yaz_client = pytest.mark.skipif(
    shutil.which("yaz-client") is None, reason="yaz-client not installed (Debian package 'yaz')"
)


# ---------------------------------------------------------------- clients


def yaz_client(lib: ZebraLibrary, *commands: str) -> str:
    """Run yaz-client with ``commands`` on its standard input, after ``open``."""
    script = "\n".join([f"open tcp:{lib.zurl}", *commands, "quit"]) + "\n"
    done = subprocess.run(
        ["yaz-client"], input=script.encode("utf-8"), capture_output=True, timeout=10, check=False
    )
    return done.stdout.decode("utf-8", "replace")


def z_hits(lib: ZebraLibrary, pqf: str) -> int:
    out = yaz_client(lib, f"find {pqf}")
    found = re.search(r"Number of hits: (\d+)", out)
    assert found, f"{lib.name}: no hit count for {pqf!r}:\n{out}"
    return int(found.group(1))


def sru(lib: ZebraLibrary, cql: str, maximum: int = 0) -> tuple[int, list[etree._Element]]:
    """SRU 1.2 searchRetrieve over HTTP GET: the hit count and the MARCXML records."""
    query = urllib.parse.urlencode(
        {
            "version": "1.2",
            "operation": "searchRetrieve",
            "query": cql,
            "maximumRecords": str(maximum),
            "recordSchema": "marcxml",
        }
    )
    with urllib.request.urlopen(f"{lib.sru_url}?{query}", timeout=5) as response:
        root = etree.fromstring(response.read(), XML_PARSER)
    diagnostics = root.find(f"{SRW}diagnostics")
    assert diagnostics is None, etree.tostring(diagnostics).decode()
    count = root.findtext(f"{SRW}numberOfRecords")
    assert count is not None
    return int(count), root.findall(f".//{MARCXML}record")


def controlfield(record: etree._Element, tag: str) -> str | None:
    return record.findtext(f"{MARCXML}controlfield[@tag='{tag}']")


# ---------------------------------------------------------------- record helpers


def fold(text: str) -> str:
    """What the ICU chains do: lower case, then drop the combining marks."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def phrase_key(text: str) -> str:
    """The phrase chain: folded, punctuation and whitespace gone."""
    return "".join(c for c in fold(text) if c.isalnum() or unicodedata.category(c)[0] == "S")


def title_texts(record: pymarc.Record) -> list[str]:
    texts = []
    for field in record.get_fields(*TITLE_FIELDS, *TITLE_SUBFIELD_T):
        if field.tag in TITLE_SUBFIELD_T:
            texts += field.get_subfields("t")
        else:
            texts += [sf.value for sf in field.subfields]
    return texts


def indexed_records(lib: ZebraLibrary) -> list[pymarc.Record]:
    """The records the library indexed (its records.mrc), read by pymarc, not by demo.zebra."""
    data = (lib.workdir / "records.mrc").read_bytes()
    reader = pymarc.MARCReader(io.BytesIO(data), to_unicode=True, force_utf8=True)
    records = [r for r in reader if r is not None]
    assert len(records) == lib.record_count
    return records


def unique_titles(federation: Federation) -> list[ManifestEntry]:
    """Manifest entries whose 245 $a matches no title subfield of any other corpus record."""
    records = [pymarc.Record(data=r, force_utf8=True) for r in corpus_records()]
    assert len(records) == len(federation.manifest.entries)
    counts = Counter(key for r in records for key in {phrase_key(t) for t in title_texts(r)})
    return [
        e
        for e in federation.manifest.entries
        if counts[phrase_key(e.title)] == 1 and not re.search(r'["\\*?^]', e.title)
    ]


# ---------------------------------------------------------------- the fixture itself


def test_fixture_shape(zebra_libraries: Federation) -> None:
    assert [lib.name for lib in zebra_libraries] == ["lib1", "lib2", "lib3"]
    assert len({lib.port for lib in zebra_libraries}) == 3
    for lib in zebra_libraries:
        assert lib.database == lib.name
        assert lib.process.poll() is None
        assert lib.record_count == len(zebra_libraries.manifest.held_by(lib.name))
        assert zebra_libraries.library(lib.name) is lib
    written = (zebra_libraries.workdir / MANIFEST_NAME).read_text("utf-8")
    assert Manifest.from_json(written) == zebra_libraries.manifest


def test_split_covers_one_two_and_three_library_records(zebra_libraries: Federation) -> None:
    manifest = zebra_libraries.manifest
    for copies in (1, 2, 3):
        assert manifest.with_copies(copies), f"no record held by exactly {copies} libraries"
    # every combination of libraries occurs, so "in lib1 and lib3 only" can be tested
    assert {e.libraries for e in manifest.entries} == {
        ("lib1",),
        ("lib2",),
        ("lib3",),
        ("lib1", "lib2"),
        ("lib1", "lib3"),
        ("lib2", "lib3"),
        ("lib1", "lib2", "lib3"),
    }


def test_copies_differ_only_in_local_fields(zebra_libraries: Federation) -> None:
    by_seq = {e.seq: e for e in zebra_libraries.manifest.entries}
    for lib in zebra_libraries:
        records = indexed_records(lib)
        entries = zebra_libraries.manifest.held_by(lib.name)
        for record, entry in zip(records, entries, strict=True):
            assert by_seq[entry.seq] is entry
            assert record["001"].data == entry.local_001(lib.name)
            assert record["003"].data == lib.name
            assert record["852"].get_subfields("a") == [lib.name]
            assert record.leader[9] == "a"
            subfield_a = record["245"].get_subfields("a")[0]
            assert subfield_a.rstrip(" /:;,=.") == entry.title
            assert [
                f.value().split()[0].replace("-", "")
                for f in record.get_fields("020")
                if f.get_subfields("a")
            ] == list(entry.isbns)


# ---------------------------------------------------------------- the servers


@needs_yaz_client
def test_every_library_serves_its_share_over_z3950_and_sru(zebra_libraries: Federation) -> None:
    for lib in zebra_libraries:
        held = len(zebra_libraries.manifest.held_by(lib.name))
        assert z_hits(lib, '@attr 1=_ALLRECORDS @attr 2=103 ""') == held
        assert sru(lib, "cql.allRecords=1")[0] == held
        # 852 $a names the holding library, so each library finds only itself
        for other in zebra_libraries:
            expected = held if other.name == lib.name else 0
            assert sru(lib, f"bath.possessingInstitution={other.name}")[0] == expected


@needs_yaz_client
def test_title_hits_follow_the_manifest(zebra_libraries: Federation) -> None:
    candidates = unique_titles(zebra_libraries)
    chosen = [next(e for e in candidates if len(e.libraries) == k) for k in (1, 2, 3)]
    for entry in chosen:
        for lib in zebra_libraries:
            expected = 1 if lib.name in entry.libraries else 0
            count, records = sru(lib, f'dc.title=="{entry.title}"', maximum=5)
            assert count == expected, (entry, lib.name)
            assert [controlfield(r, "001") for r in records] == (
                [entry.local_001(lib.name)] if expected else []
            )
            assert z_hits(lib, f'@attr 1=4 @attr 6=3 "{entry.title}"') == expected


@needs_yaz_client
def test_z3950_usmarc_record_is_the_librarys_copy(zebra_libraries: Federation) -> None:
    entry = next(e for e in unique_titles(zebra_libraries) if len(e.libraries) == 2)
    for name in entry.libraries:
        lib = zebra_libraries.library(name)
        out = yaz_client(
            lib, f'find @attr 1=4 @attr 6=3 "{entry.title}"', "format usmarc", "show 1"
        )
        assert re.search(rf"^001 {re.escape(entry.local_001(name))}$", out, re.M), out
        assert re.search(rf"^852 .*\$a {name} ", out, re.M), out


def accented_words(manifest: Manifest) -> list[str]:
    """The first non-ASCII word of each title that has one, each word once."""
    words: list[str] = []
    for entry in manifest.entries:
        # LoC's records are decomposed (NFD): compose before splitting into words
        title = unicodedata.normalize("NFC", entry.title)
        found = [w for w in re.findall(r"\w+", title) if not w.isascii() and w.isalpha()]
        if found and fold(found[0]) not in map(fold, words):
            words.append(found[0])
    return words


@needs_yaz_client
def test_accented_terms_fold_case_and_diacritics(zebra_libraries: Federation) -> None:
    words = accented_words(zebra_libraries.manifest)
    assert len(words) >= 3, words  # Königin, Fünf, Électre, Aïda ... are in the corpus
    titles = {
        lib.name: [fold(" ".join(title_texts(r))) for r in indexed_records(lib)]
        for lib in zebra_libraries
    }
    for word in words[:3]:
        variants = {word, word.upper(), fold(word), unicodedata.normalize("NFD", word)}
        total = 0
        for lib in zebra_libraries:
            expected = sum(fold(word) in re.findall(r"\w+", text) for text in titles[lib.name])
            total += expected
            for variant in variants:
                assert sru(lib, f'dc.title="{variant}"')[0] == expected, (lib.name, variant)
            assert z_hits(lib, f'@attr 1=4 "{word.upper()}"') == expected, (lib.name, word)
        assert total > 0, word


def test_sru_explain_names_the_database(zebra_libraries: Federation) -> None:
    lib = zebra_libraries.library("lib2")
    with urllib.request.urlopen(f"{lib.sru_url}?version=1.2&operation=explain", timeout=5) as r:
        root = etree.fromstring(r.read(), XML_PARSER)
    ns = "{http://explain.z3950.org/dtd/2.0/}"
    assert root.findtext(f".//{ns}database") == "lib2"
    assert root.findtext(f".//{ns}port") == str(lib.port)
