"""Character sets of MARC records: decoders, declarations, and a guess from byte statistics.

Libraries send MARC21 in MARC-8 or UTF-8, UNIMARC in ISO 5426 and RUSMARC in cp1251, KOI8-R
or UTF-8, and the declaration in the record (MARC21 leader/09, UNIMARC 100 $a/26-29) is
often missing or wrong. ``guess_charset`` reads the bytes: valid multi-byte UTF-8 is UTF-8;
words of 8-bit letters are one of the Cyrillic code pages (chosen by Russian letter
frequencies); single high bytes in front of ASCII letters are the non-spacing diacritics of
MARC-8 (0xE0-0xFE) or ISO 5426 (0xC0-0xDF).

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
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pymarc import marc8_mapping

from core import RecordError

__all__ = [
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
    pos9 = leader[9:10]
    key = pos9.decode("latin-1") if isinstance(pos9, bytes) else pos9
    return str(_declarations()["marc21_leader09"].get(key, "marc-8"))


# -- guessing from the bytes ------------------------------------------------------------------

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
_LOG_RUSSIAN = {c: math.log(f / 1000) for c, f in _RUSSIAN.items()}
_MARC8_ESCAPE = re.compile(rb"\x1b(?:[(,)\-][!-~]|\$[(,)\-]?[!-~]|[bgps])")
_ASCII_LETTER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class Guess:
    """What the bytes say: the charset, and whether the evidence was too weak to be sure."""

    charset: str
    suspect: bool = False
    reason: str = ""


_CYRILLIC_WORD = re.compile(r"[^\W\d_a-zA-Z]+")


def _cyrillic_score(text: str) -> float:
    """How much ``text`` looks like Russian: the mean log-frequency of its non-ASCII
    characters read as Russian letters, plus the shape of its words.

    A wrong code page keeps letters letters but swaps their case and identity: real text
    has words in lower case, Title case or CAPITALS, a wrong decoding has "зАДАЧИ".
    """
    total = 0.0
    count = 0
    for char in text:
        if char.isascii():
            continue
        count += 1
        total += _LOG_RUSSIAN.get(char.lower(), -12.0)  # box drawing, symbols: not text
    if not count:
        return 0.0
    shapes = 0.0
    words = _CYRILLIC_WORD.findall(text)
    for word in words:
        if word.islower() or (word[0].isupper() and word[1:].islower()):
            shapes += 1.0
        elif not word.isupper():
            shapes -= 3.0  # mixed case inside a word
    return total / count + (2.0 * shapes / len(words) if words else 0.0)


def _pick_cyrillic(sample: bytes, declared: str) -> Guess:
    candidates = list(_declarations()["cyrillic_8bit"])
    scores = {c: _cyrillic_score(sample.decode(c, "replace")) for c in candidates}
    best = max(candidates, key=lambda c: scores[c])
    if declared in scores and scores[best] - scores[declared] < 0.5:
        best = declared
    ranked = sorted(scores.values(), reverse=True)
    weak = best != declared and len(ranked) > 1 and ranked[0] - ranked[1] < 0.5
    return Guess(best, weak, f"letter frequencies ({best})")


def guess_charset(sample: bytes, *, family: str = "", declared: str = "") -> Guess:
    """The charset the bytes of a record (or of its data area) are most likely in.

    ``family`` is ``marc21`` or ``unimarc`` (which diacritic scheme a Latin record uses);
    ``declared`` is what the record says about itself: it wins whenever the bytes agree
    with it or cannot tell.
    """
    declared = canonical_charset(declared) if declared else ""
    if _MARC8_ESCAPE.search(sample) and family != "unimarc":
        return Guess("marc-8", False, "MARC-8 escape sequences")
    if sample.isascii():
        return Guess(declared or "utf-8", False, "ASCII only")
    try:
        sample.decode("utf-8")
        return Guess("utf-8", False, "valid UTF-8")
    except UnicodeDecodeError:
        pass
    wide = sample.decode("utf-8", "replace")
    bad = wide.count("\ufffd")
    good = sum(1 for c in wide if ord(c) > 0x7F and c != "\ufffd")
    if good >= 4 * bad:
        return Guess("utf-8", True, f"UTF-8 with {bad} invalid sequence(s)")
    runs = isolated = latin_marks = marc8_marks = 0
    n = len(sample)
    for i, byte in enumerate(sample):
        if byte < 0x80:
            continue
        after = sample[i + 1] if i + 1 < n else 0x20
        before = sample[i - 1] if i else 0x20
        if after >= 0x80 or before >= 0x80:
            runs += 1
            continue
        isolated += 1
        if 0xC0 <= byte <= 0xDF:
            latin_marks += 1
        elif 0xE0 <= byte <= 0xFE:
            marc8_marks += 1
    # words of 8-bit letters; a diacritic scheme has single high bytes, now and then two
    wordy = runs >= 3 and runs > 2 * isolated
    if declared in ("marc-8", "iso-5426") and decoder(declared)(sample)[1]:
        wordy = wordy and runs >= 8 and runs > 4 * isolated
    if wordy:
        known = declared if declared in _declarations()["cyrillic_8bit"] else ""
        return _pick_cyrillic(sample, known)
    if declared and decoder(declared)(sample)[1]:
        return Guess(declared, False, "declared, and the bytes agree")
    if family == "unimarc" and latin_marks >= marc8_marks:
        return Guess("iso-5426", False, "diacritics before letters (ISO 5426)")
    if family != "unimarc" and marc8_marks >= latin_marks:
        return Guess("marc-8", False, "diacritics before letters (MARC-8)")
    return Guess("cp1252", True, "single high bytes: a Latin code page")
