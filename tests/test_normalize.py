"""normalize(): charsets, ISBD clean-up, broken and hostile records, and fuzzing."""

from __future__ import annotations

import contextlib
import dataclasses
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import RawRecord, Record, RecordError
from normalizers import normalize
from normalizers.clean import first_year, isbn13, language_codes, trim

DATA = Path(__file__).parent / "data" / "normalize"
SHARED = Path(__file__).parents[1] / ".." / "shared" / "data" / "marc21"


def shared_records(name: str) -> list[bytes]:
    """Records of a file in ../shared/data/marc21, split on the record terminator."""
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} not present (shared test data)")
    return [chunk + b"\x1d" for chunk in path.read_bytes().split(b"\x1d") if chunk.strip()]


def xml(name: str) -> str:
    return (DATA / name).read_text("utf-8")


def from_xml(text: str) -> Record:
    return normalize(RawRecord("t", 1, "marcxml", text.encode("utf-8")))


# -- MARCXML and ISO2709 decoding -------------------------------------------------------------


def test_marcxml_output_is_nfc_although_the_record_is_decomposed() -> None:
    text = xml("alceste.xml")
    assert "E\u0301ditions" in text  # LC writes decomposed diacritics
    record = from_xml(text)
    assert record.publisher == "\u00c9ditions Galil\u00e9e"
    for value in (record.title, record.publisher, record.place, *record.subjects):
        assert unicodedata.is_normalized("NFC", value)


def test_raw_target_and_position_are_carried() -> None:
    raw = RawRecord("lib9", 17, "marcxml", (DATA / "alceste.xml").read_bytes())
    record = normalize(raw)
    assert (record.target_id, record.position, record.raw) == ("lib9", 17, raw)
    assert record.flavour == "marc21"


def test_a_collection_of_one_record_is_read() -> None:
    assert xml("arithmetic-sandburg.xml").lstrip().startswith("<?xml")
    assert from_xml(xml("arithmetic-sandburg.xml")).title == "Arithmetic"


def test_a_collection_of_two_records_is_refused() -> None:
    text = xml("arithmetic-sandburg.xml")
    start, end = text.index("<record>"), text.index("</record>") + len("</record>")
    doubled = text[:end] + text[start:end] + text[end:]
    with pytest.raises(RecordError, match="2 records"):
        from_xml(doubled)


def test_marcxml_without_namespace_is_read() -> None:
    text = xml("alceste.xml").replace(' xmlns="http://www.loc.gov/MARC21/slim"', "")
    assert "xmlns" not in text
    assert from_xml(text) == from_xml(xml("alceste.xml"))


def test_rda_publication_264_wins_over_copyright_and_260() -> None:
    # the same real record, recatalogued the RDA way: 264 _4 copyright date, 264 _1 publication
    text = xml("alceste.xml")
    start = text.index('<datafield tag="260"')
    end = text.index("</datafield>", start) + len("</datafield>")
    field_260 = text[start:end]
    copyright_264 = (
        '<datafield tag="264" ind1=" " ind2="4"><subfield code="c">\u00a91975</subfield>'
        "</datafield>"
    )
    publication_264 = field_260.replace(
        'tag="260" ind1=" " ind2=" "', 'tag="264" ind1=" " ind2="1"'
    )
    assert publication_264 != field_260
    rda = text[:start] + copyright_264 + publication_264 + text[end:]
    record = from_xml(rda)
    assert (record.place, record.publisher, record.year) == (
        "Paris (9, rue Linn\u00e9, 75005)",
        "\u00c9ditions Galil\u00e9e",
        1977,
    )
    only_copyright = text[:start] + copyright_264 + text[end:]
    assert from_xml(only_copyright).year == 1975


def test_year_falls_back_to_008_date1() -> None:
    text = xml("alceste.xml")
    no_date = text.replace('<subfield code="c">1977.</subfield>', "")
    assert no_date != text
    assert '008">780601s1977' in text
    assert from_xml(no_date).year == 1977
    no_year = no_date.replace("780601s1977", "780601s19uu")
    assert from_xml(no_year).year is None


def test_invalid_isbns_are_left_out() -> None:
    text = xml("alceste.xml")
    assert from_xml(text).isbns == ("9782718600819",)
    broken = text.replace(">2718600810 :<", ">2718600811 :<")
    assert broken != text
    assert from_xml(broken).isbns == ()


# -- charsets ---------------------------------------------------------------------------------


