"""Character sets of MARC records: decoders, declarations, and a guess from byte statistics.

Libraries send MARC21 in MARC-8 or UTF-8, UNIMARC in ISO 5426 and RUSMARC in cp1251, KOI8-R
or UTF-8, and the declaration in the record (MARC21 leader/09, UNIMARC 100 $a/26-29) is
often missing or wrong. ``guess_charset`` reads the bytes: valid multi-byte UTF-8 is UTF-8
(unless its characters are arrows, private use or scripts no catalogue is written in while
a Cyrillic code page reads Russian words: "том" in CP866 is valid UTF-8); words of 8-bit
letters are one of the Cyrillic code pages (chosen by Russian letter frequencies and the
case of words); single high bytes in front of ASCII letters are the non-spacing diacritics
of MARC-8 (0xE0-0xFE) or ISO 5426 (0xC0-0xDF).

Every decoder returns ``(text, clean)``: ``clean`` is False when a byte had no meaning in the
charset (it became U+FFFD), so that the record can be flagged ``charset_suspect``.

>>> decode(b"\\xc2etudes", "iso-5426")
('études', True)
>>> guess_charset("Война и мир".encode("cp1251")).charset
'cp1251'
"""

from __future__ import annotations

import codecs
import math
import re
import unicodedata
import zlib
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

import yaml
from pymarc import marc8_mapping

from core import RecordError

__all__ = [
    "Decoder",
    "Guess",
    "canonical_charset",
    "decode",
    "decoder",
    "guess_charset",
    "iso5426_table",
    "nfc",
    "unimarc_declared",
]

Decoder = Callable[[bytes], tuple[str, bool]]

_ALIASES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "marc8": "marc-8",
    "marc-8": "marc-8",
    "ansel": "marc-8",
    "iso5426": "iso-5426",
    "iso-5426": "iso-5426",
    "iso-5426-1983": "iso-5426",
}


def canonical_charset(name: str) -> str:
    """``"UTF8"`` -> ``"utf-8"``, ``"MARC8"`` -> ``"marc-8"``, ``"windows-1251"`` -> ``"cp1251"``.

    Raises ``core.RecordError`` for a name neither Svod nor Python's codecs know.
    """
    key = name.strip().lower().replace("_", "-")
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise RecordError(f"unknown character set {name!r}") from None


# -- data -------------------------------------------------------------------------------------


def _data_text(name: str) -> str:
    return resources.files("normalizers").joinpath("data", name).read_text("utf-8")


@cache
def _declarations() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(_data_text("charsets.yaml"))
    return data


@cache
def iso5426_table() -> dict[int, tuple[str, bool]]:
    """ISO 5426 right half from ``data/iso5426.tsv``: byte -> (character, is_combining)."""
    table: dict[int, tuple[str, bool]] = {}
    for line in _data_text("iso5426.tsv").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        byte, point, kind, *_ = line.split("\t")
        table[int(byte, 16)] = (chr(int(point, 16)), kind == "combining")
    return table


# -- Unicode normal form ----------------------------------------------------------------------

# MARC-8 writes a double diacritic as two halves around the second letter (EB/EC ligature,
# FA/FB double tilde); decoders give U+FE20..FE23. UTF-8 MARC uses the one double mark
# after the first letter: "i\ufe20a\ufe21" is "i\u0361a", as LC's own UTF-8 records write it.
_HALF_MARKS = re.compile("([\ufe20\ufe22])([^\ufe20-\ufe23]*)([\ufe21\ufe23])")
_DOUBLE_MARK = {"\ufe20": "\u0361", "\ufe22": "\u0360"}


def nfc(text: str) -> str:
    """NFC, with MARC-8's half-mark pairs joined into one double diacritic."""
    if text.isascii():
        return text
    if "\ufe20" in text or "\ufe22" in text:
        text = _HALF_MARKS.sub(lambda m: _DOUBLE_MARK[m.group(1)] + m.group(2), text)
    return unicodedata.normalize("NFC", text)


# -- decoders ---------------------------------------------------------------------------------


