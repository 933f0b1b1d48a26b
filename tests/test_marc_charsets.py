"""Charsets: the ISO 5426 and MARC-8 decoders against YAZ, and the guess from byte statistics
(UTF-8, cp1251, KOI8-R, CP866, MARC-8, ISO 5426) against declarations that lie."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from pymarc import marc8_mapping

from core import RawRecord, RecordError
from normalizers import normalize
from normalizers.charsets import (
    _RUSSIAN,
    _byte_sum,
    _cyrillic_scores,
    _HighBytes,
    _lone_marks,
    _odd_characters,
    canonical_charset,
    decode,
    decoder,
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


def _marc8_by_the_byte(data: bytes) -> tuple[str, bool]:
    """MARC-8 in its default sets (ASCII in G0, ANSEL in G1), one byte at a time, from LC's
    tables as pymarc has them: a combining mark waits for the character after it."""
    out: list[str] = []
    marks: list[str] = []
    clean = True
    for byte in data:
        table = marc8_mapping.CODESETS[0x42 if byte < 0x80 else 0x45]
        entry = table.get(byte) or table.get(byte ^ 0x80)
        if byte <= 0x20 or byte == 0x7F:  # control characters pass through
            entry = (byte, 0)
        elif entry is None and byte in marc8_mapping.ODD_MAP:
            entry = (marc8_mapping.ODD_MAP[byte], 0)
        if entry is None:
            clean = False
            out.append("\ufffd")
        elif entry[1]:
            marks.append(chr(entry[0]))
        else:
            out += [chr(entry[0]), *marks]
            marks.clear()
    return "".join(out + marks), clean and not marks


@settings(max_examples=2000)
@given(
    st.lists(
        st.sampled_from([*b"\x00\x1f aZ.~\x7f", *range(0x80, 0x100)])
        | st.sampled_from([b"abc", b"Tolstoy, Leo ", b"\xe2e", b"\xe1\xe2a"]).map(list),
        max_size=20,
    ).map(
        lambda parts: bytes(
            b for part in parts for b in (part if isinstance(part, list) else [part])
        )
    )
)
def test_marc8_in_its_default_sets_decodes_as_byte_by_byte(data: bytes) -> None:
    assert decoder("marc-8")(data) == _marc8_by_the_byte(data)


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


# -- valid UTF-8 that is not ------------------------------------------------------------------

# Russian words whose CP866 bytes happen to be valid UTF-8, found by trying every word of the
# shared RUSMARC records: "том" is U+2BAC (an arrow), "ред" a lone Devanagari danda, "тип" a
# cross product, "юго" private use, "сиб" Tai Tham, "спб" Batak, "теории" a harpoon and a
# Gurmukhi letter. "том том" is the example Hypothesis found.
CP866_AS_UTF8 = ["том том", "ред.", "тип, так", "юго", "сиб, спб", "теории", "способ", "так"]


@pytest.mark.parametrize("text", CP866_AS_UTF8)
@pytest.mark.parametrize("declared", ["", "cp1251", "koi8-r", "cp866"])
def test_russian_in_cp866_that_is_valid_utf8_is_read_as_cp866(text: str, declared: str) -> None:
    sample = text.encode("cp866")
    assert not sample.decode("utf-8").isascii()  # valid UTF-8 indeed
    guess = guess_charset(sample, family="unimarc", declared=declared)
    assert guess.charset == "cp866", guess.reason


def test_valid_utf8_declared_utf8_stays_utf8() -> None:
    assert guess_charset("том".encode("cp866"), declared="utf-8").charset == "utf-8"


# Where the UTF-8 reading is a plausible character the bytes cannot tell: "хоз" in CP866 is
# the CJK ideograph U+5BA7, "шин" U+8A2D. Those stay UTF-8, as do real short texts.
SHORT_UTF8 = [
    "宧",
    "設計",
    "한국어",
    "עברית",
    "Ελληνικά",
    "Москва",
    "Œuvres",
    "B♭ major",
    "№ 5",
    "→",
]


@pytest.mark.parametrize("text", SHORT_UTF8)
def test_short_utf8_stays_utf8(text: str) -> None:
    for declared in ("", "cp1251", "cp866"):
        assert guess_charset(text.encode(), family="unimarc", declared=declared).charset == "utf-8"


def _values(paths: list[Path]) -> set[str]:
    values: set[str] = set()
    for path in paths:
        for _, record in read_file(path.read_bytes()):
            if isinstance(record, RecordError):
                continue
            for field in record.fields:
                for _, value in field.subfields:
                    if not value.isascii():
                        values.add(value)
                        values.update(word for word in value.split() if not word.isascii())
    return values


@pytest.mark.parametrize("where", ["golden", "marc21", "unimarc"])
def test_every_real_value_and_word_in_utf8_stays_utf8(where: str) -> None:
    """CJK, Hebrew, Cyrillic, Latin with diacritics from real records (whatever charset they
    came in), one subfield or one word at a time, labelled cp1251 as RUSMARC often is."""
    paths = sorted(GOLDEN.glob("*.mrc")) if where == "golden" else sorted(shared(where).iterdir())
    values = _values(paths)
    assert len(values) >= (20 if where == "golden" else 1000)
    misread = [v for v in values if guess_charset(v.encode(), declared="cp1251").charset != "utf-8"]
    assert not misread


def test_odd_characters() -> None:
    assert _odd_characters("Война и мир") == (9, 0)
    assert _odd_characters("日本語 한국어 B♭") == (7, 1)
    assert _odd_characters("\u2bac \ue8ee \u0964") == (3, 3)  # arrow, private use, lone danda
    assert _odd_characters("\u2965\u0a28") == (2, 1)  # a harpoon, a Gurmukhi letter
    assert _odd_characters("\u3920\u0b6e") == (2, 2)  # CJK and Oriya in one word
    assert _odd_characters("\u0928\u093e\u092e\u0964") == (4, 0)  # Hindi, and its danda
    assert _odd_characters("\u0928\u093e\u092e \u0964") == (4, 1)  # ... a lone one is odd


# -- the statistics on bytes are the statistics on characters -----------------------------------


def _reference_score(text: str) -> float:
    """``_cyrillic_scores`` as first written, on decoded text: the mean log-frequency of the
    non-ASCII characters as Russian letters, plus twice the mean shape of the words."""
    logs = [
        math.log(_RUSSIAN[c.lower()] / 1000) if c.lower() in _RUSSIAN else -12.0
        for c in text
        if not c.isascii()
    ]
    if not logs:
        return 0.0
    words = re.findall(r"[^\W\d_a-zA-Z]+", text)
    shapes = [
        1 if w.islower() or (w[0].isupper() and w[1:].islower()) else 0 if w.isupper() else -3
        for w in words
    ]
    return sum(logs) / len(logs) + (2.0 * sum(shapes) / len(shapes) if shapes else 0.0)


_TEXTLIKE = st.lists(st.sampled_from([*range(0x80, 0x100), *b" .,-1aZ"]), max_size=80).map(
    bytes
) | st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).flatmap(
    lambda words: st.sampled_from(["cp1251", "koi8-r", "cp866"]).map(
        lambda codec: " ".join(w.capitalize() if i % 3 else w for i, w in enumerate(words)).encode(
            codec
        )
    )
)


@settings(max_examples=300, deadline=None)
@given(sample=_TEXTLIKE)
def test_scores_on_bytes_are_the_scores_on_characters(sample: bytes) -> None:
    """Exact to the rounding of log-frequencies to 25ths; a page left unread word by word
    gets an upper bound of its score, more than 0.5 below the best."""
    scores = _cyrillic_scores(sample, bytes(b for b in sample if b >= 0x80))
    best = max(scores.values())
    for codec, score in scores.items():
        reference = _reference_score(sample.decode(codec, "replace"))
        if score >= best - 0.5:
            assert score == pytest.approx(reference, abs=0.5 / 25 + 1e-9)
        else:
            assert score >= reference - 0.5 / 25 - 1e-9


@given(st.binary(max_size=3000) | st.binary(max_size=30).map(lambda b: b * 200))
def test_the_byte_sum_is_the_sum_of_the_bytes(data: bytes) -> None:
    assert _byte_sum(data) == sum(data)
    assert _byte_sum(b"\xff" * len(data)) == 255 * len(data)


def _reference_runs(sample: bytes) -> tuple[int, int, int, int]:
    """(high bytes in runs, lone high bytes, lone 0xC0-0xDF, lone 0xE0-0xFE), byte by byte."""
    runs = isolated = latin = marc8 = 0
    for i, byte in enumerate(sample):
        if byte < 0x80:
            continue
        if (i and sample[i - 1] >= 0x80) or (i + 1 < len(sample) and sample[i + 1] >= 0x80):
            runs += 1
            continue
        isolated += 1
        latin += 0xC0 <= byte <= 0xDF
        marc8 += 0xE0 <= byte <= 0xFE
    return runs, isolated, latin, marc8


@settings(max_examples=300, deadline=None)
@given(sample=_TEXTLIKE | st.binary(max_size=100))
def test_high_byte_runs_are_counted_as_byte_by_byte(sample: bytes) -> None:
    high = _HighBytes.of(sample)
    runs, isolated, latin, marc8 = _reference_runs(sample)
    assert (len(high.data) - high.isolated, high.isolated) == (runs, isolated)
    assert _lone_marks(sample) == (latin, marc8)
    assert high.trailing == sum(0x80 <= b <= 0xBF for b in sample)


# pieces of valid and broken UTF-8: 2, 3, 4 bytes, U+FFFD, a lone first or trailing byte...
_UTF8_PIECES = [
    b"\xc3\xa9",
    b"\xe2\x80\x94",
    b"\xf0\x9f\x98\x80",
    b"\xef\xbf\xbd",
    b"\xc3",
    b"\xe2\x80",
]
_UTF8_PIECES += [b"\xf0\x9f\x98", b"\x80", b"\xff", b"\xc0\xaf", b"a"]


@settings(max_examples=500, deadline=None)
@given(sample=st.lists(st.sampled_from(_UTF8_PIECES) | st.binary(max_size=2), max_size=30))
@example(sample=[b"\xc3\xa9"] * 4 + [b"\xc3"])  # four characters per error: the limit
def test_too_few_trailing_bytes_cannot_be_mostly_utf8(sample: list[bytes]) -> None:
    """The shortcut that spares decoding a cp1251 record as UTF-8 never skips a record that
    would have passed as mostly valid UTF-8."""
    data = b"".join(sample)
    wide = data.decode("utf-8", "replace")
    bad = wide.count("\ufffd")
    good = sum(not c.isascii() and c != "\ufffd" for c in wide)
    if not _HighBytes.of(data).may_be_utf8():
        assert good < 4 * bad