def test_marc8_and_utf8_versions_of_the_marc4j_test_records_normalize_equal() -> None:
    marc8 = shared_records("brkrtest.mrc")
    utf8 = shared_records("brkrtest_UTF8.mrc")
    assert len(marc8) == len(utf8) == 8
    for m, u in zip(marc8, utf8, strict=True):
        assert m[9:10] == b" " and u[9:10] == b"a"
        from_marc8 = normalize(RawRecord("t", 1, "usmarc", m))
        from_utf8 = normalize(RawRecord("t", 1, "usmarc", u))
        assert from_marc8.charset == "marc-8"
        assert dataclasses.replace(from_marc8, charset="utf-8") == from_utf8


def test_a_mislabelled_leader_is_overruled_by_the_bytes_and_config_wins_over_both() -> None:
    # Evergreen's FSL.marc is UTF-8 Cyrillic with leader/09 blank (which says MARC-8)
    raw = RawRecord("t", 1, "usmarc", shared_records("FSL.marc")[0])
    assert raw.data[9:10] == b" "
    fixed = normalize(raw, charset="utf-8")
    assert fixed.charset == "utf-8"
    assert fixed.title == "Люди с чистой совестью : [Воспоминания]"
    guessed = normalize(raw)
    assert guessed == fixed and not guessed.charset_suspect
    forced = normalize(raw, charset="marc-8")  # the target's configuration comes first
    assert forced.charset == "marc-8" and forced.title != fixed.title


def test_charset_argument_marc8_overrides_leader_a() -> None:
    utf8 = shared_records("brkrtest_UTF8.mrc")[1]
    marc8 = shared_records("brkrtest.mrc")[1]
    relabelled = marc8[:9] + b"a" + marc8[10:]  # a MARC-8 record that claims UTF-8
    expected = normalize(RawRecord("t", 1, "usmarc", utf8))
    got = normalize(RawRecord("t", 1, "usmarc", relabelled), charset="MARC8")
    assert got.charset == "marc-8"
    assert dataclasses.replace(got, charset="utf-8") == expected


def test_unknown_charset_is_a_record_error() -> None:
    raw = RawRecord("t", 1, "usmarc", (DATA / "late-shift.mrc").read_bytes())
    with pytest.raises(RecordError, match="unknown character set"):
        normalize(raw, charset="klingon-8")


# -- broken and hostile records ---------------------------------------------------------------


def test_pymarc_bad_records_raise_record_error_naming_the_fault() -> None:
    records = shared_records("edsu_pymarc__bad_records.mrc")
    assert len(records) == 8
    good = [normalize(RawRecord("t", i, "usmarc", r)) for i, r in enumerate(records) if i in (0, 7)]
    assert {r.title for r in good} == {"The pragmatic programmer : from journeyman to master"}
    messages = {}
    for i in (1, 2, 4, 5, 6):
        with pytest.raises(RecordError) as info:
            normalize(RawRecord("t", 1, "usmarc", records[i]))
        messages[i] = str(info.value)
    assert messages[1] == "base address 99937 is outside the record of 127 bytes"
    assert messages[2] == "base address 0 is outside the record of 127 bytes"
    assert messages[4].startswith("invalid directory entry 0 ")
    assert messages[5] == "base address 'f0037' is not a number"
    assert messages[6] == "record has no fields (empty directory)"


def test_a_directory_with_wrong_offsets_is_repaired_from_the_field_terminators() -> None:
    record = shared_records("edsu_pymarc__bad_records.mrc")[3]
    assert b"2450089000001\x1e" in record  # the one entry says offset 1: off by one
    repaired = normalize(RawRecord("t", 1, "usmarc", record))
    assert repaired.title == "The pragmatic programmer : from journeyman to master"
    assert repaired.responsibility == "Andrew Hunt, David Thomas"