def _python_codec(name: str) -> Decoder:
    def run(data: bytes) -> tuple[str, bool]:
        try:
            return data.decode(name), True
        except UnicodeDecodeError:
            return data.decode(name, "replace"), False

    return run


def _iso5426(data: bytes) -> tuple[str, bool]:
    if data.isascii():
        return data.decode("ascii"), True
    table = iso5426_table()
    out: list[str] = []
    marks: list[str] = []
    clean = True
    for byte in data:
        if byte < 0x80:
            out.append(chr(byte))
            out.extend(marks)
            marks.clear()
            continue
        entry = table.get(byte)
        if entry is None:
            clean = False
            out.append("\ufffd")
            continue
        char, combining = entry
        if combining:
            marks.append(char)
        else:
            out.append(char)
            out.extend(marks)
            marks.clear()
    if marks:  # a diacritic with nothing after it: keep it, but it is not right
        out.extend(marks)
        clean = False
    return "".join(out), clean


_BASIC_LATIN = 0x42
_ANSEL = 0x45
_EACC = 0x31
_G0_DESIGNATORS = (0x28, 0x2C)  # "(" ","
_G1_DESIGNATORS = (0x29, 0x2D)  # ")" "-"
_TECHNIQUE_1 = (0x62, 0x67, 0x70)  # subscript, Greek symbols, superscript
# what Basic Latin reads as the same characters: ASCII but ESC (0x1B); the control
# characters (DEL too) pass through, as in a field that is all ASCII
_MARC8_PLAIN = re.compile(rb"[\x00-\x1a\x1c-\x7f]+")


def _marc8(data: bytes) -> tuple[str, bool]:
    """MARC-8 with its escape sequences, after the LC specification and pymarc's tables.

    Combining marks precede their letter in MARC-8 and follow it in Unicode. Every field
    starts in ASCII (G0) and ANSEL (G1).
    """
    if data.isascii() and 0x1B not in data:
        return data.decode("ascii"), True
    sets = marc8_mapping.CODESETS
    g0, g1 = _BASIC_LATIN, _ANSEL
    out: list[str] = []
    marks: list[str] = []
    clean = True
    i, n = 0, len(data)
    while i < n:
        if g0 == _BASIC_LATIN:  # a run of ASCII (escapes and DEL aside) is itself
            plain = _MARC8_PLAIN.match(data, i)
            if plain is not None:
                text = plain.group().decode("ascii")
                if marks:  # the marks read before it go after its first character
                    out.append(text[0])
                    out.extend(marks)
                    marks.clear()
                    text = text[1:]
                out.append(text)
                i = plain.end()
                continue
        byte = data[i]
        if byte == 0x1B:
            step, g0, g1, ok = _marc8_escape(data, i, g0, g1)
            clean = clean and ok
            i += step
            continue
        if byte == 0x20 or byte < 0x20:
            out.append(chr(byte))
            out.extend(marks)
            marks.clear()
            i += 1
            continue
        table = sets.get(g0 if byte < 0x80 else g1, {})
        if (g0 if byte < 0x80 else g1) == _EACC:
            code = int.from_bytes(data[i : i + 3], "big")
            i += 3
        else:
            code = byte
            i += 1
        entry = table.get(code) or table.get(code ^ 0x80)
        if entry is None:
            odd = marc8_mapping.ODD_MAP.get(code)
            if odd is None:
                clean = False
                out.append("\ufffd")
                continue
            entry = (odd, 0)
        point, combining = entry
        if combining:
            marks.append(chr(point))
        else:
            out.append(chr(point))
            out.extend(marks)
            marks.clear()
    if marks:
        out.extend(marks)
        clean = False
    return "".join(out), clean


