"""Writers and converters: MARCXML and the line format agree with yaz-marcdump; ISO 2709 keeps
every field and is byte-exact when unchanged; MARC21 -> RUSMARC -> MARC21 keeps the core
fields; MARC-in-JSON, Dublin Core and the canonical JSON have the shape they promise."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from core import RawRecord, Record, RecordError
from normalizers import normalize
from normalizers.convert import convert
from normalizers.dc import from_dc
from normalizers.dump import dump
from normalizers.iso2709 import split_stream
from normalizers.mapping import to_record
from normalizers.marc import MarcRecord, read_file, read_iso2709, read_marcxml
from normalizers.writers import (
    canonical_dict,
    to_dc,
    to_iso2709,
    to_line,
    to_marc_json,
    to_marcxml,
)

TESTS = Path(__file__).parent
GOLDEN = TESTS / "data" / "marc_golden"
NORMALIZE = TESTS / "data" / "normalize"
SHARED = TESTS.parent / ".." / "shared" / "data"
GOLDEN_ISO = sorted(GOLDEN.glob("*.mrc"))

needs_marcdump = pytest.mark.skipif(
    shutil.which("yaz-marcdump") is None, reason="yaz-marcdump not installed (Debian 'yaz')"
)

#: what yaz-marcdump is told each golden file's charset is
YAZ_CHARSET = {"cp1251": "cp1251", "utf8": "UTF-8", "koi8r": "koi8-r", "marc8": "MARC-8"}


def marcs(path: Path) -> list[MarcRecord]:
    out = []
    for _, item in read_file(path.read_bytes()):
        assert not isinstance(item, RecordError), item
        out.append(item)
    return out


def shared_files(*names: str) -> list[Path]:
    paths = [SHARED / name for name in names]
    missing = [p for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"{missing[0]} not present (shared test data)")
    return paths


def xml_structure(root: etree._Element) -> list[tuple[Any, ...]]:
    """MARCXML as comparable data: NFC text, namespace and layout left out."""

    def text(el: etree._Element) -> str:
        return unicodedata.normalize("NFC", "".join(el.itertext()))

    out: list[tuple[Any, ...]] = []
    for record in root.iter("{*}record"):
        for el in record:
            name = etree.QName(el).localname
            if name == "leader":
                out.append(("leader", text(el)[5:]))  # the length depends on the charset
            elif name == "controlfield":
                out.append((el.get("tag"), text(el)))
            elif name == "datafield":
                subs = tuple((sf.get("code"), text(sf)) for sf in el)
                out.append((el.get("tag"), el.get("ind1"), el.get("ind2"), subs))
        out.append(("end",))
    return out


# -- agreement with YAZ -------------------------------------------------------------------------


@needs_marcdump
@pytest.mark.parametrize(
    "path", [p for p in GOLDEN_ISO if "iso5426" not in p.name], ids=lambda p: p.name
)
def test_marcxml_equals_yaz_marcdump_for_the_golden_records(path: Path) -> None:
    charset = YAZ_CHARSET[path.name.split(".")[-2]]
    theirs = subprocess.run(
        ["yaz-marcdump", "-f", charset, "-t", "UTF-8", "-o", "marcxml", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    ours = to_marcxml(marcs(path))
    assert xml_structure(etree.fromstring(ours)) == xml_structure(etree.fromstring(theirs))


@needs_marcdump
@pytest.mark.parametrize(
    "name",
    [
        "marc21/brkrtest.mrc",
        "marc21/jazz_1k.mrc",
        "marc21/lul_fre_500.mrc",
        "marc21/marc-charset_t_cjk1.marc",
        "marc21/marc-charset_t_cyrillic.marc",
        "marc21/oclc_63111280_export_as_UTF8_from_connexion.mrc",
    ],
)
def test_marcxml_equals_yaz_marcdump_marc8_to_utf8(name: str) -> None:
    """``yaz-marcdump -f MARC-8 -t UTF-8 -o marcxml``, after canonicalisation (parsed, NFC,
    record lengths aside), for real MARC-8 samples (escapes, combining marks) and UTF-8."""
    (path,) = shared_files(name)
    utf8 = path.read_bytes()[9:10] == b"a"
    options = [] if utf8 else ["-f", "MARC-8", "-t", "UTF-8"]
    theirs = subprocess.run(
        ["yaz-marcdump", *options, "-o", "marcxml", str(path)], capture_output=True, check=True
    ).stdout
    records = marcs(path)
    clean = [m for m in records if not m.charset_suspect]
    assert len(clean) >= len(records) - 1
    ours = xml_structure(etree.fromstring(to_marcxml(records)))
    expected = xml_structure(etree.fromstring(theirs))
    assert len(ours) == len(expected)
    different = [i for i, (a, b) in enumerate(zip(ours, expected, strict=True)) if a != b]
    # only a record we flagged (an unmapped byte: U+FFFD here, dropped by YAZ) may differ
    assert len(different) <= len(records) - len(clean)


@needs_marcdump
@pytest.mark.parametrize(
    ("name", "charset"),
    [("unimarc/nlr_rusmarc_cp1251.iso", "cp1251"), ("unimarc/urait_rusmarc_utf8.iso", "UTF-8")],
)
def test_line_format_equals_yaz_marcdump(name: str, charset: str) -> None:
    (path,) = shared_files(name)
    theirs = subprocess.run(
        ["yaz-marcdump", "-f", charset, "-t", "UTF-8", str(path)], capture_output=True, check=True
    ).stdout.decode("utf-8")
    ours = "".join(to_line(m) for m in marcs(path))
    assert unicodedata.normalize("NFC", theirs) == ours


# -- ISO 2709 -----------------------------------------------------------------------------------


def round_trip_files() -> list[Path]:
    names = ["marc21/jazz_1k.mrc", "marc21/hebrew.marc", "unimarc/nlr_rusmarc_cp1251.iso"]
    extra = [SHARED / n for n in names if (SHARED / n).exists()]
    return [*GOLDEN_ISO, *sorted(NORMALIZE.glob("*.mrc")), *extra]


def declaration_masked(marc: MarcRecord) -> tuple[Any, ...]:
    """The fields, with the charset UNIMARC 100 $a/26-29 declares left out (the writer
    updates it to the charset it writes)."""
    fields = []
    for f in marc.fields:
        if f.tag == "100" and marc.flavour != "marc21":
            f = f._replace(subfields=tuple((c, v[:26] + v[30:]) for c, v in f.subfields))
        fields.append(f)
    return marc.control, tuple(fields)


@pytest.mark.parametrize("path", round_trip_files(), ids=lambda p: p.name)
def test_iso2709_written_again_keeps_every_field(path: Path) -> None:
    for marc in marcs(path):
        again = read_iso2709(to_iso2709(marc))
        assert declaration_masked(again) == declaration_masked(marc)
        assert again.charset == "utf-8" and again.flavour == marc.flavour
        before, after = canonical_dict(to_record(marc)), canonical_dict(to_record(again))
        for name in ("charset", "charset_suspect"):
            before.pop(name), after.pop(name)
        assert after == before


def test_a_utf8_record_written_unchanged_is_byte_for_byte_the_same() -> None:
    for path in (GOLDEN / "kernighan-ritchie-c.utf8.mrc", GOLDEN / "abelson-sicp.utf8.mrc"):
        data = path.read_bytes()
        assert to_iso2709(read_iso2709(data)) == data


def test_writing_in_a_code_page_updates_the_declaration() -> None:
    marc = read_iso2709((GOLDEN / "tolstoy-voina-i-mir.utf8.mrc").read_bytes())
    cp1251 = to_iso2709(marc, "cp1251")
    assert cp1251 == (GOLDEN / "tolstoy-voina-i-mir.cp1251.mrc").read_bytes()
    utf8 = to_iso2709(marc)
    assert b"y0rusy50  " in utf8 and read_iso2709(utf8).charset == "utf-8"
    with pytest.raises(RecordError, match="not supported"):
        to_iso2709(marc, "marc-8")


def test_dump_writes_unchanged_records_byte_for_byte_and_reports_broken_ones() -> None:
    data = b"".join(p.read_bytes() for p in GOLDEN_ISO)
    broken = data + b"00099nam  BROKEN\x1d" + GOLDEN_ISO[0].read_bytes()
    out, err = io.BytesIO(), io.StringIO()
    report = dump([("all.mrc", broken)], out, err, to="iso2709")
    assert out.getvalue() == data + GOLDEN_ISO[0].read_bytes()
    assert report.written == len(GOLDEN_ISO) + 1
    assert err.getvalue() == (
        f"all.mrc: record at byte {len(data)}: record of 17 bytes is shorter than its"
        " 24-byte leader\n"
    )


# -- conversion ---------------------------------------------------------------------------------

CORE = ("title", "publisher", "place", "year", "isbns", "issns", "languages", "edition")


def core_of(record: Record) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in CORE}
    values["authors"] = sorted(record.authors)
    values["subjects"] = sorted(record.subjects)
    values["classifications"] = sorted(record.classifications)
    return values


def marc21_samples() -> list[MarcRecord]:
    out = [m for p in GOLDEN_ISO for m in marcs(p) if m.flavour == "marc21"]
    out += [m for p in sorted(NORMALIZE.glob("*.mrc")) for m in marcs(p)]
    out += [read_marcxml(p.read_bytes()) for p in sorted(NORMALIZE.glob("*.xml"))]
    return out


@pytest.mark.parametrize("index", range(len(marc21_samples())))
def test_marc21_to_rusmarc_to_marc21_keeps_the_core_fields(index: int) -> None:
    marc = marc21_samples()[index]
    rusmarc = convert(marc, "rusmarc")
    assert rusmarc.flavour == "rusmarc" and rusmarc.leader.endswith("450 ")
    back = convert(rusmarc, "marc21")
    assert core_of(to_record(back)) == core_of(to_record(marc))
    # and the RUSMARC record itself says the same through the RUSMARC field map
    rus, orig = to_record(rusmarc), to_record(marc)
    assert (rus.title, rus.isbns, rus.year, rus.publisher) == (
        orig.title,
        orig.isbns,
        orig.year,
        orig.publisher,
    )
    assert len(rus.authors) == len(orig.authors)


def test_marc21_to_rusmarc_round_trip_over_1500_real_records() -> None:
    paths = shared_files("marc21/jazz_1k.mrc", "marc21/lul_fre_500.mrc")
    total = same = 0
    for path in paths:
        for marc in marcs(path):
            total += 1
            back = convert(convert(marc, "rusmarc"), "marc21")
            same += core_of(to_record(back)) == core_of(to_record(marc))
    assert total == 1500
    assert same / total >= 0.98  # the rest: cataloguing slips ("$a Title / $b ...")


def test_rusmarc_to_marc21_to_rusmarc_keeps_title_names_and_imprint() -> None:
    samples = [m for p in GOLDEN_ISO for m in marcs(p) if m.flavour != "marc21"]
    if (SHARED / "unimarc" / "nlr_rusmarc_cp1251.iso").exists():
        samples += marcs(SHARED / "unimarc" / "nlr_rusmarc_cp1251.iso")
    for marc in samples:
        marc21 = convert(marc, "marc21")
        assert marc21.flavour == "marc21" and marc21.control_value("008")
        back = to_record(convert(marc21, marc.flavour))
        orig = to_record(marc)
        for name in ("title", "authors", "publisher", "place", "year", "isbns", "languages"):
            assert getattr(back, name) == getattr(orig, name), name


def test_a_set_volume_becomes_one_marc21_record_with_the_set_title() -> None:
    (path,) = shared_files("unimarc/tver_rusmarc_2.iso")
    marc21 = convert(marcs(path)[0], "marc21")
    f245 = marc21.get("245")[0]
    assert f245.first("a") == "Электрические машины."
    assert f245.first("n") == "Т. 1,"
    assert marc21.get("100")[0].first("a") == "Иванов-Смоленский, А. В."
    assert [f.first("a") for f in marc21.get("852")] == ["ТВЕРСКАЯ ОУНБ"] * 2


def test_convert_refuses_unknown_targets_and_keeps_same_family_records() -> None:
    marc = marcs(GOLDEN / "abelson-sicp.utf8.mrc")[0]
    assert convert(marc, "unimarc") is marc
    assert convert(marc, "rusmarc").flavour == "rusmarc"
    with pytest.raises(RecordError, match="cannot convert"):
        convert(marc, "danmarc")


# -- JSON and Dublin Core -----------------------------------------------------------------------


def test_marc_in_json() -> None:
    marc = marcs(GOLDEN / "kernighan-ritchie-c.utf8.mrc")[0]
    data = json.loads(json.dumps(to_marc_json(marc)))
    assert data["leader"] == marc.leader
    assert data["fields"][0] == {"001": "svod-golden-0005"}
    f245 = next(f["245"] for f in data["fields"] if "245" in f)
    assert f245 == {
        "ind1": "1",
        "ind2": "4",
        "subfields": [
            {"a": "The C programming language /"},
            {"c": "Brian W. Kernighan, Dennis M. Ritchie."},
        ],
    }


def test_dublin_core_reads_back_through_the_dc_normalizer() -> None:
    record = normalize(
        RawRecord("t", 1, "usmarc", (GOLDEN / "kernighan-ritchie-c.utf8.mrc").read_bytes())
    )
    back = from_dc(to_dc(record))
    assert (back.title, back.authors, back.year, back.isbns, back.publisher) == (
        record.title,
        record.authors,
        record.year,
        record.isbns,
        "Englewood Cliffs, N.J., Prentice Hall",
    )
    assert back.languages == ("eng",) and back.flavour == "dc"


def test_canonical_json_has_the_stable_keys() -> None:
    record = normalize(
        RawRecord("t", 1, "rusmarc", (GOLDEN / "tolstoy-voina-i-mir.cp1251.mrc").read_bytes())
    )
    data = json.loads(json.dumps(canonical_dict(record)))
    for key in ("title", "authors", "publisher", "year", "isbns", "languages", "subjects"):
        assert key in data
    assert (data["flavour"], data["charset"], data["charset_suspect"]) == (
        "rusmarc",
        "cp1251",
        False,
    )
    assert {"library", "location", "call_number", "status"} <= set(data["holdings"][0])
    assert data["holdings"][1]["status"] == "available"
    assert "raw" not in data


def test_sutrs_and_dc_syntaxes() -> None:
    sutrs = normalize(RawRecord("z", 1, "sutrs", b"This is dummy SUTRS record number 1\n"))
    assert (sutrs.title, sutrs.flavour) == ("This is dummy SUTRS record number 1", "sutrs")
    koi8 = normalize(RawRecord("z", 1, "sutrs", "Война и мир, 1869".encode("koi8-r")))
    assert (koi8.title, koi8.year, koi8.charset) == ("Война и мир, 1869", 1869, "koi8-r")
    dc = to_dc(Record(title="Война и мир", authors=("Толстой, Л. Н.",), year=1869))
    for syntax in ("dc", "xml"):
        record = normalize(RawRecord("s", 1, syntax, dc))
        assert (record.title, record.authors, record.year) == (
            "Война и мир",
            ("Толстой, Л. Н.",),
            1869,
        )
    with pytest.raises(RecordError):
        normalize(RawRecord("s", 1, "dc", b"<dc/>"))


def test_every_record_of_a_file_splits_the_same_way_as_yaz_counts_them() -> None:
    stream = b"".join(p.read_bytes() for p in GOLDEN_ISO)
    assert len(list(split_stream(stream))) == len(GOLDEN_ISO)
