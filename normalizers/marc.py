"""Read MARC records, ISO 2709 or MARCXML, of any flavour and charset, into one structure.

ISO 2709 is framed by ``normalizers.iso2709`` (a direct directory parser: pymarc's object
model is too slow for the hot path and stops a whole file at one bad record) and decoded by
``normalizers.charsets``: the charset comes from the caller (the target's configuration)
first, else from what the record declares, checked against its bytes. MARCXML is read with
hardened lxml, not pymarc's SAX reader. Every failure is ``core.RecordError``.

Splitting a decoded record into fields and subfields (``_fields``) is C when
``normalizers._marcread`` is built (see ``iso2709.NATIVE``): ~100 small strings and tuples a
record cost ~50 µs in Python, ~4 in C. Deciding the flavour and the charset stays here, and
so do MARC-8, ISO 5426 and every record that does not decode cleanly in one go.
``_fields_py`` is the specification the C code is tested against.

>>> from normalizers.iso2709 import encode
>>> raw = encode(b"00000nam  2200000   450 ", [
...     ("100", b"  \\x1fa20240101d2024    u  y0rusy0189    ca"),
...     ("200", b"1 \\x1fa" + "Война и мир".encode("cp1251"))])
>>> record = read_iso2709(raw)
>>> record.flavour, record.charset, record.get("200")[0].values("a")
('rusmarc', 'cp1251', ['Война и мир'])
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import NamedTuple

from lxml import etree

from core import RecordError
from core.fastinit import constructor, fast_init
from core.xmlsafe import parse_untrusted
from normalizers import iso2709
from normalizers.charsets import (
    Decoder,
    canonical_charset,
    decoder,
    guess_charset,
    marc21_declared,
    nfc,
    unimarc_declared,
)

__all__ = [
    "MARCXML_NS",
    "MAX_RECORD_BYTES",
    "DataField",
    "MarcRecord",
    "canonical_charset",
    "detect_flavour",
    "iter_marcxml",
    "read_file",
    "read_iso2709",
    "read_marcxml",
]

MARCXML_NS = "http://www.loc.gov/MARC21/slim"

#: Refuse records larger than this: ISO2709 cannot exceed 99999 bytes; MARCXML is bulkier.
MAX_RECORD_BYTES = 4 * 1024 * 1024
#: MARCXML files (``svod marc``) may hold many records.
MAX_FILE_BYTES = 512 * 1024 * 1024

FLAVOURS = ("marc21", "unimarc", "rusmarc")


class DataField(NamedTuple):
    """A variable data field: tag, two indicators, and its subfields in order."""

    tag: str
    ind1: str
    ind2: str
    subfields: tuple[tuple[str, str], ...]

    def values(self, codes: str) -> list[str]:
        """Values of the subfields whose code is in ``codes``, in record order."""
        return [v for c, v in self.subfields if c in codes]

    def first(self, codes: str) -> str:
        """The first non-empty value among ``codes``, or ``""``."""
        for code, value in self.subfields:
            if value and code in codes:
                return value
        return ""


@fast_init
@dataclass(frozen=True, slots=True)
class MarcRecord:
    """A decoded record: leader, control fields (001-009) and data fields, text in NFC.

    ``flavour`` is ``marc21``, ``unimarc`` or ``rusmarc``; ``charset`` what the bytes were
    decoded from; ``charset_suspect`` is True when some bytes had no meaning in it or the
    evidence for it was weak.
    """

    leader: str
    control: tuple[tuple[str, str], ...]
    fields: tuple[DataField, ...]
    charset: str
    flavour: str = "marc21"
    charset_suspect: bool = False
    #: the source order of control ("c") and data ("d") fields; empty: control fields first
    order: str = ""

    def control_value(self, tag: str) -> str:
        """The first control field ``tag`` (``"008"``), or ``""``."""
        return next((v for t, v in self.control if t == tag), "")

    def get(self, *tags: str) -> list[DataField]:
        """Data fields with any of ``tags``, in record order."""
        return [f for f in self.fields if f.tag in tags]

    def with_fields(self, fields: Sequence[DataField]) -> MarcRecord:
        """A copy with other data fields, in the usual order (control fields first)."""
        return replace(self, fields=tuple(fields), order="")

    def in_order(self) -> Iterator[tuple[str, str] | DataField]:
        """Every field in the order the source record had them (writers keep it)."""
        order = self.order
        if len(order) != len(self.control) + len(self.fields):
            yield from self.control
            yield from self.fields
            return
        control, data = iter(self.control), iter(self.fields)
        for kind in order:
            yield next(control) if kind == "c" else next(data)


# -- flavour ----------------------------------------------------------------------------------

_MARC21_TAGS = {"245": 3, "008": 2, "260": 1, "264": 1, "040": 1, "300": 1, "650": 1}
_UNIMARC_TAGS = {"200": 3, "100": 2, "210": 1, "214": 1, "801": 1, "215": 1, "606": 1}
_RUSMARC_CHARSETS = ("79", "89", "99")


def detect_flavour(
    tags: Sequence[str] | set[str],
    *,
    field_100a: str = "",
    field_801a: str = "",
    field_001: str = "",
    hint: str = "",
) -> str:
    """``marc21``, ``unimarc`` or ``rusmarc``, from which tags a record uses.

    MARC21 and UNIMARC put the title in 245 and 200: the tags decide, ``hint`` (the record
    syntax a server announced) only breaks a tie. A UNIMARC record is RUSMARC when it names
    a RUSMARC-only charset in 100 $a/26-29, was catalogued in Russia (801 $a ``RU``), carries
    a Russian record id (``RU\\...``), or the hint says so.
    """
    if _family(tags, hint) == "marc21":
        return "marc21"
    return _unimarc_flavour(field_100a, field_801a, field_001, hint)


# tag -> (MARC21 weight, UNIMARC weight)
_WEIGHTS = {
    t: (_MARC21_TAGS.get(t, 0), _UNIMARC_TAGS.get(t, 0)) for t in {*_MARC21_TAGS, *_UNIMARC_TAGS}
}
_WEIGHED = frozenset(_WEIGHTS)


def _family(tags: Sequence[str] | set[str], hint: str) -> str:
    """``marc21`` or ``unimarc``, from the tags (``hint`` breaks a tie)."""
    marc21 = unimarc = 0
    for tag in _WEIGHED.intersection(tags):  # each tag counts once
        m, u = _WEIGHTS[tag]
        marc21 += m
        unimarc += u
    if marc21 == unimarc:
        return "unimarc" if hint in ("unimarc", "rusmarc") else "marc21"
    return "marc21" if marc21 > unimarc else "unimarc"


def _unimarc_flavour(field_100a: str, field_801a: str, field_001: str, hint: str) -> str:
    russian = (
        field_100a[26:28] in _RUSMARC_CHARSETS
        or field_100a[28:30] in _RUSMARC_CHARSETS
        or field_801a.strip().upper().startswith("RU")
        or field_001.upper().startswith(("RU\\", "RU/"))
    )
    return "rusmarc" if russian or hint == "rusmarc" else "unimarc"


def _flavour_name(flavour: str) -> str:
    name = flavour.strip().lower()
    if name in ("usmarc", "marc21"):
        return "marc21"
    if name not in FLAVOURS:
        raise RecordError(f"unknown MARC flavour {flavour!r} (marc21, unimarc, rusmarc)")
    return name


# -- ISO 2709 ---------------------------------------------------------------------------------

# Leaders typed in Cyrillic by mistake ("nаm" with a Cyrillic а) are common in RUSMARC
_HOMOGLYPHS = str.maketrans("асеорхукмтАСЕОРХКМТ", "aceopxykmtACEOPXKMT")


def _leader_text(raw: bytes, charset: str) -> str:
    if raw.isascii():
        return raw.decode("ascii")
    text = decoder(charset)(raw)[0].translate(_HOMOGLYPHS)
    return "".join(c if c.isascii() and c.isprintable() else " " for c in text)[:24].ljust(24)


def _subfield_a(body: bytes) -> str:
    start = body.find(b"\x1fa")
    if start < 0:
        return ""
    end = body.find(b"\x1f", start + 2)
    return body[start + 2 : end if end >= 0 else len(body)].decode("latin-1")


def _raw_value(tags: list[str], values: list[bytes], tag: str) -> bytes:
    try:
        return values[tags.index(tag)]
    except ValueError:
        return b""


def read_iso2709(
    data: bytes, charset: str = "", flavour: str = "", *, hint: str = ""
) -> MarcRecord:
    """Decode one ISO 2709 record of any flavour.

    ``charset`` (the target's configuration) wins over everything; else the record's own
    declaration (MARC21 leader/09, UNIMARC 100 $a/26-29), checked against the byte
    statistics. ``flavour`` likewise wins over the evidence of the tags, and ``hint`` (the
    record syntax a server announced) breaks a tie.
    """
    fast = iso2709.parse_contiguous(data)
    values: list[bytes] | None = None  # the fields' bytes, split only when needed
    whole = True  # body.split(FIELD_END) gives the fields: no field holds a terminator
    if fast is not None:
        leader_bytes, tags, body = fast
    else:
        leader_bytes, raw_fields = iso2709.parse(data)
        tags = [t for t, _ in raw_fields]
        values = [v for _, v in raw_fields]
        body = b"\x1e".join(values)
        whole = body.count(b"\x1e") == len(values) - 1
    if flavour:
        chosen = _flavour_name(flavour)
    elif _family(tags, hint) == "marc21":
        chosen = "marc21"
    else:
        values = body.split(b"\x1e")[: len(tags)] if values is None else values
        chosen = _unimarc_flavour(
            _subfield_a(_raw_value(tags, values, "100")),
            _subfield_a(_raw_value(tags, values, "801")),
            _raw_value(tags, values, "001").decode("latin-1"),
            hint,
        )
    suspect = False
    text: str | None = None
    if charset:
        used = canonical_charset(charset)
    else:
        if chosen == "marc21":
            declared = marc21_declared(leader_bytes)
        else:
            values = body.split(b"\x1e")[: len(tags)] if values is None else values
            declared = unimarc_declared(_subfield_a(_raw_value(tags, values, "100")))
        used = ""
        if declared == "utf-8" or body.isascii():
            try:  # the usual case, decided by one decode
                text = body.decode("utf-8")
                used = declared or "utf-8"
            except UnicodeDecodeError:
                pass
        if not used:
            family = "marc21" if chosen == "marc21" else "unimarc"
            guess = guess_charset(body, family=family, declared=declared)
            used, suspect = guess.charset, guess.suspect
    text_clean = True
    if text is None and used in _STATELESS:
        decoded, clean = decoder(used)(body)
        if clean:
            text = decoded
    elif text is None and used in _BY_SUBFIELD and whole:
        values = body.split(b"\x1e")[: len(tags)] if values is None else values
        stitched = _stitched(tags, values, decoder(used))
        if stitched is not None:
            text, text_clean = stitched
    leader = _leader_text(leader_bytes, used)
    split = None if text is None or not whole else _fields(tags, text)
    if split is not None:
        control, fields, order = split
        clean = text_clean
    else:
        values = body.split(b"\x1e")[: len(tags)] if values is None else values
        control, fields, order, clean = _decode_fields(tags, values, used)
    return _new_marc(leader, control, fields, used, chosen, suspect or not clean, order)


# 0x1E and 0x1F cannot be part of a character in these: the record is decoded in one go
_STATELESS = ("utf-8", "ascii", "cp1251", "koi8-r", "cp866", "cp1252", "iso8859-1", "iso8859-5")
# ... and these are decoded a subfield at a time (escapes, combining marks before letters)
_BY_SUBFIELD = ("marc-8", "iso-5426")


def _stitched(tags: list[str], values: list[bytes], decode: Decoder) -> tuple[str, bool] | None:
    """The record's text as ``_decode_fields`` decodes it, a subfield at a time, with the
    field and subfield delimiters in place for ``_fields`` to split: (text, clean). Fields in
    ASCII (most of them) are decoded whole. None when a decoded value holds a delimiter."""
    parts: list[str] = []
    clean = True
    for tag, value in zip(tags, values, strict=True):
        if value.isascii() and b"\x1b" not in value:
            parts.append(value.decode("ascii"))
            continue
        first_sub = value.find(b"\x1f")
        if tag[:2] == "00" or first_sub < 0:
            text, ok = decode(value)
            if "\x1e" in text:
                return None
            parts.append(text)
            clean = clean and ok
            continue
        pieces = [value[:first_sub].decode("latin-1")]  # indicators, byte for byte
        for chunk in value[first_sub + 1 :].split(b"\x1f"):
            text, ok = decode(chunk[1:]) if chunk else ("", True)
            if "\x1e" in text or "\x1f" in text:
                return None
            pieces.append(chunk[:1].decode("latin-1") + text)
            clean = clean and ok
        parts.append("\x1f".join(pieces))
    parts.append("")
    return "\x1e".join(parts), clean


_new_field = tuple.__new__
#: ``MarcRecord(...)``, cheaper (``core.fastinit``): one for every record read
_new_marc = constructor(MarcRecord)

_Fields = tuple[tuple[tuple[str, str], ...], tuple[DataField, ...], str]
_PLAIN = frozenset(" 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ#|")


def _fields_py(tags: list[str], text: str) -> _Fields | None:
    """(control fields, data fields, order) from a record's decoded data area, or None when
    it holds fewer fields than ``tags``. ``_marcread.fields`` is the same in C."""
    texts = text.split("\x1e")[: len(tags)]
    if len(texts) != len(tags):
        return None
    return _from_texts(tags, texts, text.isascii())


def _from_texts(tags: list[str], texts: list[str], plain: bool) -> _Fields:
    """Fields from their decoded text (the fast path: one decode for the whole record).

    ``plain``: the whole record is ASCII, so no value needs normalizing.
    """
    control: list[tuple[str, str]] = []
    fields: list[DataField] = []
    kinds: list[str] = []
    in_order = True
    for tag, text in zip(tags, texts, strict=True):
        first_sub = text.find("\x1f")
        if first_sub < 0 or tag[:2] == "00":
            control.append((tag, text if plain else nfc(text)))
            kinds.append("c")
            if fields:
                in_order = False
            continue
        kinds.append("d")
        if first_sub == 2 and text[0] in _PLAIN and text[1] in _PLAIN:
            ind1, ind2 = text[0], text[1]
        else:
            ind = text[:first_sub]
            ind1 = ind[0] if ind[:1].isprintable() and ind[:1] else " "
            ind2 = ind[1] if ind[1:2].isprintable() and ind[1:2] else " "
        parts = text[first_sub + 1 :].split("\x1f")
        if plain:
            subs = tuple([(p[0], p[1:]) for p in parts if p])
        else:
            subs = tuple([(_code(p[0]), nfc(p[1:])) for p in parts if p])
        fields.append(_new_field(DataField, (tag, ind1, ind2, subs)))
    return tuple(control), tuple(fields), "" if in_order else "".join(kinds)


def _decode_fields(
    tags: list[str], values: list[bytes], charset: str
) -> tuple[tuple[tuple[str, str], ...], tuple[DataField, ...], str, bool]:
    """Fields decoded one subfield at a time (MARC-8 and ISO 5426 are stateful; and a record
    that does not decode cleanly as a whole keeps its clean subfields)."""
    decode = decoder(charset)
    control: list[tuple[str, str]] = []
    fields: list[DataField] = []
    order: list[str] = []
    clean = True
    for tag, value in zip(tags, values, strict=True):
        first_sub = value.find(b"\x1f")
        if tag[:2] == "00" or first_sub < 0:
            text, ok = decode(value)
            clean = clean and ok
            control.append((tag, nfc(text)))
            order.append("c")
            continue
        order.append("d")
        indicators = value[:first_sub][:2].decode("latin-1").ljust(2)
        subs: list[tuple[str, str]] = []
        for chunk in value[first_sub + 1 :].split(b"\x1f"):
            if chunk:
                text, ok = decode(chunk[1:])
                clean = clean and ok
                code = chunk[0:1].decode("latin-1")
                subs.append((_code(code), nfc(text)))
        ind1 = indicators[0] if indicators[0].isprintable() else " "
        ind2 = indicators[1] if indicators[1].isprintable() else " "
        fields.append(DataField(tag, ind1, ind2, tuple(subs)))
    return tuple(control), tuple(fields), "".join(order), clean


def _code(char: str) -> str:
    """A subfield code: ASCII; ``á`` typed for ``a`` (it happens) is read as ``a``."""
    if char.isascii():
        return char
    base = unicodedata.normalize("NFKD", char)[:1]
    return base if base.isascii() and base.isalnum() else char


#: ``_fields_py``, or the same in C when the extension is built (see ``iso2709.NATIVE``)
_fields: Callable[[list[str], str], _Fields | None] = _fields_py
if iso2709.NATIVE:
    from normalizers._marcread import fields as _native_fields

    _fields = partial(_native_fields, DataField, nfc, _code)


# -- MARCXML ----------------------------------------------------------------------------------


def _local(el: etree._Element) -> str:
    return etree.QName(el.tag).localname if isinstance(el.tag, str) else ""


def _text(el: etree._Element) -> str:
    return "".join(str(t) for t in el.itertext())


def _from_xml_record(root: etree._Element, flavour: str, hint: str) -> MarcRecord:
    leader = ""
    control: list[tuple[str, str]] = []
    fields: list[DataField] = []
    order: list[str] = []
    for el in root:
        name = _local(el)
        if name == "leader":
            leader = _text(el)
        elif name == "controlfield":
            control.append((el.get("tag", ""), nfc(_text(el))))
            order.append("c")
        elif name == "datafield":
            order.append("d")
            subs = tuple(
                (sf.get("code", ""), nfc(_text(sf))) for sf in el if _local(sf) == "subfield"
            )
            ind1 = (el.get("ind1") or " ")[:1]
            ind2 = (el.get("ind2") or " ")[:1]
            fields.append(DataField(el.get("tag", ""), ind1, ind2, subs))
    if not control and not fields:
        raise RecordError("MARCXML record has no fields")
    if flavour:
        chosen = _flavour_name(flavour)
    else:
        by_tag = {f.tag: f for f in reversed(fields)}
        chosen = detect_flavour(
            [t for t, _ in control] + [f.tag for f in fields],
            field_100a=by_tag["100"].first("a") if "100" in by_tag else "",
            field_801a=by_tag["801"].first("a") if "801" in by_tag else "",
            field_001=next((v for t, v in control if t == "001"), ""),
            hint=hint,
        )
    leader = leader.ljust(24)[:24]
    return MarcRecord(leader, tuple(control), tuple(fields), "utf-8", chosen, order="".join(order))


def read_marcxml(data: bytes, flavour: str = "", *, hint: str = "") -> MarcRecord:
    """Decode one MARCXML ``<record>`` (MARC21 slim, or UNIMARC/RUSMARC in the slim or
    MarcXchange namespace), or a ``<collection>`` of exactly one."""
    root = parse_untrusted(data, what="MARCXML record", limit=MAX_RECORD_BYTES, error=RecordError)
    if _local(root) == "collection":
        inner = [c for c in root if _local(c) == "record"]
        if len(inner) != 1:
            raise RecordError(f"MARCXML collection holds {len(inner)} records, expected one")
        root = inner[0]
    if _local(root) != "record":
        raise RecordError(f"MARCXML root is <{_local(root) or root.tag}>, not <record>")
    return _from_xml_record(root, flavour, hint)


def iter_marcxml(data: bytes, flavour: str = "") -> Iterator[tuple[int, MarcRecord | RecordError]]:
    """(record number from 1, record or the error that spoilt it) for a MARCXML file; a file
    that is not MARCXML at all is one error, numbered 0."""
    try:
        root = parse_untrusted(data, what="MARCXML file", limit=MAX_FILE_BYTES, error=RecordError)
    except RecordError as exc:
        yield 0, RecordError(str(exc), 0)
        return
    records = [root] if _local(root) == "record" else [c for c in root if _local(c) == "record"]
    if not records:
        name = _local(root) or root.tag
        yield 0, RecordError(f"MARCXML root <{name}> holds no <record>", 0)
        return
    for number, el in enumerate(records, 1):
        try:
            yield number, _from_xml_record(el, flavour, "")
        except RecordError as exc:
            yield number, exc


def read_file(
    data: bytes, *, charset: str = "", flavour: str = ""
) -> Iterator[tuple[int, MarcRecord | RecordError]]:
    """Every record of an ISO 2709 or MARCXML file: (byte offset or record number, record).

    A broken record is yielded as the ``RecordError`` that describes it (with ``offset``
    set for ISO 2709), and reading goes on with the next one.
    """
    head = data.lstrip()[:1]
    if head == b"<":
        yield from iter_marcxml(data, flavour)
        return
    for offset, chunk in iso2709.split_stream(data):
        try:
            yield offset, read_iso2709(chunk, charset, flavour)
        except RecordError as exc:
            yield offset, RecordError(f"record at byte {offset}: {exc}", offset)