def _marc8_escape(data: bytes, i: int, g0: int, g1: int) -> tuple[int, int, int, bool]:
    """Read the escape sequence at ``i``: (bytes used, G0, G1, understood)."""
    rest = data[i + 1 : i + 4]
    if not rest:
        return 1, g0, g1, False
    first = rest[0]
    if first in _TECHNIQUE_1:
        return 2, first, g1, True
    if first == 0x73:  # ESC s: back to ASCII
        return 2, _BASIC_LATIN, g1, True
    if first == 0x24 and len(rest) >= 2:  # ESC $ [ ( , ) - ] F: a multi-byte set
        if rest[1] in _G0_DESIGNATORS and len(rest) >= 3:
            return 4, rest[2], g1, rest[2] in marc8_mapping.CODESETS
        if rest[1] in _G1_DESIGNATORS and len(rest) >= 3:
            return 4, g0, rest[2], rest[2] in marc8_mapping.CODESETS
        return 3, rest[1], g1, rest[1] in marc8_mapping.CODESETS
    if len(rest) >= 2 and first in _G0_DESIGNATORS:
        return 3, rest[1], g1, rest[1] in marc8_mapping.CODESETS
    if len(rest) >= 2 and first in _G1_DESIGNATORS:
        return 3, g0, rest[1], rest[1] in marc8_mapping.CODESETS
    return 1, g0, g1, False


def _utf8(data: bytes) -> tuple[str, bool]:
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), False


@cache
def decoder(charset: str) -> Decoder:
    """The decoder for a canonical charset name (see ``canonical_charset``)."""
    if charset == "utf-8":
        return _utf8
    if charset == "marc-8":
        return _marc8
    if charset == "iso-5426":
        return _iso5426
    return _python_codec(charset)


def decode(data: bytes, charset: str) -> tuple[str, bool]:
    """Decode ``data``: ``(text in NFC, clean)``; ``charset`` is any name Svod knows."""
    text, clean = decoder(canonical_charset(charset))(data)
    return nfc(text), clean


# -- declarations -----------------------------------------------------------------------------


def unimarc_declared(field_100a: str) -> str:
    """The charset UNIMARC 100 $a/26-29 declares, or ``""`` when it names none we know.

    >>> unimarc_declared("19980716d1997    u  y0rusy0189    ca")
    'cp1251'
    """
    codes = {field_100a[26:28], field_100a[28:30]}
    for code, charset in _declarations()["unimarc_100a"].items():
        if code in codes:
            return str(charset)
    return ""


def marc21_declared(leader: bytes | str) -> str:
    """The charset MARC21 leader/09 declares: ``a`` UTF-8, anything else MARC-8."""
    return _leader09().get(leader[9:10], "marc-8")


@cache
def _leader09() -> dict[bytes | str, str]:
    """leader/09 (as text and as a byte) -> charset."""
    table: dict[bytes | str, str] = {}
    for key, charset in _declarations()["marc21_leader09"].items():
        table[str(key)] = table[str(key).encode("latin-1")] = str(charset)
    return table


# -- guessing from the bytes ------------------------------------------------------------------
#
# Every statistic below is counted on the raw bytes with ``bytes.translate``, ``split`` and
# ``count`` over tables made once per code page, never by decoding and walking characters:
# a record with no declared charset is guessed in a few hundredths of a millisecond.

# Russian letter frequencies (per mille, rounded), the evidence between 8-bit code pages.
_RUSSIAN = dict(
    zip(
        "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё",
        (
            110,
            85,
            80,
            73,
            67,
            63,
            55,
            47,
            45,
            44,
            35,
            32,
            30,
            28,
            26,
            20,
            19,
            17,
            17,
            16,
            16,
            14,
            12,
            10,
            9,
            7,
            6,
            5,
            4,
            3,
            3,
            1,
            1,
        ),
        strict=True,
    )
)
_NOT_A_LETTER = -12.0  # the log-frequency of box drawing, symbols: not text
# Log-frequencies are counted in 25ths above _NOT_A_LETTER, so that a byte's weight is a byte
# and a sample's total one ``translate`` and one ``sum``: log(0.110) is 245 of them.
_STEPS = 25
_LOG_RUSSIAN = {
    c: round((math.log(f / 1000) - _NOT_A_LETTER) * _STEPS) for c, f in _RUSSIAN.items()
}
_MARC8_ESCAPE = re.compile(rb"\x1b(?:[(,)\-][!-~]|\$[(,)\-]?[!-~]|[bgps])")
_CYRILLIC_WORD = re.compile(r"[^\W\d_a-zA-Z]+")
_ASCII = bytes(range(0x80))
_NOT_TRAILING = bytes(range(0x80)) + bytes(range(0xC0, 0x100))  # UTF-8 trailing: 0x80-0xBF
_BELOW_E0 = bytes(range(0xE0))  # what is left: the first bytes of 3- and 4-byte UTF-8
# ASCII -> b" ", a high byte -> b"h": a token of ``split()`` is a run of high bytes
_HIGH_RUNS = bytes(range(256)).maketrans(bytes(range(256)), b" " * 0x80 + b"h" * 0x80)
# ... and lone high bytes told apart: 0xC0-0xDF, where ISO 5426 has its diacritics, b"c";
# 0xE0-0xFE, MARC-8's, b"e"
_MARKS = bytes(range(256)).maketrans(
    bytes(range(256)), b" " * 0x80 + b"h" * 0x40 + b"c" * 0x20 + b"e" * 0x1F + b"h"
)
# A reading of 8-bit bytes as Russian at least this good (see ``_cyrillic_scores``) beats
# valid UTF-8 whose characters no catalogue writes.
_RUSSIAN_ENOUGH = -3.0
# The word term of a score lies between -6 (every word in mixed case) and +2.
_MOST_FROM_WORDS = 2.0


