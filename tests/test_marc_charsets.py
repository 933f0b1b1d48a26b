"""Charsets: the ISO 5426 and MARC-8 decoders against YAZ, and the guess from byte statistics
(UTF-8, cp1251, KOI8-R, CP866, MARC-8, ISO 5426) against declarations that lie."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core import RawRecord, RecordError
from normalizers import normalize
from normalizers.charsets import (
    canonical_charset,
    decode,
    guess_charset,
    iso5426_table,
    nfc,
    unimarc_declared,
)
from normalizers.iso2709 import split_stream
from normalizers.marc import read_file, read_iso2709
from normalizers.writers import to_line

ROOT = Path(__file__).parents[1]
SHARED = ROOT / ".." / "shared" / "data"
GOLDEN = Path(__file__).parent / "data" / "marc_golden"

needs_yaz_iconv = pytest.mark.skipif(
    shutil.which("yaz-iconv") is None, reason="yaz-iconv not installed (Debian 'yaz')"
)
needs_marcdump = pytest.mark.skipif(
    shutil.which("yaz-marcdump") is None, reason="yaz-marcdump not installed (Debian 'yaz')"
)


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (shared test data)")
    return path


def yaz(*args: str, data: bytes) -> bytes:
    return subprocess.run(list(args), input=data, capture_output=True, check=False).stdout


# -- ISO 5426 -----------------------------------------------------------------------------------


@needs_yaz_iconv
def test_iso5426_table_agrees_with_yaz_byte_by_byte() -> None:
    table = iso5426_table()
    assert len(table) >= 60
    for byte, (char, combining) in sorted(table.items()):
        sample = bytes([byte]) + (b"o" if combining else b"")
        theirs = yaz("yaz-iconv", "-f", "ISO5426", "-t", "UTF-8", data=sample).decode("utf-8")
        ours, clean = decode(sample, "iso-5426")
        assert clean
        assert ours == nfc(theirs), f"byte {byte:02X}: {ours!r} != {theirs!r}"
        assert ours == nfc("o" + char if combining else char)


def test_iso5426_reorders_diacritics_and_flags_unknown_bytes() -> None:
    assert decode(b"Fran\xd0cais, \xc1a la m\xc8ode", "iso-5426") == (
        "Français, à la möde",
        True,
    )
    text, clean = decode(b"caf\xc2", "iso-5426")  # a diacritic with no letter after it
    assert text == "caf\u0301" and not clean
    text, clean = decode(b"x\xa0y", "iso-5426")  # 0xA0 is not in ISO 5426
    assert text == "x\ufffdy" and not clean


# -- MARC-8 -------------------------------------------------------------------------------------

MARC8_FILES = [
    "brkrtest.mrc",
    "cyrillic_capital_e.mrc",
    "jazz_1k.mrc",
    "lul_fre_500.mrc",
    "hebrew.marc",
    "marc-charset_t_cjk1.marc",
    "marc-charset_t_cjk2.marc",
    "marc-charset_t_cjk4.marc",
    "marc-charset_t_cyrillic.marc",
    "marc-charset_t_hebrew1.marc",
    "marc-charset_t_hebrew2.marc",
    "marc-charset_t_hebrew3.marc",
    "marc-charset_t_hebrew4.marc",
]


@needs_marcdump
@pytest.mark.parametrize("name", MARC8_FILES)
def test_marc8_decoding_agrees_with_yaz(name: str) -> None:
    """Every record of the MARC-8 samples (escapes to Cyrillic, Hebrew, CJK; combining marks)
    decodes as ``yaz-marcdump -f MARC-8 -t UTF-8`` decodes it, after NFC. YAZ drops a byte
    that has no mapping where we write U+FFFD and flag the record: those records are
    compared with the U+FFFD taken out, and must be flagged."""
    path = shared("marc21", name)
    data = path.read_bytes()
    theirs = yaz("yaz-marcdump", "-f", "MARC-8", "-t", "UTF-8", str(path), data=b"")
    their_records = [r for r in nfc(theirs.decode("utf-8")).split("\n\n") if r.strip()]
    ours = [r for _, r in read_file(data)]
    assert len(ours) == len(their_records)
    flagged = 0
    for record, text in zip(ours, their_records, strict=True):
        assert not isinstance(record, RecordError)
        assert record.charset == "marc-8"
        mine = to_line(record).strip().splitlines()[1:]
        if record.charset_suspect:
            flagged += 1
            mine = [line.replace("\ufffd", "") for line in mine]
        assert mine == text.strip().splitlines()[1:]
    assert flagged <= max(1, len(ours) // 100)


def test_marc8_half_ligature_marks_become_one_double_mark() -> None:
    # MARC-8 EB/EC: ligature halves around "ts"; Unicode and LC's UTF-8 use U+0361
    text, clean = decode(b"\xebt\xecs", "marc-8")
    assert clean and text == "t\u0361s"
    assert unicodedata.is_normalized("NFC", text)


def test_marc8_bad_escape_is_flagged_not_fatal() -> None:
    data = shared("marc21", "edsu_pymarc__bad_marc8_escape.dat").read_bytes()
    record = normalize(RawRecord("t", 1, "usmarc", data))
    assert record.charset == "marc-8" and record.charset_suspect
    assert record.title  # still shown


# -- guessing -----------------------------------------------------------------------------------


RUSSIAN = "Задачи и этюды : сборник шахматных композиций / редкол.: В. Н. Барсуков и др."


@pytest.mark.parametrize("codec", ["cp1251", "koi8-r", "cp866", "utf-8"])
def test_guess_tells_the_cyrillic_code_pages_apart(codec: str) -> None:
    sample = RUSSIAN.encode(codec)
    guess = guess_charset(sample, family="unimarc")
    assert guess.charset == codec and not guess.suspect
    # a declaration that lies loses to the bytes
    for declared in ("cp1251", "koi8-r", "cp866"):
        assert guess_charset(sample, family="unimarc", declared=declared).charset == codec


def test_guess_reads_latin_diacritics_by_flavour() -> None:
    assert guess_charset(b"Fran\xd0cais et \xc2etudes", family="unimarc").charset == "iso-5426"
    assert guess_charset(b"Fran\xf0cais et \xe2etudes", family="marc21").charset == "marc-8"
    assert guess_charset(b"plain ascii", family="marc21", declared="marc-8").charset == "marc-8"
    assert guess_charset(b"\x1b(NA", family="marc21").charset == "marc-8"  # Cyrillic escape


def test_mostly_valid_utf8_is_utf8_but_suspect() -> None:
    sample = ("Война и мир " * 5).encode() + b"\xff"
    guess = guess_charset(sample, family="unimarc", declared="cp1251")
    assert guess.charset == "utf-8" and guess.suspect


@needs_marcdump
@pytest.mark.parametrize("codec", ["koi8-r", "utf-8", "cp866"])
def test_real_rusmarc_records_recoded_by_yaz_are_recognised(codec: str) -> None:
    """The National Library of Russia's cp1251 records, recoded by YAZ (which leaves 100 $a
    saying "0189"): every one is read in its true charset, with the same text."""
    path = shared("unimarc", "nlr_rusmarc_cp1251.iso")
    recoded = yaz("yaz-marcdump", "-f", "cp1251", "-t", codec, "-o", "marc", str(path), data=b"")
    originals = [r for _, r in read_file(path.read_bytes())]
    converted = [r for _, r in read_file(recoded)]
    assert len(converted) == len(originals) == 81
    compared = 0
    for before, after in zip(originals, converted, strict=True):
        assert not isinstance(before, RecordError) and not isinstance(after, RecordError)
        assert after.flavour == "rusmarc"
        try:  # a Ukrainian record's "ї" has no place in KOI8-R: YAZ drops those subfields
            to_line(before).encode(codec)
        except UnicodeEncodeError:
            continue
        compared += 1
        assert (after.charset, after.charset_suspect) == (codec, False)
        assert after.fields == before.fields
    assert compared >= 75


def test_unimarc_declarations() -> None:
    assert unimarc_declared("19980716d1997    u  y0rusy0189    ca") == "cp1251"
    assert unimarc_declared("20111108d2012    km y0rusy89      ca") == "cp1251"
    assert unimarc_declared("20120312d2012    k  y0rusy01020304ca") == "koi8-r"
    assert unimarc_declared("19961119d1996    ||||0itac50      ba") == "utf-8"
    assert unimarc_declared("20240115d1972    k  y0frey0103    ba") == "iso-5426"
    assert unimarc_declared("short") == ""


def test_charset_names() -> None:
    assert canonical_charset("UTF8") == "utf-8"
    assert canonical_charset("MARC8") == "marc-8"
    assert canonical_charset("windows-1251") == "cp1251"
    assert canonical_charset("ISO5426") == "iso-5426"
    assert canonical_charset("KOI8-R") == "koi8-r"
    with pytest.raises(RecordError, match="unknown character set"):
        canonical_charset("klingon-8")


def test_a_record_with_bytes_its_charset_lacks_is_flagged_and_kept() -> None:
    data = (GOLDEN / "tolstoy-voina-i-mir.cp1251.mrc").read_bytes()
    forced = normalize(RawRecord("t", 1, "rusmarc", data), charset="ascii")
    assert forced.charset == "ascii" and forced.charset_suspect
    assert "\ufffd" in forced.title


def test_urait_utf8_record_labelled_cp1251() -> None:
    record = normalize(
        RawRecord("t", 1, "rusmarc", shared("unimarc", "urait_rusmarc_utf8.iso").read_bytes())
    )
    assert (record.charset, record.charset_suspect) == ("utf-8", False)
    assert record.title.startswith("ПЕДАГОГИКА И ПСИХОЛОГИЯ НЕНАСИЛИЯ")


# -- never an exception -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), charset=st.sampled_from(["marc-8", "iso-5426", "utf-8"]))
def test_decoders_never_raise(data: bytes, charset: str) -> None:
    text, clean = decode(data, charset)
    assert isinstance(text, str) and isinstance(clean, bool)
    assert guess_charset(data).charset


WORDS = (
    "война",
    "мир",
    "роман",
    "повесть",
    "рассказы",
    "стихотворения",
    "собрание",
    "сочинений",
    "том",
    "издание",
    "москва",
    "ленинград",
    "наука",
    "история",
    "россии",
    "учебник",
    "пособие",
    "для",
    "вузов",
    "программирование",
    "алгоритмы",
    "математика",
    "физика",
    "химия",
    "библиотека",
    "каталог",
    "журнал",
    "статья",
    "литература",
    "век",
    "годы",
)


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from("lTU")), min_size=2),
    declared=st.sampled_from(["", "cp1251", "koi8-r", "cp866"]),
)
def test_russian_words_are_read_in_their_code_page_whatever_the_declaration(
    words: list[tuple[str, str]], declared: str
) -> None:
    # CAPITALS read in the other code page become lower case: mostly-capital text is ambiguous
    assume(2 * sum(shape != "U" for _, shape in words) > len(words))
    shaped = {"l": str.lower, "T": str.capitalize, "U": str.upper}
    text = " ".join(shaped[shape](word) for word, shape in words)
    for codec in ("cp1251", "koi8-r", "cp866"):
        guess = guess_charset(text.encode(codec), family="unimarc", declared=declared)
        assert guess.charset == codec, text


def test_every_golden_record_split_from_one_stream_keeps_its_charset() -> None:
    files = sorted(GOLDEN.glob("*.mrc"))
    stream = b"".join(p.read_bytes() for p in files)
    records = [read_iso2709(chunk) for _, chunk in split_stream(stream)]
    assert [r.charset for r in records] == [read_iso2709(p.read_bytes()).charset for p in files]