def test_recoverable_faults_still_give_a_record() -> None:
    bad_code = shared_records("edsu_pymarc__bad_subfield_code.dat")[0]
    assert normalize(RawRecord("t", 1, "usmarc", bad_code)).title == "ActivePerl with ASP and ADO"
    bad_utf8 = shared_records("edsu_pymarc__utf8_invalid.mrc")[0]
    record = normalize(RawRecord("t", 1, "usmarc", bad_utf8))
    assert record.charset == "utf-8"
    assert record.title.startswith("The coming revolution in teacher licensure")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not well-formed"),
        (b"\x00\x01 not xml", "not well-formed"),
        (b"<html><body>404</body></html>", "not <record>"),
        (b'<record xmlns="http://www.loc.gov/MARC21/slim"/>', "no fields"),
    ],
)
def test_bad_marcxml(body: bytes, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        normalize(RawRecord("t", 1, "marcxml", body))


def test_marcxml_with_entities_is_refused_not_expanded() -> None:
    lol = b'<!ENTITY l0 "lol">' + b"".join(
        b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, 8)
    )
    xxe = b'<!ENTITY x SYSTEM "file:///etc/passwd">'
    for decl, ref in ((lol, b"&l7;"), (xxe, b"&x;")):
        body = (
            b"<!DOCTYPE record [" + decl + b"]><record><leader>00000nam a2200000 a 4500</leader>"
            b'<datafield tag="245" ind1="0" ind2="0"><subfield code="a">'
            + ref
            + b"</subfield></datafield></record>"
        )
        with pytest.raises(RecordError):
            normalize(RawRecord("t", 1, "marcxml", body))


def test_unknown_syntax_and_flavour() -> None:
    data = (DATA / "late-shift.mrc").read_bytes()
    with pytest.raises(RecordError, match="syntax 'grs-1'"):
        normalize(RawRecord("t", 1, "grs-1", data))
    with pytest.raises(RecordError, match="unknown MARC flavour 'danmarc'"):
        normalize(RawRecord("t", 1, "usmarc", data), flavour="danmarc")


def test_a_marc21_record_sent_as_unimarc_is_read_as_marc21() -> None:
    data = (DATA / "late-shift.mrc").read_bytes()
    as_sent = normalize(RawRecord("t", 1, "unimarc", data))
    assert as_sent.flavour == "marc21"
    assert as_sent == normalize(RawRecord("t", 1, "usmarc", data))
    assert as_sent.title.startswith("The late shift")


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=2000),
    syntax=st.sampled_from(["usmarc", "rusmarc", "marcxml", "xml", "dc", "sutrs", "opac"]),
)
def test_arbitrary_bytes_raise_only_record_error(data: bytes, syntax: str) -> None:
    try:
        record = normalize(RawRecord("t", 1, syntax, data))
    except RecordError:
        return
    assert isinstance(record, Record)


GOLDEN_ISO = sorted(DATA.glob("*.mrc"))


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(0, len(GOLDEN_ISO) - 1),
    edits=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.integers(0, 2000),
)
def test_damaged_real_records_raise_only_record_error(
    index: int, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(GOLDEN_ISO[index].read_bytes())
    for offset, value in edits:
        data[offset % len(data)] = value
    damaged = bytes(data[: max(cut, 1)]) if cut < len(data) else bytes(data)
    with contextlib.suppress(RecordError):
        normalize(RawRecord("t", 1, "usmarc", damaged))


# -- clean-up helpers, on values taken from the golden records -------------------------------


@pytest.mark.parametrize(
    ("value", "period", "expected"),
    [
        ("The Computer Bible /", True, "The Computer Bible"),
        ("10 operatic masterpieces;", True, "10 operatic masterpieces"),
        ("Cox, Jerome R.", True, "Cox, Jerome R."),
        ("Oberst, Bruce.", True, "Oberst, Bruce"),
        ("Bible. O.T.", True, "Bible. O.T."),
        ("proceedings of the workshop ... /", True, "proceedings of the workshop ..."),
        ("Keats Pub.,", False, "Keats Pub."),
        ("New Canaan, Conn. :", False, "New Canaan, Conn."),
        ("  spaced   out  :", True, "spaced out"),
        ("", True, ""),
    ],
)
def test_trim(value: str, period: bool, expected: str) -> None:
    assert trim(value, period=period) == expected


def test_first_year() -> None:
    assert first_year("[c1974]") == 1974
    assert first_year("<1973-c1980   >") == 1973
    assert first_year("between 1973 and 1991.") == 1973
    assert first_year("[n.d.]") is None
    assert first_year("19uu") is None


def test_isbn13() -> None:
    assert isbn13("0879832355 (pbk.) : $4.95") == "9780879832353"
    assert isbn13("0-14-044913-2 (pbk.)") == "9780140449136"
    assert isbn13("978-5-04-116100-2") == "9785041161002"
    assert isbn13("0879832356") is None
    assert isbn13("(pbk.)") is None


def test_language_codes() -> None:
    assert language_codes("grchebeng") == ["grc", "heb", "eng"]
    assert language_codes("eng") == ["eng"]
    assert language_codes("   ") == []
    assert language_codes("en") == []