@dataclass(frozen=True, slots=True)
class Guess:
    """What the bytes say: the charset, and whether the evidence was too weak to be sure."""

    charset: str
    suspect: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class _CodePage:
    """An 8-bit Cyrillic code page as ``_cyrillic_scores`` reads it: two ``translate``
    tables, byte -> letter weight (see _STEPS) and byte -> case class in a word."""

    name: str
    weights: bytes  # 0 for ASCII and for what is not a Russian letter
    classes: bytes  # b" " outside words, else b"u" upper, b"l" lower, b"t" title, b"n" uncased


@cache
def _code_pages() -> tuple[_CodePage, ...]:
    pages = []
    for name in _declarations()["cyrillic_8bit"]:
        weights = bytearray(256)
        classes = bytearray(b" " * 256)
        for byte in range(0x80, 0x100):
            char = bytes([byte]).decode(name, "replace")
            weights[byte] = _LOG_RUSSIAN.get(char.lower(), 0)
            if _CYRILLIC_WORD.fullmatch(char):
                case = "u" if char.isupper() else "l" if char.islower() else "n"
                classes[byte] = ord("t" if char.istitle() and case == "n" else case)
        pages.append(_CodePage(name, bytes(weights), bytes(classes)))
    return tuple(pages)


def _lower(cases: bytes) -> bool:
    return b"l" in cases and b"u" not in cases and b"t" not in cases  # as str.islower


def _shape(cases: bytes) -> int:
    """A word's case pattern (``_CodePage.classes``): +1 lower or Title case, 0 CAPITALS,
    -3 mixed case inside the word (or no cased letter)."""
    if _lower(cases) or (cases[:1] == b"u" and _lower(cases[1:])):
        return 1
    if b"u" in cases and b"l" not in cases and b"t" not in cases:  # as str.isupper
        return 0
    return -3


class _Shapes(dict[bytes, int]):
    """``_shape`` of the case patterns met so far: a few dozen make up most text."""

    def __missing__(self, cases: bytes) -> int:
        shape = _shape(cases)
        if len(cases) <= 40 and len(self) < 4096:
            self[cases] = shape
        return shape


_SHAPES = _Shapes()


def _byte_sum(data: bytes) -> int:
    """``sum(data)``, in C: the first half of an Adler-32 checksum is 1 + the sum of the
    bytes modulo 65521, exact for a piece whose bytes add up to less than 65520; so the
    bytes are summed in pieces that short. Ten times faster than ``sum`` on a record.

    >>> _byte_sum(bytes(range(256)) * 1000) == sum(bytes(range(256)) * 1000)
    True
    """
    total = 0
    for start in range(0, len(data), _SUM_PIECE):
        total += (zlib.adler32(data[start : start + _SUM_PIECE]) & 0xFFFF) - 1
    return total


_SUM_PIECE = 65519 // 255  # bytes whose sum stays below 65520 whatever they are


