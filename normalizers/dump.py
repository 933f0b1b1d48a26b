"""What ``svod marc`` and ``svod search --format iso2709|marcxml|line`` write.

``dump`` reads ISO 2709 or MARCXML files the way ``yaz-marcdump`` does, but with flavour and
charset detection: every record is written in the chosen form, and a broken one is
reported (with its byte offset) while the rest still come out. ``export_hits`` writes one
record per hit of a federated search, for a cataloger to import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, TextIO

from core import Hit, RawRecord, Record, RecordError
from core.records import richness
from normalizers import iso2709, read_marc
from normalizers.charsets import canonical_charset
from normalizers.convert import convert
from normalizers.mapping import to_record
from normalizers.marc import MarcRecord, read_file, read_iso2709
from normalizers.writers import (
    canonical_json,
    marcxml_record,
    source_bytes,
    to_dc,
    to_iso2709,
    to_line,
    to_marc_json,
)

__all__ = ["DUMP_FORMATS", "EXPORT_FORMATS", "DumpReport", "dump", "export_hits", "pick_record"]

DUMP_FORMATS = ("line", "json", "marcxml", "iso2709", "dc", "canonical")
EXPORT_FORMATS = ("iso2709", "marcxml", "line")
_XML_HEAD = b'<collection xmlns="http://www.loc.gov/MARC21/slim">\n'
_XML_TAIL = b"</collection>\n"


@dataclass
class DumpReport:
    """How a dump went: records written, and one message per record that could not be."""

    written: int = 0
    errors: list[str] = field(default_factory=list)


def _option(value: str) -> str:
    return "" if value in ("", "auto") else value


def _render(marc: MarcRecord, raw_bytes: bytes | None, to: str, converted: bool) -> bytes:
    if to == "line":
        return to_line(marc).encode()
    if to == "json":
        return (json.dumps(to_marc_json(marc), ensure_ascii=False) + "\n").encode()
    if to == "marcxml":
        return marcxml_record(marc).encode()
    if to == "iso2709":
        # unchanged records come out byte for byte; converted ones are rebuilt in UTF-8
        return raw_bytes if raw_bytes is not None and not converted else to_iso2709(marc)
    record = to_record(marc)
    if to == "dc":
        return to_dc(record)
    return (canonical_json(record) + "\n").encode()


def dump(
    files: Iterable[tuple[str, bytes]],
    out: BinaryIO,
    err: TextIO,
    *,
    flavour: str = "auto",
    charset: str = "auto",
    to: str = "line",
    convert_to: str = "",
) -> DumpReport:
    """Write every record of ``files`` ((name, bytes) pairs) to ``out`` in form ``to``.

    Broken records go to ``err`` as ``NAME: record at byte N: what is wrong``; reading goes
    on after them. ``flavour``/``charset`` ``auto`` let each record's evidence decide.
    """
    if to not in DUMP_FORMATS:
        raise RecordError(f"unknown output form {to!r} ({', '.join(DUMP_FORMATS)})")
    if _option(charset):
        canonical_charset(charset)  # an unknown name is the caller's error, not each record's
    report = DumpReport()
    if to == "marcxml":
        out.write(_XML_HEAD)
    for name, data in files:
        for where, marc, raw_bytes in _records(data, _option(flavour), _option(charset)):
            try:
                if isinstance(marc, RecordError):
                    raise marc
                converted = bool(convert_to)
                if convert_to:
                    marc = convert(marc, convert_to)
                out.write(_render(marc, raw_bytes, to, converted))
                report.written += 1
            except RecordError as exc:
                text = str(exc)
                if not text.startswith("record at byte") and where:
                    text = f"record {where}: {text}"  # a MARCXML record, by number
                message = f"{name}: {text}"
                report.errors.append(message)
                err.write(message + "\n")
    if to == "marcxml":
        out.write(_XML_TAIL)
    return report


def _records(
    data: bytes, flavour: str, charset: str
) -> Iterator[tuple[int, MarcRecord | RecordError, bytes | None]]:
    """(where, record or its error, the record's own ISO 2709 bytes) for one file."""
    if data.lstrip()[:1] == b"<":
        for number, marc in read_file(data, flavour=flavour):
            yield number, marc, None
        return
    for offset, chunk in iso2709.split_stream(data):
        try:
            yield offset, read_iso2709(chunk, charset, flavour), chunk
        except RecordError as exc:
            yield offset, RecordError(f"record at byte {offset}: {exc}", offset), None


# -- search results -----------------------------------------------------------------------------


_MARC = ("marc21", "unimarc", "rusmarc")


def pick_record(hit: Hit, prefer: str = "") -> Record:
    """The record of a hit to hand to a cataloger: the preferred library's, else the
    richest MARC record among the libraries' (Dublin Core and SUTRS only as a last resort)."""
    if prefer:
        for record in hit.records:
            if record.target_id == prefer and record.raw is not None:
                return record
    with_marc = [r for r in hit.records if r.raw is not None and r.flavour in _MARC]
    return max(with_marc or hit.records, key=richness)


def export_hits(
    hits: Iterable[Hit],
    fmt: str,
    *,
    prefer: str = "",
    convert_to: str = "",
    err: TextIO | None = None,
) -> bytes:
    """One record per hit in ``fmt`` (``iso2709``, ``marcxml``, ``line``), ready to import.

    A record written unchanged in its own flavour is the library's bytes (ISO 2709) or its
    decoded fields; ``convert_to`` (``marc21``, ``rusmarc``) converts first. Hits whose
    record holds no MARC (Dublin Core, SUTRS) are reported on ``err`` and left out.
    """
    if fmt not in EXPORT_FORMATS:
        raise RecordError(f"unknown export form {fmt!r} ({', '.join(EXPORT_FORMATS)})")
    parts: list[bytes] = [_XML_HEAD] if fmt == "marcxml" else []
    for number, hit in enumerate(hits, 1):
        record = pick_record(hit, prefer)
        raw: RawRecord | None = record.raw
        try:
            if raw is None:
                raise RecordError("no source record")
            flavour = record.flavour if record.flavour in _MARC else ""
            marc = read_marc(raw, charset=record.charset, flavour=flavour)
            if convert_to:
                marc = convert(marc, convert_to)
            parts.append(_render(marc, source_bytes(record), fmt, bool(convert_to)))
        except RecordError as exc:
            if err is not None:
                err.write(f"hit {number} ({record.target_id}): cannot export: {exc}\n")
    if fmt == "marcxml":
        parts.append(_XML_TAIL)
    return b"".join(parts)
