"""Dublin Core and SUTRS -> canonical ``core.Record``: what is left when a library sends no MARC.

SRU servers answer ``info:srw/schema/1/dc-v1.1`` (``<srw_dc:dc>``) or OAI's ``<oai_dc:dc>``;
both are fifteen repeatable elements. SUTRS is plain text: its first line is taken as the
title, and the charset is guessed like a MARC record's.

>>> xml = (b'<srw_dc:dc xmlns:srw_dc="info:srw/schema/1/dc-schema" '
...        b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>War and peace</dc:title>'
...        b'<dc:creator>Tolstoy, Leo</dc:creator><dc:date>1869</dc:date></srw_dc:dc>')
>>> r = from_dc(xml)
>>> r.title, r.authors, r.year, r.flavour
('War and peace', ('Tolstoy, Leo',), 1869, 'dc')
"""

from __future__ import annotations

import re

from lxml import etree

from core import RawRecord, Record, RecordError
from core.xmlsafe import parse_untrusted
from normalizers.charsets import canonical_charset, decode, guess_charset, nfc
from normalizers.clean import first_year, isbn13, trim

__all__ = ["DC_NS", "from_dc", "from_sutrs", "is_dc"]

DC_NS = "http://purl.org/dc/elements/1.1/"
_MAX = 1024 * 1024
_ISSN = re.compile(r"(?i)\b(\d{4}-\d{3}[\dX])\b")
# ISO 639-1 codes SRU servers often put in dc:language, as MARC (639-2/B) codes
_LANGUAGES = {
    "en": "eng",
    "ru": "rus",
    "de": "ger",
    "fr": "fre",
    "it": "ita",
    "es": "spa",
    "uk": "ukr",
    "be": "bel",
    "pl": "pol",
    "cs": "cze",
    "la": "lat",
    "zh": "chi",
    "ja": "jpn",
    "kk": "kaz",
}
_TYPES = {
    "text": "book",
    "image": "other",
    "sound": "sound",
    "software": "e-resource",
    "dataset": "e-resource",
    "interactiveresource": "e-resource",
    "movingimage": "video",
}


def _local(el: etree._Element) -> str:
    return etree.QName(el.tag).localname if isinstance(el.tag, str) else ""


def is_dc(root: etree._Element) -> bool:
    """Whether a parsed XML record is Dublin Core (``<dc>`` holding DC elements)."""
    return _local(root) == "dc" or any(
        isinstance(el.tag, str) and etree.QName(el.tag).namespace == DC_NS for el in root
    )


def _language(value: str) -> str:
    code = value.strip().lower()
    if len(code) == 3 and code.isalpha():
        return code
    return _LANGUAGES.get(code[:2], "") if len(code) == 2 or code[2:3] == "-" else ""


def from_dc(data: bytes | etree._Element, raw: RawRecord | None = None) -> Record:
    """A canonical record from a Dublin Core XML record."""
    if isinstance(data, bytes):
        root = parse_untrusted(data, what="Dublin Core record", limit=_MAX, error=RecordError)
    else:
        root = data
    values: dict[str, list[str]] = {}
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el.tag).namespace == DC_NS:
            text = nfc(" ".join("".join(str(t) for t in el.itertext()).split()))
            if text:
                values.setdefault(_local(el), []).append(text)
    if not values:
        raise RecordError("Dublin Core record has no elements")

    def all_(name: str) -> list[str]:
        return values.get(name, [])

    identifiers = all_("identifier")
    isbns = tuple(dict.fromkeys(n for i in identifiers if (n := isbn13(_strip_urn(i)))))
    issns = tuple(dict.fromkeys(m.group(1).upper() for i in identifiers if (m := _ISSN.search(i))))
    links = tuple(i for i in identifiers if i.startswith(("http://", "https://")))
    languages = tuple(dict.fromkeys(c for v in all_("language") if (c := _language(v))))
    year = next((y for v in all_("date") if (y := first_year(v)) is not None), None)
    kind = next(
        (_TYPES[t] for v in all_("type") if (t := v.lower().replace(" ", "")) in _TYPES), "book"
    )
    titles = all_("title")
    return Record(
        title=trim(titles[0]) if titles else "",
        authors=tuple(dict.fromkeys(trim(a) for a in all_("creator"))),
        publisher=trim(all_("publisher")[0], period=False) if all_("publisher") else "",
        year=year,
        isbns=isbns,
        issns=issns,
        languages=languages,
        subjects=tuple(dict.fromkeys(trim(s) for s in all_("subject"))),
        flavour="dc",
        charset="utf-8",
        extent=all_("format")[0] if all_("format") else "",
        series=tuple(all_("relation")),
        format=kind,
        links=links,
        target_id=raw.target_id if raw else "",
        position=raw.position if raw else 0,
        raw=raw,
    )


def _strip_urn(value: str) -> str:
    text = value.strip()
    for prefix in ("urn:isbn:", "isbn:", "isbn "):
        if text.lower().startswith(prefix):
            return text[len(prefix) :]
    return text


def from_sutrs(data: bytes, raw: RawRecord | None = None, charset: str = "") -> Record:
    """A canonical record from SUTRS text: the first non-empty line is the title."""
    if charset:
        text, clean = decode(data, charset)
        used, suspect = canonical_charset(charset), not clean
    else:
        guess = guess_charset(data)
        text, clean = decode(data, guess.charset)
        used, suspect = guess.charset, guess.suspect or not clean
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise RecordError("SUTRS record is empty")
    return Record(
        title=trim(lines[0][:500]),
        year=next((y for line in lines if (y := first_year(line)) is not None), None),
        flavour="sutrs",
        charset=used,
        charset_suspect=suspect,
        target_id=raw.target_id if raw else "",
        position=raw.position if raw else 0,
        raw=raw,
    )
