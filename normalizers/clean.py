"""Text clean-up shared by the normalizers: ISBD punctuation, ISBNs, years, language codes."""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "TRAILING",
    "first_year",
    "isbn13",
    "language_codes",
    "lccn",
    "pages_of",
    "trim",
    "trim_end",
]

_MARKS: Final = "/:;=,"
_MARKS_PERIOD: Final = _MARKS + "."
#: what ``trim`` drops at the end of collapsed text whatever ``period`` says: ISBD marks, blanks
TRAILING: Final = _MARKS + " "
_YEAR = re.compile(r"(?<!\d)(1\d{3}|20\d{2})(?!\d)")
_LANG = re.compile(r"^[a-z]{3}$")


_ABBREVIATION = re.compile(
    r"(?:^|[\s.(-])(?:[A-ZА-ЯЁ][a-zа-яё]?|etc|al|др|т|с|л|г|гг|в|вв|вып|изд|ил|ред|сост|пер|прим)\.$"
)


def _droppable_period(text: str) -> bool:
    # "Cox, Jerome R.", "U.S.", "Cox, Jr.", "syllabi, etc.": that period is an abbreviation's.
    if text[-1:] != ".":
        return False
    before = text[-2:-1]
    if before == ".":
        return False  # an ellipsis
    # Every abbreviation ends in a letter and is at most 4 letters after a delimiter, so a
    # period after a non-letter or after a 5-letter run is a full stop.
    if not before.isalpha() or (len(text) >= 6 and text[-6:-1].isalpha()):
        return True
    # a match spans at most the last 6 characters ("(сост."); "^" never matches at pos > 0
    return not _ABBREVIATION.search(text, max(0, len(text) - 6))


def trim(text: str, *, period: bool = True) -> str:
    """Drop trailing ISBD punctuation (``" /"``, ``" :"``, ``" ;"``, ``" ="``, ``","``).

    With ``period`` also a final ``"."``, unless it ends an ellipsis, an initial or a short
    abbreviation (``"Jr."``, ``"St."``, ``"etc."``).
    Inner whitespace is collapsed.

    >>> trim("The Puget Sound Region : a portfolio of thematic computer maps /")
    'The Puget Sound Region : a portfolio of thematic computer maps'
    >>> trim("Cox, Jerome R."), trim("Oberst, Bruce.")
    ('Cox, Jerome R.', 'Oberst, Bruce')
    """
    s = " ".join(text.split())
    if s and s[-1] in (_MARKS_PERIOD if period else _MARKS):
        return trim_end(s, period=period)
    return s


def trim_end(text: str, *, period: bool = True) -> str:
    """``trim`` for text whose whitespace is already collapsed (the field-map engine's joins).

    >>> trim_end("Boston :", period=False), trim_end("1845-1909.")
    ('Boston', '1845-1909')
    """
    # collapsed text has no blank but " ": the marks and the blanks between them go at once
    s = text.rstrip(TRAILING)
    while period and _droppable_period(s):
        s = s[:-1].rstrip(TRAILING)
    return s


def first_year(text: str) -> int | None:
    """The first plausible 4-digit year: ``"[c1974]"`` -> 1974, ``"<1973-c1980 >"`` -> 1973."""
    match = _YEAR.search(text)
    return int(match.group(1)) if match else None


def isbn13(value: str) -> str | None:
    """The ISBN at the start of ``value`` as compact ISBN-13, or None if it is not valid.

    The number is the first run of digits, ``X``, blanks and hyphens after any leading
    whitespace (``\\s*([0-9Xx][0-9Xx -]*)``). Hand-written check digits (ISBN-10 mod 11,
    EAN-13 mod 10) in loops over character codes, which mypyc compiles to machine integers:
    this runs for every 020 of every record, and python-stdnum, which the tests hold it to,
    is ten times slower.

    >>> isbn13("0879832355 (pbk.) :"), isbn13("978-5-04-116100-2"), isbn13("0879832356")
    ('9780879832353', '9785041161002', None)
    """
    size = len(value)
    start = 0
    while start < size and value[start].isspace():
        start += 1
    if start == size or value[start] in " -":
        return None
    end = start
    while end < size and value[end] in _ISBN_CHARACTERS:
        end += 1
    token = value[start:end]
    if " " in token or "-" in token:
        token = token.replace(" ", "").replace("-", "")
    if len(token) == 10 and token[:9].isdigit():
        total = 0
        for k in range(9):
            total += (ord(token[k]) - 48) * (10 - k)
        check = (11 - total % 11) % 11
        last = token[9]
        if (last not in "Xx") if check == 10 else (ord(last) != 48 + check):
            return None
        body = "978" + token[:9]
    elif len(token) == 13 and token.isdigit() and token[:3] in ("978", "979"):
        body = token[:12]
        if _ean_check(body) != token[12]:
            return None
    else:
        return None
    return body + _ean_check(body)


#: what an ISBN at the start of a value is made of (the first character not a blank/hyphen)
_ISBN_CHARACTERS: Final = "0123456789Xx -"


def _ean_check(body: str) -> str:
    """The EAN-13 check digit of 12 ASCII digits (weights 1, 3, 1, 3...)."""
    total = 0
    for k in range(12):
        total += (ord(body[k]) - 48) * (3 if k % 2 else 1)
    return chr(48 + (10 - total % 10) % 10)


def language_codes(value: str) -> list[str]:
    """MARC language codes in a value; old records pack several into one (``"grchebeng"``)."""
    text = value.strip().lower()
    if len(text) % 3:
        return []
    codes = [text[i : i + 3] for i in range(0, len(text), 3)]
    return [c for c in codes if _LANG.match(c)]


_PAGE_UNIT = re.compile(r"(?i)(?<!\w)(?:p|pp|pages?|s|S|с|стр|л|leaves|ff?|fol)(?!\w)\.?")
_BARE_NUMBER = re.compile(r"(?<![\[\d])(\d{1,5})(?![\]\d])")


def pages_of(extent: str) -> int | None:
    """The page count an extent statement gives, if it gives one.

    >>> pages_of("[1],651,[1] с."), pages_of("xii, 245 p. :"), pages_of("v. 1-<5> :")
    (651, 245, None)
    """
    text = extent.strip()
    if text.isdigit():
        return int(text) or None
    if not _PAGE_UNIT.search(text):
        return None
    numbers = [int(n) for n in _BARE_NUMBER.findall(text) if 0 < int(n) <= 20000]
    return max(numbers) if numbers else None


def lccn(value: str) -> str:
    """An LCCN normalized the Library of Congress way: no blanks, nothing from ``/`` on,
    the serial after a hyphen padded to six digits.

    >>> lccn("   73090924 //r82"), lccn("n 79-1234")
    ('73090924', 'n79001234')
    """
    text = "".join(value.split()).split("/")[0]
    if "-" in text:
        head, _, serial = text.partition("-")
        text = head + serial.zfill(6)
    return text