def _letter_scores(high: bytes) -> list[float]:
    """Per code page (``_code_pages`` order): the mean log-frequency of the high bytes
    (not empty) read as Russian letters."""
    scale = _STEPS * len(high)
    return [
        _byte_sum(high.translate(page.weights)) / scale + _NOT_A_LETTER for page in _code_pages()
    ]


def _with_words(sample: bytes, page: _CodePage, letters: float) -> float:
    """A page's whole score: its letter score plus twice the mean shape of its words."""
    words = sample.translate(page.classes).split()
    return letters + (2.0 * sum(map(_SHAPES.__getitem__, words)) / len(words) if words else 0.0)


def _cyrillic_scores(sample: bytes, high: bytes) -> dict[str, float]:
    """How much ``sample`` (``high``: its bytes >= 0x80) looks like Russian in each 8-bit
    code page: the mean log-frequency of its high bytes read as Russian letters, plus twice
    the mean shape of its words.

    A wrong code page keeps letters letters but swaps their case and identity: real text
    has words in lower case, Title case or CAPITALS, a wrong decoding has "зАДАЧИ". A page
    whose letters alone leave it more than 0.5 below the best even with the best words is
    not read word by word: its score is then that upper bound, which can change no choice.
    """
    pages = _code_pages()
    if not high:
        return {page.name: 0.0 for page in pages}
    letters = _letter_scores(high)
    scores = [score + _MOST_FROM_WORDS for score in letters]  # upper bounds, till words read
    best = -math.inf
    for i in sorted(range(len(pages)), key=letters.__getitem__, reverse=True):
        if scores[i] >= best - 0.5:
            scores[i] = _with_words(sample, pages[i], letters[i])
            best = max(best, scores[i])
    return {page.name: score for page, score in zip(pages, scores, strict=True)}


def _declared_holds(sample: bytes, high: bytes, declared: str) -> float | None:
    """The score of the ``declared`` page when no other page beats it by 0.5 (what
    ``_pick_cyrillic`` asks), else None. Another page is read word by word only if its
    upper bound could beat it: usually none is, where ``_cyrillic_scores`` reads them all."""
    pages = _code_pages()
    letters = _letter_scores(high)
    mine = next(i for i, page in enumerate(pages) if page.name == declared)
    score = _with_words(sample, pages[mine], letters[mine])
    for i, page in enumerate(pages):
        if i == mine or letters[i] + _MOST_FROM_WORDS - score < 0.5:
            continue
        if _with_words(sample, page, letters[i]) - score >= 0.5:
            return None
    return score


def _pick_cyrillic(sample: bytes, high: bytes, declared: str) -> tuple[Guess, float]:
    """The likeliest 8-bit Cyrillic code page, and how Russian it makes the sample look.

    A declared page wins unless another reads the sample as Russian better by 0.5.
    """
    if high and any(page.name == declared for page in _code_pages()):
        score = _declared_holds(sample, high, declared)
        if score is not None:  # what the general reckoning below would decide, found sooner
            return Guess(declared, False, f"letter frequencies ({declared})"), score
    scores = _cyrillic_scores(sample, high)
    candidates = list(scores)
    best = max(candidates, key=scores.__getitem__)
    if declared in scores and scores[best] - scores[declared] < 0.5:
        best = declared
    ranked = sorted(scores.values(), reverse=True)
    weak = best != declared and len(ranked) > 1 and ranked[0] - ranked[1] < 0.5
    return Guess(best, weak, f"letter frequencies ({best})"), scores[best]


class _HighBytes(NamedTuple):
    """The bytes >= 0x80 of a sample, and where they stand."""

    data: bytes
    trailing: int  # 0x80-0xBF, UTF-8's trailing bytes
    isolated: int  # between ASCII bytes (the others are runs)

    @classmethod
    def of(cls, sample: bytes) -> _HighBytes:
        data = sample.translate(None, _ASCII)
        tokens = sample.translate(_HIGH_RUNS).split()
        return cls(data, len(data.translate(None, _NOT_TRAILING)), tokens.count(b"h"))

    def wordy(self, sample: bytes, declared: str) -> bool:
        """Words of 8-bit letters? A diacritic scheme has single high bytes, now and then two."""
        runs, isolated = len(self.data) - self.isolated, self.isolated
        wordy = runs >= 3 and runs > 2 * isolated
        if wordy and declared in ("marc-8", "iso-5426") and decoder(declared)(sample)[1]:
            wordy = runs >= 8 and runs > 4 * isolated
        return wordy

    def may_be_utf8(self) -> bool:
        """Could the sample hold four valid UTF-8 characters per invalid sequence?

        A valid character has one byte that is not a trailing byte and at least one that
        is; an invalid sequence (one U+FFFD) at most one that is not. Four valid characters
        per invalid sequence need trailing bytes for 4/9 of the high bytes at least.
        """
        return 9 * self.trailing >= 4 * len(self.data)


