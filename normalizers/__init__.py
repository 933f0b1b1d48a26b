"""RawRecord -> Record. Pure functions; pymarc is used here and nowhere else.

Every record syntax a library may send: ISO 2709 (MARC21, UNIMARC, RUSMARC in MARC-8,
ISO 5426, UTF-8, cp1251, KOI8-R...), MARCXML, Dublin Core, SUTRS, and Z39.50 OPAC records
(bibliographic record plus holdings and circulation).

>>> from core import RawRecord
>>> xml = (b'<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500'
...        b'</leader><datafield tag="245" ind1="1" ind2="0"><subfield code="a">War and peace /'
...        b'</subfield></datafield></record>')
>>> normalize(RawRecord("lib", 1, "marcxml", xml)).title
'War and peace'
"""

from __future__ import annotations

from core import RawRecord, Record, RecordError
from core.xmlsafe import parse_untrusted
from normalizers import dc, opac
from normalizers.mapping import to_record
from normalizers.marc import (
    MAX_RECORD_BYTES,
    MarcRecord,
    read_iso2709,
    read_marcxml,
)

__all__ = ["SYNTAXES", "normalize", "read_marc"]

#: How each record syntax is read.
SYNTAXES: dict[str, str] = {
    "usmarc": "iso2709",
    "marc21": "iso2709",
    "unimarc": "iso2709",
    "rusmarc": "iso2709",
    "marcxml": "marcxml",
    "xml": "xml",
    "dc": "dc",
    "sutrs": "sutrs",
    "opac": "opac",
}


def read_marc(raw: RawRecord, *, charset: str = "", flavour: str = "") -> MarcRecord:
    """The decoded MARC record inside ``raw`` (ISO 2709, MARCXML, or an OPAC record's)."""
    syntax = raw.syntax.strip().lower()
    kind = SYNTAXES.get(syntax)
    if kind == "iso2709":
        return read_iso2709(raw.data, charset, flavour, hint=syntax)
    if kind in ("marcxml", "xml"):
        return read_marcxml(raw.data, flavour)
    if kind == "opac":
        return opac.read_opac(raw.data, charset=charset, flavour=flavour).marc
    raise RecordError(f"a {raw.syntax!r} record holds no MARC record")


def normalize(raw: RawRecord, *, charset: str = "", flavour: str = "") -> Record:
    """Decode ``raw`` and map it to the canonical ``Record``.

    ``charset`` (``utf-8``, ``marc-8``, ``iso-5426``, or any Python codec) and ``flavour``
    (``marc21``, ``unimarc``, ``rusmarc``) come from the target's configuration and win over
    what the record says about itself; left empty, the record's declarations and bytes
    decide. A record that cannot be read raises ``core.RecordError`` and nothing else; one
    whose text could not be decoded cleanly comes back with ``charset_suspect`` set.
    """
    syntax = raw.syntax.strip().lower()
    kind = SYNTAXES.get(syntax)
    if kind is None:
        raise RecordError(f"no normalizer for record syntax {raw.syntax!r}")
    if kind == "iso2709":
        marc = read_iso2709(raw.data, charset, flavour, hint=syntax)
    elif kind == "marcxml":
        marc = read_marcxml(raw.data, flavour)
    elif kind == "xml":
        root = parse_untrusted(
            raw.data, what="XML record", limit=MAX_RECORD_BYTES, error=RecordError
        )
        if dc.is_dc(root):
            return dc.from_dc(root, raw)
        marc = read_marcxml(raw.data, flavour)
    elif kind == "dc":
        return dc.from_dc(raw.data, raw)
    elif kind == "sutrs":
        return dc.from_sutrs(raw.data, raw, charset)
    else:
        return opac.normalize_opac(raw, charset=charset, flavour=flavour)
    return to_record(marc, raw)
