"""Z39.50 OPAC records (record syntax 1.2.840.10003.5.102): a bibliographic record plus the
library's holdings and circulation data, -> canonical ``core.Record`` with ``holdings``.

The connector hands the record over as the BER encoding of ``OPACRecord`` (it does not
interpret it); the normalizers may import only ``core``, so this module reads the few BER
constructs the OPAC schema uses itself: tag, length (definite and indefinite), nesting.
Pure functions over bytes, with depth and size bounds; every fault is ``core.RecordError``.

From Z39.50-1995 / ANSI Z39.50-2003 Appendix 5 (RET), recSyntax OPAC::

    OPACRecord ::= SEQUENCE {
        bibliographicRecord [1] IMPLICIT EXTERNAL OPTIONAL,
        holdingsData        [2] IMPLICIT SEQUENCE OF HoldingsRecord OPTIONAL}
    HoldingsRecord ::= CHOICE {
        marcHoldingsRecord  [1] IMPLICIT EXTERNAL,
        holdingsAndCirc     [2] IMPLICIT HoldingsAndCircData}
    HoldingsAndCircData ::= SEQUENCE {
        typeOfRecord [1], encodingLevel [2], format [3], receiptAcqStatus [4],
        generalRetention [5], completeness [6], dateOfReport [7], nucCode [8],
        localLocation [9], shelvingLocation [10], callNumber [11], shelvingData [12],
        copyNumber [13], publicNote [14], reproductionNote [15], termsUseRepro [16],
        enumAndChron [17]             -- each IMPLICIT InternationalString OPTIONAL
        volumes [18] IMPLICIT SEQUENCE OF Volume OPTIONAL,
        circulationData [19] IMPLICIT SEQUENCE OF CirculationData OPTIONAL}
    CirculationData ::= SEQUENCE {
        availableNow [1] IMPLICIT BOOLEAN,
        availablityDate [2] IMPLICIT InternationalString OPTIONAL,
        availableThru [3], restrictions [4], itemId [5]  -- InternationalString OPTIONAL
        renewable [6] IMPLICIT BOOLEAN, onHold [7] IMPLICIT BOOLEAN,
        enumAndChron [8], midspine [9], temporaryLocation [10] -- InternationalString OPTIONAL}
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from core import Holding, HoldingStatus, RawRecord, Record, RecordError
from normalizers.charsets import decode
from normalizers.mapping import to_record
from normalizers.marc import MarcRecord, read_iso2709, read_marcxml

__all__ = ["OpacRecord", "normalize_opac", "read_opac"]

_MAX_DEPTH = 32
_CONTEXT = 2  # tag class bits 10: context-specific
_USMARC_OID = "1.2.840.10003.5.10"
_XML_OIDS = ("1.2.840.10003.5.109.10", "1.2.840.10003.5.109.3")


@dataclass(frozen=True, slots=True)
class _Node:
    cls: int
    number: int
    constructed: bool
    value: bytes
    children: tuple[_Node, ...] = ()

    def child(self, number: int) -> _Node | None:
        return next((c for c in self.children if c.number == number and c.cls == _CONTEXT), None)


def _parse(data: bytes, pos: int, end: int, depth: int) -> tuple[_Node, int]:
    if depth > _MAX_DEPTH:
        raise RecordError("OPAC record nests too deeply")
    if pos >= end:
        raise RecordError("OPAC record ends inside a BER element")
    first = data[pos]
    pos += 1
    cls, constructed, number = first >> 6, bool(first & 0x20), first & 0x1F
    if number == 0x1F:
        number = 0
        while True:
            if pos >= end:
                raise RecordError("OPAC record ends inside a BER tag")
            byte = data[pos]
            pos += 1
            number = (number << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
            if number > 1 << 28:
                raise RecordError("BER tag number too large in OPAC record")
    if pos >= end:
        raise RecordError("OPAC record ends before a BER length")
    length_byte = data[pos]
    pos += 1
    if length_byte == 0x80:  # indefinite: children up to an end-of-contents 00 00
        if not constructed:
            raise RecordError("indefinite length on a primitive BER element")
        children: list[_Node] = []
        start = pos
        while True:
            if pos + 2 > end:
                raise RecordError("OPAC record lacks an end-of-contents marker")
            if data[pos] == 0 and data[pos + 1] == 0:
                return _Node(cls, number, True, data[start:pos], tuple(children)), pos + 2
            child, pos = _parse(data, pos, end, depth + 1)
            children.append(child)
    if length_byte & 0x80:
        size = length_byte & 0x7F
        if size > 4 or pos + size > end:
            raise RecordError("bad BER length in OPAC record")
        length = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    else:
        length = length_byte
    stop = pos + length
    if stop > end:
        raise RecordError("BER element longer than the OPAC record")
    if not constructed:
        return _Node(cls, number, False, data[pos:stop]), stop
    kids: list[_Node] = []
    inner = pos
    while inner < stop:
        child, inner = _parse(data, inner, stop, depth + 1)
        kids.append(child)
    return _Node(cls, number, True, data[pos:stop], tuple(kids)), stop


def _oid(value: bytes) -> str:
    if not value:
        return ""
    arcs = [value[0] // 40, value[0] % 40] if value[0] < 80 else [2, value[0] - 80]
    current = 0
    for byte in value[1:]:
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    return ".".join(str(a) for a in arcs)


def _external(node: _Node) -> tuple[str, bytes]:
    """(direct-reference OID, octets) of an EXTERNAL whose encoding is octet-aligned."""
    oid = next((_oid(c.value) for c in node.children if c.cls == 0 and c.number == 6), "")
    octets = next((c for c in node.children if c.cls == _CONTEXT and c.number == 1), None)
    if octets is None:
        raise RecordError("OPAC bibliographic record is not octet-aligned")
    value = octets.value
    if octets.constructed:  # a constructed OCTET STRING: its segments
        value = b"".join(c.value for c in octets.children)
    return oid, value


@dataclass(frozen=True, slots=True)
class OpacRecord:
    """The parts of an OPAC record: its MARC record and its holdings/circulation data."""

    marc: MarcRecord
    holdings: tuple[Holding, ...]


def _text(node: _Node | None, charset: str) -> str:
    if node is None:
        return ""
    raw = node.value if not node.constructed else b"".join(c.value for c in node.children)
    return " ".join(decode(raw, charset or "utf-8")[0].split())


def _boolean(node: _Node | None) -> bool | None:
    if node is None or node.constructed or len(node.value) != 1:
        return None
    return node.value != b"\x00"


_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})")


def _holding(node: _Node, charset: str) -> list[Holding]:
    """``nucCode`` names the library, ``shelvingLocation`` the branch, ``localLocation`` the
    location; one holding per item (CirculationData), or one for the location."""

    def text(number: int) -> str:
        return _text(node.child(number), charset)

    base = Holding(
        library=text(8),
        branch=text(10),
        location=text(9),
        call_number=text(11),
        note="; ".join(n for n in (text(13), text(14)) if n),  # copyNumber, publicNote
    )
    circulation = node.child(19)
    if circulation is None or not circulation.children:
        return [base]
    out = []
    for item in circulation.children:
        now = _boolean(item.child(1))
        when = _text(item.child(2), charset)
        if now:
            status = HoldingStatus.AVAILABLE
        elif _boolean(item.child(7)) or when:  # on hold, or a date it comes back
            status = HoldingStatus.ON_LOAN
        else:
            status = HoldingStatus.UNAVAILABLE
        found = _DATE.match(when)
        out.append(
            dataclasses.replace(
                base,
                barcode=_text(item.child(5), charset),
                status=status,
                due="-".join(found.groups()) if found and not now else "",
                location=_text(item.child(10), charset) or base.location,
            )
        )
    return out


def read_opac(data: bytes, *, charset: str = "", flavour: str = "") -> OpacRecord:
    """Decode an ``OPACRecord``: its bibliographic record and holdings."""
    root, _ = _parse(data, 0, len(data), 0)
    if root.cls == _CONTEXT and root.number == 0 and root.children:  # [0] single-ASN1-type
        root = root.children[0]
    if not root.constructed:
        raise RecordError("OPAC record is not a SEQUENCE")
    bib = root.child(1)
    if bib is None:
        raise RecordError("OPAC record carries no bibliographic record")
    oid, octets = _external(bib)
    if oid in _XML_OIDS or octets.lstrip()[:1] == b"<":
        marc = read_marcxml(octets, flavour)
    else:
        hint = "usmarc" if oid == _USMARC_OID else ""
        marc = read_iso2709(octets, charset, flavour, hint=hint)
    holdings: list[Holding] = []
    data_node = root.child(2)
    for entry in data_node.children if data_node is not None else ():
        if entry.cls == _CONTEXT and entry.number == 2:
            holdings.extend(_holding(entry, charset))
    return OpacRecord(marc, tuple(holdings))


def normalize_opac(raw: RawRecord, *, charset: str = "", flavour: str = "") -> Record:
    """The canonical record of an OPAC record: its MARC record's, with the OPAC holdings
    after any the MARC record carries itself."""
    opac = read_opac(raw.data, charset=charset, flavour=flavour)
    record = to_record(opac.marc, raw)
    return dataclasses.replace(record, holdings=record.holdings + opac.holdings)