def _lone_marks(sample: bytes) -> tuple[int, int]:
    """(lone bytes 0xC0-0xDF, lone bytes 0xE0-0xFE): diacritics of ISO 5426 and MARC-8."""
    tokens = sample.translate(_MARKS).split()
    return tokens.count(b"c"), tokens.count(b"e")


# (first code point, script) in order, each up to the next: the scripts catalogues are
# written in; "" for what they do not hold (controls, symbols, private use, historic and
# minor scripts), "common" for punctuation, signs and combining marks that go with any.
_SCRIPTS = (
    (0x0000, "common"),
    (0x0080, ""),  # C1 controls
    (0x00A0, "common"),
    (0x00C0, "latin"),  # Latin-1 letters, Latin Extended-A and B, IPA
    (0x02B0, "common"),  # spacing modifiers, combining diacritical marks
    (0x0370, "greek"),
    (0x0400, "cyrillic"),
    (0x0530, "armenian"),
    (0x0590, "hebrew"),
    (0x0600, "arabic"),
    (0x0700, "syriac"),
    (0x0750, "arabic"),
    (0x0780, ""),  # Thaana, NKo, Samaritan, Mandaic, Arabic Extended
    (0x0900, "devanagari"),
    (0x0980, "bengali"),
    (0x0A00, "gurmukhi"),
    (0x0A80, "gujarati"),
    (0x0B00, "oriya"),
    (0x0B80, "tamil"),
    (0x0C00, "telugu"),
    (0x0C80, "kannada"),
    (0x0D00, "malayalam"),
    (0x0D80, "sinhala"),
    (0x0E00, "thai"),
    (0x0E80, "lao"),
    (0x0F00, "tibetan"),
    (0x1000, "myanmar"),
    (0x10A0, "georgian"),
    (0x1100, "cjk"),  # Hangul Jamo
    (0x1200, "ethiopic"),
    (0x13A0, "cherokee"),
    (0x1400, ""),  # Canadian syllabics, Ogham, Runic, Philippine scripts
    (0x1780, "khmer"),
    (0x1800, ""),  # Mongolian, Tai Le, Tai Tham, Balinese, Sundanese, Batak...
    (0x1AB0, "common"),
    (0x1B00, ""),
    (0x1DC0, "common"),
    (0x1E00, "latin"),
    (0x1F00, "greek"),
    (0x2000, "common"),  # punctuation, super- and subscripts, currency, letterlike (№ ℗)
    (0x2190, ""),  # arrows, mathematical and technical symbols, box drawing, Braille
    (0x2E80, "cjk"),
    (0xA000, ""),  # Yi, Vai, Bamum...
    (0xAC00, "cjk"),  # Hangul syllables
    (0xD7B0, ""),  # private use
    (0xF900, "cjk"),
    (0xFB00, "latin"),  # ligatures
    (0xFB07, ""),  # Hebrew and Arabic presentation forms
    (0xFE20, "common"),  # half marks (MARC-8 double diacritics)
    (0xFE30, "cjk"),
    (0xFE70, ""),
    (0xFF00, "cjk"),  # halfwidth and fullwidth forms
    (0xFFF0, ""),
    (0x20000, "cjk"),
    (0x32000, ""),
)
_SCRIPT_STARTS = tuple(start for start, _ in _SCRIPTS)
_NON_ASCII_WORD = re.compile(r"[^\x00-\x7f]+")


