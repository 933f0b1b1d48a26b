"""Read one MARC record, ISO2709 or MARCXML, into a small flavour-neutral structure.

ISO2709 goes through pymarc (which also decodes MARC-8); MARCXML is read with hardened lxml,
not pymarc's SAX reader. Every failure becomes ``core.RecordError`` naming what is wrong.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import warnings
from dataclasses import dataclass

import pymarc
from lxml import etree

from core import RecordError
from core.xmlsafe import parse_untrusted

__all__ = [
    "MARCXML_NS",
    "DataField",
    "MarcRecord",
    "canonical_charset",
    "read_iso2709",
    "read_marcxml",
]

MARCXML_NS = "http://www.loc.gov/MARC21/slim"

#: Refuse records larger than this: ISO2709 cannot exceed 99999 bytes; MARCXML is bulkier.
MAX_RECORD_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class DataField:
    """A variable data field: tag, two indicators, and its subfields in order."""

    tag: str
    ind1: str
    ind2: str
    subfields: tuple[tuple[str, str], ...]

    def values(self, codes: str) -> list[str]:
        """Values of the subfields whose code is in ``codes``, in record order."""
        return [v for c, v in self.subfields if c in codes]


@dataclass(frozen=True, slots=True)
class MarcRecord:
    """A decoded record: leader, control fields (001-009) and data fields, text in NFC."""

    leader: str
    control: tuple[tuple[str, str], ...]
    fields: tuple[DataField, ...]
    charset: str

    def control_value(self, tag: str) -> str:
        """The first control field ``tag`` (``"008"``), or ``""``."""
        return next((v for t, v in self.control if t == tag), "")

    def get(self, *tags: str) -> list[DataField]:
        """Data fields with any of ``tags``, in record order."""
        return [f for f in self.fields if f.tag in tags]


def canonical_charset(name: str) -> str:
    """``"UTF8"`` -> ``"utf-8"``, ``"marc8"`` -> ``"marc-8"``, others by Python's codec name."""
    key = name.strip().lower().replace("_", "-")
    if key in ("utf-8", "utf8"):
        return "utf-8"
    if key in ("marc-8", "marc8", "ansel"):
        return "marc-8"
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise RecordError(f"unknown character set {name!r}") from None


# MARC-8 writes a double diacritic as two halves around the second letter (EB/EC ligature,
# FA/FB double tilde); decoders give U+FE20..FE23. UTF-8 MARC uses the one double mark
# after the first letter: "i\ufe20a\ufe21" is "i\u0361a", as LC's own UTF-8 records write it.
_HALF_MARKS = re.compile("([\ufe20\ufe22])([^\ufe20-\ufe23]*)([\ufe21\ufe23])")
_DOUBLE_MARK = {"\ufe20": "\u0361", "\ufe22": "\u0360"}


def _nfc(text: str) -> str:
    if "\ufe20" in text or "\ufe22" in text:
        text = _HALF_MARKS.sub(lambda m: _DOUBLE_MARK[m.group(1)] + m.group(2), text)
    return unicodedata.normalize("NFC", text)


def read_iso2709(data: bytes, charset: str = "") -> MarcRecord:
    """Decode one ISO2709 record.

    ``charset`` empty means leader/09: ``a`` is UTF-8, anything else MARC-8. A given charset
    wins over the leader (libraries that negotiate a charset leave leader/09 unchanged).
    """
    if len(data) < 24:
        raise RecordError(f"ISO2709 record of {len(data)} bytes is shorter than its leader")
    if len(data) > MAX_RECORD_BYTES:
        raise RecordError(f"ISO2709 record of {len(data)} bytes is too large")
    leader = data[:24].decode("ascii", "replace")
    used = canonical_charset(charset) if charset else ("utf-8" if data[9:10] == b"a" else "marc-8")
    force_utf8 = used == "utf-8"
    # pymarc picks MARC-8 from a blank leader/09 and calls it "iso8859-1"; Latin-1 proper
    # must therefore be spelled differently
    encoding = {"marc-8": "iso8859-1", "iso8859-1": "latin_1"}.get(used, used)
    if not force_utf8 and data[9:10] == b"a":
        data = data[:9] + b" " + data[10:]
    try:
        with warnings.catch_warnings():
            # pymarc warns (and carries on) on bad subfield codes; we keep what it recovers
            warnings.simplefilter("ignore")
            record = pymarc.Record(
                data=data,
                force_utf8=force_utf8,
                hide_utf8_warnings=True,
                utf8_handling="replace",
                file_encoding=encoding,
            )
    except RecordError:
        raise
    except Exception as exc:  # pymarc raises anything from ValueError to its own classes
        detail = str(exc) or type(exc).__name__
        raise RecordError(f"broken ISO2709 record: {detail}") from None
    control: list[tuple[str, str]] = []
    fields: list[DataField] = []
    for f in record.fields:
        if f.is_control_field():
            control.append((f.tag, _nfc(f.data or "")))
        else:
            subs = tuple((s.code, _nfc(s.value)) for s in f.subfields)
            fields.append(DataField(f.tag, f.indicator1 or " ", f.indicator2 or " ", subs))
    return MarcRecord(leader, tuple(control), tuple(fields), used)


def _local(el: etree._Element) -> str:
    return etree.QName(el.tag).localname if isinstance(el.tag, str) else ""


def read_marcxml(data: bytes) -> MarcRecord:
    """Decode one MARCXML (MARC21 slim) ``<record>``, or a ``<collection>`` of exactly one."""
    root = parse_untrusted(data, what="MARCXML record", limit=MAX_RECORD_BYTES, error=RecordError)
    if _local(root) == "collection":
        inner = [c for c in root if _local(c) == "record"]
        if len(inner) != 1:
            raise RecordError(f"MARCXML collection holds {len(inner)} records, expected one")
        root = inner[0]
    if _local(root) != "record":
        raise RecordError(f"MARCXML root is <{_local(root) or root.tag}>, not <record>")
    leader = ""
    control: list[tuple[str, str]] = []
    fields: list[DataField] = []
    for el in root:
        name = _local(el)
        text = "".join(str(t) for t in el.itertext())
        if name == "leader":
            leader = text
        elif name == "controlfield":
            control.append((el.get("tag", ""), _nfc(text)))
        elif name == "datafield":
            subs = tuple(
                (sf.get("code", ""), _nfc("".join(str(t) for t in sf.itertext())))
                for sf in el
                if _local(sf) == "subfield"
            )
            ind1 = (el.get("ind1") or " ")[:1]
            ind2 = (el.get("ind2") or " ")[:1]
            fields.append(DataField(el.get("tag", ""), ind1, ind2, subs))
    if not control and not fields:
        raise RecordError("MARCXML record has no fields")
    return MarcRecord(leader, tuple(control), tuple(fields), "utf-8")
