"""OPAC records (RecordSyntax-opac, OID 1.2.840.10003.5.102): a bibliographic record plus
holdings and circulation data, sent as a single-ASN1-type EXTERNAL.

``decode_opac`` reads the BER, ``OPACRecord.to_ber`` writes it back (for tests and a future
server), ``to_holdings`` maps the holdings to ``core.Holding`` for the engine.

    OPACRecord ::= SEQUENCE {
        bibliographicRecord [1] IMPLICIT EXTERNAL OPTIONAL,
        holdingsData        [2] IMPLICIT SEQUENCE OF HoldingsRecord OPTIONAL }
    HoldingsRecord ::= CHOICE {
        marcHoldingsRecord [1] IMPLICIT EXTERNAL,
        holdingsAndCirc    [2] IMPLICIT HoldingsAndCircData }

>>> record = OPACRecord(holdings=(HoldingsAndCirc(call_number="QA76", circulation=(
...     CircRecord(available_now=False, availability_date="20250301"),)),))
>>> to_holdings(decode_opac(record.to_ber()))[0].status.value
'on_loan'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from core.records import Holding, HoldingStatus
from protocols import ber
from protocols.ber import SEQUENCE, Element, External, Tag
from protocols.z3950.apdu import APDUError

__all__ = [
    "CircRecord",
    "HoldingsAndCirc",
    "HoldingsRecord",
    "OPACRecord",
    "Volume",
    "decode_opac",
    "to_holdings",
]


def _ctx(number: int, constructed: bool = False) -> Tag:
    return Tag.context(number, constructed)


# Volume ::= SEQUENCE {
#     enumeration  [1] IMPLICIT InternationalString OPTIONAL,
#     chronology   [2] IMPLICIT InternationalString OPTIONAL,
#     enumAndChron [3] IMPLICIT InternationalString OPTIONAL }
@dataclass(frozen=True, slots=True)
class Volume:
    """One volume of a multi-volume holding."""

    enumeration: str | None = None
    chronology: str | None = None
    enum_and_chron: str | None = None


# CircRecord ::= SEQUENCE {
#     availableNow      [1] IMPLICIT BOOLEAN,
#     availablityDate   [2] IMPLICIT InternationalString OPTIONAL,
#     availableThru     [3] IMPLICIT InternationalString OPTIONAL,
#     restrictions      [4] IMPLICIT InternationalString OPTIONAL,
#     itemId            [5] IMPLICIT InternationalString OPTIONAL,
#     renewable         [6] IMPLICIT BOOLEAN,
#     onHold            [7] IMPLICIT BOOLEAN,
#     enumAndChron      [8] IMPLICIT InternationalString OPTIONAL,
#     midspine          [9] IMPLICIT InternationalString OPTIONAL,
#     temporaryLocation [10] IMPLICIT InternationalString OPTIONAL }
@dataclass(frozen=True, slots=True)
class CircRecord:
    """Circulation data of one item (copy)."""

    available_now: bool
    availability_date: str | None = None
    available_thru: str | None = None
    restrictions: str | None = None
    item_id: str | None = None
    renewable: bool = False
    on_hold: bool = False
    enum_and_chron: str | None = None
    midspine: str | None = None
    temporary_location: str | None = None


# HoldingsAndCircData ::= SEQUENCE {
#     typeOfRecord     [1] IMPLICIT InternationalString OPTIONAL,
#     encodingLevel    [2] ...   format [3], receiptAcqStatus [4], generalRetention [5],
#     completeness [6], dateOfReport [7], nucCode [8], localLocation [9],
#     shelvingLocation [10], callNumber [11], shelvingData [12], copyNumber [13],
#     publicNote [14], reproductionNote [15], termsUseRepro [16], enumAndChron [17]
#                      (all [n] IMPLICIT InternationalString OPTIONAL),
#     volumes          [18] IMPLICIT SEQUENCE OF Volume OPTIONAL,
#     circulationData  [19] IMPLICIT SEQUENCE OF CircRecord OPTIONAL }
@dataclass(frozen=True, slots=True)
class HoldingsAndCirc:
    """Holdings of one location, with the circulation data of its items."""

    type_of_record: str | None = None
    encoding_level: str | None = None
    format: str | None = None
    receipt_acq_status: str | None = None
    general_retention: str | None = None
    completeness: str | None = None
    date_of_report: str | None = None
    nuc_code: str | None = None
    local_location: str | None = None
    shelving_location: str | None = None
    call_number: str | None = None
    shelving_data: str | None = None
    copy_number: str | None = None
    public_note: str | None = None
    reproduction_note: str | None = None
    terms_use_repro: str | None = None
    enum_and_chron: str | None = None
    volumes: tuple[Volume, ...] = ()
    circulation: tuple[CircRecord, ...] = ()


HoldingsRecord = External | HoldingsAndCirc


@dataclass(frozen=True, slots=True)
class OPACRecord:
    """A bibliographic record (an EXTERNAL: USMARC, ...) and its holdings."""

    bibliographic_record: External | None = None
    holdings: tuple[HoldingsRecord, ...] = ()

    def to_ber(self) -> bytes:
        """BER encoding of the OPACRecord SEQUENCE."""
        holdings = None
        if self.holdings:
            holdings = ber.constructed(_ctx(2, True), *(_encode_holding(h) for h in self.holdings))
        bib = self.bibliographic_record
        return ber.constructed(
            SEQUENCE, None if bib is None else ber.external(bib, _ctx(1, True)), holdings
        )


# The tag of each field, in declaration order; booleans and nested lists are handled apart.
_VOLUME_TAGS = {"enumeration": 1, "chronology": 2, "enum_and_chron": 3}
_CIRC_TAGS = {f.name: i for i, f in enumerate(fields(CircRecord), 1)}
_HOLDINGS_TAGS = {f.name: i for i, f in enumerate(fields(HoldingsAndCirc), 1)}
_CIRC_BOOLEANS = ("available_now", "renewable", "on_hold")


def _encode_struct(value: Any, tags: dict[str, int], tag: Tag) -> bytes:
    parts: list[bytes | None] = []
    for name, number in tags.items():
        item = getattr(value, name)
        if name in _CIRC_BOOLEANS and isinstance(value, CircRecord):
            parts.append(ber.boolean(item, _ctx(number)))
        elif name == "volumes":
            parts.append(
                ber.constructed(
                    _ctx(number, True),
                    *(_encode_struct(v, _VOLUME_TAGS, SEQUENCE) for v in item),
                )
                if item
                else None
            )
        elif name == "circulation":
            parts.append(
                ber.constructed(
                    _ctx(number, True), *(_encode_struct(c, _CIRC_TAGS, SEQUENCE) for c in item)
                )
                if item
                else None
            )
        else:
            parts.append(None if item is None else ber.string(item, _ctx(number)))
    return ber.constructed(tag, *parts)


def _encode_holding(value: HoldingsRecord) -> bytes:
    if isinstance(value, External):
        return ber.external(value, _ctx(1, True))
    return _encode_struct(value, _HOLDINGS_TAGS, _ctx(2, True))


def _by_tag(element: Element, what: str) -> dict[int, Element]:
    if not element.tag.constructed:
        raise APDUError(f"{what} must be constructed")
    return {c.tag.number: c for c in element.children if c.tag.cls == ber.TagClass.CONTEXT}


def _strings(found: dict[int, Element], tags: dict[str, int]) -> dict[str, str | None]:
    return {
        name: found[number].text() if number in found else None
        for name, number in tags.items()
        if name not in _CIRC_BOOLEANS and name not in ("volumes", "circulation")
    }


def _decode_circ(element: Element) -> CircRecord:
    found = _by_tag(element, "CircRecord")
    flags = {
        name: found[_CIRC_TAGS[name]].boolean() if _CIRC_TAGS[name] in found else False
        for name in _CIRC_BOOLEANS
    }
    if _CIRC_TAGS["available_now"] not in found:
        raise APDUError("CircRecord without availableNow")
    return CircRecord(**flags, **_strings(found, _CIRC_TAGS))  # type: ignore[arg-type]


def _decode_holdings(element: Element) -> HoldingsAndCirc:
    found = _by_tag(element, "HoldingsAndCircData")
    volumes = found.get(_HOLDINGS_TAGS["volumes"])
    circulation = found.get(_HOLDINGS_TAGS["circulation"])
    return HoldingsAndCirc(
        **_strings(found, _HOLDINGS_TAGS),
        volumes=tuple(
            Volume(**_strings(_by_tag(v, "Volume"), _VOLUME_TAGS))
            for v in (volumes.children if volumes is not None else ())
        ),
        circulation=tuple(
            _decode_circ(c) for c in (circulation.children if circulation is not None else ())
        ),
    )


def decode_opac(data: bytes) -> OPACRecord:
    """Decode the BER of an OPACRecord (the ``data`` of its single-ASN1-type EXTERNAL).

    Raises ``BERError`` or ``APDUError`` (both ``RemoteProtocolError``) for bad input.
    """
    element = ber.decode(data)
    if not element.is_(SEQUENCE):
        raise APDUError(f"OPACRecord must be a SEQUENCE, got {element.tag}")
    found = _by_tag(element, "OPACRecord")
    bib = found.get(1)
    holdings: list[HoldingsRecord] = []
    data_list = found.get(2)
    for item in data_list.children if data_list is not None else ():
        if item.tag == _ctx(1, True):
            holdings.append(item.external())
        elif item.tag == _ctx(2, True):
            holdings.append(_decode_holdings(item))
        else:
            raise APDUError(f"HoldingsRecord: unexpected {item.tag}")
    return OPACRecord(None if bib is None else bib.external(), tuple(holdings))


_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})")


def _iso_date(text: str | None) -> str:
    found = _DATE.match(text or "")
    return "-".join(found.groups()) if found else ""


def _status(circ: CircRecord) -> HoldingStatus:
    if circ.available_now:
        return HoldingStatus.AVAILABLE
    if circ.on_hold or circ.availability_date:
        return HoldingStatus.ON_LOAN
    return HoldingStatus.UNAVAILABLE


def to_holdings(record: OPACRecord) -> tuple[Holding, ...]:
    """One ``core.Holding`` per item (CircRecord), or per location when there are no items.

    ``nucCode`` names the library, ``localLocation`` the location, ``shelvingLocation`` the
    branch; MARC holdings records (``marcHoldingsRecord``) are not read here.
    """
    out: list[Holding] = []
    for holding in record.holdings:
        if not isinstance(holding, HoldingsAndCirc):
            continue
        notes = [n for n in (holding.copy_number, holding.public_note) if n]
        base = Holding(
            library=holding.nuc_code or "",
            branch=holding.shelving_location or "",
            location=holding.local_location or "",
            call_number=holding.call_number or "",
            note="; ".join(notes),
        )
        if not holding.circulation:
            out.append(base)
            continue
        for circ in holding.circulation:
            out.append(
                Holding(
                    library=base.library,
                    branch=base.branch,
                    location=circ.temporary_location or base.location,
                    call_number=base.call_number,
                    barcode=circ.item_id or "",
                    status=_status(circ),
                    due="" if circ.available_now else _iso_date(circ.availability_date),
                    note=base.note,
                )
            )
    return tuple(out)
