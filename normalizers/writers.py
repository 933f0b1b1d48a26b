"""Writers for catalogers: a MARC record as ISO 2709, MARCXML, the ``yaz-marcdump`` line
format or MARC-in-JSON, and a canonical record as JSON or Dublin Core.

A record that is written unchanged in its own flavour comes out byte for byte as the library
sent it (``source_bytes``); only converted or re-encoded records are rebuilt.

>>> from normalizers.marc import DataField, MarcRecord
>>> rec = MarcRecord("00000nam a2200000 a 4500", (("001", "42"),),
...                  (DataField("245", "1", "0", (("a", "War and peace /"), ("c", "Tolstoy."))),),
...                  "utf-8")
>>> print(to_line(rec), end="")
00000nam a2200000 a 4500
001 42
245 10 $a War and peace / $c Tolstoy.
<BLANKLINE>
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import replace
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from core import RawRecord, Record, RecordError
from normalizers import iso2709
from normalizers.charsets import canonical_charset
from normalizers.marc import MARCXML_NS, DataField, MarcRecord

__all__ = [
    "DC_NS",
    "canonical_dict",
    "canonical_json",
    "source_bytes",
    "to_dc",
    "to_iso2709",
    "to_line",
    "to_marc_json",
    "to_marcxml",
]

DC_NS = "http://purl.org/dc/elements/1.1/"
SRW_DC_NS = "info:srw/schema/1/dc-schema"

#: What UNIMARC 100 $a/26-29 says for the charsets Svod writes.
_UNIMARC_CHARSET_CODES = {"utf-8": "50  ", "cp1251": "0189", "koi8-r": "0199", "cp866": "0179"}
_ISO2709_SYNTAXES = ("usmarc", "marc21", "unimarc", "rusmarc")
# XML 1.0 allows neither C0 controls (but tab, LF, CR) nor unpaired surrogates
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def source_bytes(record: Record) -> bytes | None:
    """The ISO 2709 bytes the library sent for ``record``, if it came as ISO 2709."""
    raw = record.raw
    if raw is not None and raw.syntax.lower() in _ISO2709_SYNTAXES:
        return raw.data
    return None


# -- ISO 2709 ---------------------------------------------------------------------------------


def _with_charset_declared(marc: MarcRecord, charset: str) -> tuple[str, tuple[DataField, ...]]:
    leader = marc.leader.ljust(24)[:24]
    fields = marc.fields
    if marc.flavour == "marc21":
        leader = leader[:9] + ("a" if charset == "utf-8" else " ") + leader[10:]
        return leader, fields
    code = _UNIMARC_CHARSET_CODES.get(charset)
    if code is None:
        return leader, fields
    out = []
    for f in fields:
        if f.tag == "100":
            subs = tuple(
                (c, v[:26] + code + v[30:]) if c == "a" and len(v) >= 30 else (c, v)
                for c, v in f.subfields
            )
            f = f._replace(subfields=subs)
        out.append(f)
    return leader, tuple(out)


def to_iso2709(marc: MarcRecord, charset: str = "utf-8") -> bytes:
    """ISO 2709 in ``charset`` (UTF-8 unless told otherwise), its declaration set to match:
    MARC21 leader/09, UNIMARC/RUSMARC 100 $a/26-29.

    Characters the charset cannot hold become ``?``; MARC-8 and ISO 5426 are read, not
    written (a ``core.RecordError`` says so).
    """
    used = canonical_charset(charset)
    if used in ("marc-8", "iso-5426"):
        raise RecordError(f"writing {used} is not supported: write UTF-8 (or a code page)")
    leader, fields = _with_charset_declared(marc, used)
    marc = replace(marc, fields=fields)
    encoded: list[tuple[str, bytes]] = []
    for f in marc.in_order():
        if isinstance(f, DataField):
            body = (f.ind1 + f.ind2).encode(used, "replace")
            body += b"".join(b"\x1f" + (c + v).encode(used, "replace") for c, v in f.subfields)
            encoded.append((f.tag, body))
        else:
            encoded.append((f[0], f[1].encode(used, "replace")))
    return iso2709.encode(leader.encode("ascii", "replace"), encoded)


# -- MARCXML ----------------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def _xml_attr(text: str) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", text))


def marcxml_record(marc: MarcRecord) -> str:
    """One ``<record>`` element (no namespace declaration), as ``yaz-marcdump`` lays it out.

    The leader says UTF-8 (leader/09 ``a``, as YAZ writes it for every flavour): MARCXML is
    Unicode whatever the source was.
    """
    leader = marc.leader.ljust(24)[:24]
    leader = leader[:9] + "a" + leader[10:]
    lines = ["<record>", f"  <leader>{_xml_text(leader)}</leader>"]
    for f in marc.in_order():
        if not isinstance(f, DataField):
            tag, value = f
            lines.append(f"  <controlfield tag={_xml_attr(tag)}>{_xml_text(value)}</controlfield>")
            continue
        tag, ind1, ind2 = _xml_attr(f.tag), _xml_attr(f.ind1), _xml_attr(f.ind2)
        lines.append(f"  <datafield tag={tag} ind1={ind1} ind2={ind2}>")
        for code, value in f.subfields:
            lines.append(f"    <subfield code={_xml_attr(code)}>{_xml_text(value)}</subfield>")
        lines.append("  </datafield>")
    lines.append("</record>")
    return "\n".join(lines) + "\n"


def to_marcxml(records: MarcRecord | list[MarcRecord], *, collection: bool = True) -> bytes:
    """MARCXML (MARC21 slim namespace, which UNIMARC and RUSMARC exchanges use as well).

    A list, or ``collection=True``, gives a ``<collection>``; one record without it gives a
    bare ``<record>`` carrying the namespace.
    """
    many = records if isinstance(records, list) else [records]
    if collection or len(many) != 1:
        body = "".join(marcxml_record(m) for m in many)
        return f'<collection xmlns="{MARCXML_NS}">\n{body}</collection>\n'.encode()
    text = marcxml_record(many[0]).replace("<record>", f'<record xmlns="{MARCXML_NS}">', 1)
    return text.encode()


# -- line format and MARC-in-JSON -------------------------------------------------------------


def to_line(marc: MarcRecord) -> str:
    """The ``yaz-marcdump`` line format: leader, ``001 value``, ``245 10 $a ... $c ...``."""
    lines = [marc.leader]
    for f in marc.in_order():
        if isinstance(f, DataField):
            subs = " ".join(f"${code} {value}" for code, value in f.subfields)
            lines.append(f"{f.tag} {f.ind1}{f.ind2} {subs}")
        else:
            lines.append(f"{f[0]} {f[1]}")
    return "\n".join(lines) + "\n\n"


def to_marc_json(marc: MarcRecord) -> dict[str, Any]:
    """MARC-in-JSON (``{"leader": ..., "fields": [{"245": {"ind1": ..., "subfields": ...}}]}``)."""
    fields: list[dict[str, Any]] = []
    for f in marc.in_order():
        if not isinstance(f, DataField):
            fields.append({f[0]: f[1]})
            continue
        fields.append(
            {
                f.tag: {
                    "ind1": f.ind1,
                    "ind2": f.ind2,
                    "subfields": [{code: value} for code, value in f.subfields],
                }
            }
        )
    return {"leader": marc.leader, "fields": fields}


# -- canonical record -------------------------------------------------------------------------


def canonical_dict(record: Record) -> dict[str, Any]:
    """The canonical record as plain JSON values (``raw`` left out, tuples as lists).

    Stable keys include ``title``, ``authors``, ``publisher``, ``year``, ``isbns``,
    ``languages``, ``subjects``, ``holdings`` (each with ``library``, ``location``,
    ``call_number``, ``status``...), ``flavour``, ``charset`` and ``charset_suspect``.
    """
    data = dataclasses.asdict(record)
    del data["raw"]
    result: dict[str, Any] = json.loads(json.dumps(data, ensure_ascii=False))
    return result


def canonical_json(record: Record) -> str:
    """One line of JSON: what ``svod marc --to canonical`` prints per record."""
    return json.dumps(canonical_dict(record), ensure_ascii=False, sort_keys=False)


def to_dc(record: Record) -> bytes:
    """Simple Dublin Core (SRU's ``info:srw/schema/1/dc-v1.1``) of a canonical record."""
    items: list[tuple[str, str]] = [("title", record.title)]
    items += [("creator", a) for a in record.authors]
    items += [("subject", s) for s in record.subjects]
    items += [("subject", f"{scheme.upper()} {value}") for scheme, value in record.classifications]
    items.append(("publisher", ", ".join(x for x in (record.place, record.publisher) if x)))
    items.append(("date", str(record.year) if record.year else ""))
    items.append(("type", record.format))
    items.append(("format", record.extent))
    items += [("identifier", f"urn:ISBN:{i}") for i in record.isbns]
    items += [("identifier", f"urn:ISSN:{i}") for i in record.issns]
    items += [("identifier", link) for link in record.links]
    items += [("language", lang) for lang in record.languages]
    items += [("relation", s) for s in record.series]
    lines = [f'<srw_dc:dc xmlns:srw_dc="{SRW_DC_NS}" xmlns:dc="{DC_NS}">']
    lines += [f"  <dc:{name}>{_xml_text(value)}</dc:{name}>" for name, value in items if value]
    lines.append("</srw_dc:dc>")
    return ("\n".join(lines) + "\n").encode()


def raw_of(record: Record) -> RawRecord:
    """The raw record a canonical one was made from (``core.RecordError`` if it has none)."""
    if record.raw is None:
        raise RecordError("the record carries no source record to write")
    return record.raw