def _script(char: str) -> str:
    if unicodedata.category(char) in ("Cn", "Co", "Cs", "Cc"):
        return ""
    return _SCRIPTS[bisect_right(_SCRIPT_STARTS, ord(char)) - 1][1]


def _odd_characters(text: str) -> tuple[int, int]:
    """(non-ASCII characters of ``text``, those no catalogue writes): outside the scripts
    catalogues are written in, or in a word that mixes two scripts, or in a word of a script
    without a letter in it (a lone danda, digit or vowel sign).

    >>> _odd_characters("том том".encode("cp866").decode("utf-8"))  # two arrows
    (2, 2)
    """
    total = odd = 0
    for word in _NON_ASCII_WORD.findall(text):
        total += len(word)
        scripts = [_script(char) for char in word]
        odd += scripts.count("")
        used = set(scripts) - {"", "common"}
        letter = any(char.isalpha() for char, script in zip(word, scripts, strict=True) if script)
        if len(used) > 1 or (used and not letter):
            odd += sum(script in used for script in scripts)
    return total, odd


def _utf8_unless_cyrillic(
    sample: bytes, text: str, high: _HighBytes, declared: str, cyrillic: str
) -> Guess:
    """Valid UTF-8 is UTF-8, unless it reads as characters no catalogue writes while an 8-bit
    code page reads Russian words: "том" in CP866 is the UTF-8 of an arrow, U+2BAC.

    Not when the record says UTF-8 itself, and only where most characters take three or
    four bytes: a two-byte sequence (Latin to Syriac) read in a Cyrillic code page has a
    symbol or box drawing in it, never Russian.
    """
    utf8 = Guess("utf-8", False, "valid UTF-8")
    characters = len(high.data) - high.trailing
    if declared == "utf-8" or 2 * len(high.data.translate(None, _BELOW_E0)) < characters:
        return utf8
    if not high.wordy(sample, declared):
        return utf8
    guess, score = _pick_cyrillic(sample, high.data, cyrillic)
    if guess.suspect or score < _RUSSIAN_ENOUGH:
        return utf8
    total, odd = _odd_characters(text)
    if 2 * odd < total:
        return utf8
    reason = f"valid UTF-8 of {odd} odd character(s) out of {total}; {guess.reason}"
    return Guess(guess.charset, False, reason)


def guess_charset(sample: bytes, *, family: str = "", declared: str = "") -> Guess:
    """The charset the bytes of a record (or of its data area) are most likely in.

    ``family`` is ``marc21`` or ``unimarc`` (which diacritic scheme a Latin record uses);
    ``declared`` is what the record says about itself: it wins whenever the bytes agree
    with it or cannot tell.
    """
    declared = canonical_charset(declared) if declared else ""
    if family != "unimarc" and _MARC8_ESCAPE.search(sample):
        return Guess("marc-8", False, "MARC-8 escape sequences")
    if sample.isascii():
        return Guess(declared or "utf-8", False, "ASCII only")
    cyrillic = declared if declared in _declarations()["cyrillic_8bit"] else ""
    high = _HighBytes.of(sample)
    if high.may_be_utf8():
        try:
            text = sample.decode("utf-8")
        except UnicodeDecodeError:
            wide = sample.decode("utf-8", "replace")
            bad = wide.count("\ufffd")
            good = len(wide) - (len(sample) - len(high.data)) - bad  # ASCII stays ASCII
            if good >= 4 * bad:
                return Guess("utf-8", True, f"UTF-8 with {bad} invalid sequence(s)")
        else:
            return _utf8_unless_cyrillic(sample, text, high, declared, cyrillic)
    if high.wordy(sample, declared):
        return _pick_cyrillic(sample, high.data, cyrillic)[0]
    if declared and decoder(declared)(sample)[1]:
        return Guess(declared, False, "declared, and the bytes agree")
    latin_marks, marc8_marks = _lone_marks(sample)
    if family == "unimarc" and latin_marks >= marc8_marks:
        return Guess("iso-5426", False, "diacritics before letters (ISO 5426)")
    if family != "unimarc" and marc8_marks >= latin_marks:
        return Guess("marc-8", False, "diacritics before letters (MARC-8)")
    return Guess("cp1252", True, "single high bytes: a Latin code page")
