"""RawRecord -> Record. Pure functions; pymarc is used here and nowhere else.

>>> from core import RawRecord
>>> xml = (b'<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500'
...        b'</leader><datafield tag="245" ind1="1" ind2="0"><subfield code="a">War and peace /'
...        b'</subfield></datafield></record>')
>>> normalize(RawRecord("lib", 1, "marcxml", xml)).title
'War and peace'
"""

from __future__ import annotations

from collections.abc import Callable

from core import RawRecord, Record, RecordError
from normalizers import marc21
from normalizers.marc import MarcRecord, read_iso2709, read_marcxml

__all__ = ["FLAVOURS", "SYNTAXES", "normalize"]

#: How each record syntax is read, and the flavour it implies when none is given.
SYNTAXES: dict[str, tuple[str, str]] = {
    "usmarc": ("iso2709", "marc21"),
    "marc21": ("iso2709", "marc21"),
    "unimarc": ("iso2709", "unimarc"),
    "rusmarc": ("iso2709", "rusmarc"),
    "marcxml": ("marcxml", "marc21"),
}

#: Field mappings by MARC flavour; UNIMARC and RUSMARC come later.
FLAVOURS: dict[str, Callable[[MarcRecord, RawRecord], Record]] = {
    "marc21": marc21.to_record,
}


def normalize(raw: RawRecord, *, charset: str = "", flavour: str = "") -> Record:
    """Decode ``raw`` and map it to the canonical ``Record``.

    ``charset`` (``utf-8``, ``marc-8``, or any Python codec) overrides what the record says
    about itself (MARC21 leader/09); ``flavour`` overrides the one implied by ``raw.syntax``.
    A record that cannot be read raises ``core.RecordError`` and nothing else.
    """
    syntax = raw.syntax.strip().lower()
    if syntax not in SYNTAXES:
        raise RecordError(f"no normalizer for record syntax {raw.syntax!r}")
    reader, implied = SYNTAXES[syntax]
    flavour = (flavour or implied).strip().lower()
    mapper = FLAVOURS.get(flavour)
    if mapper is None:
        raise RecordError(f"no normalizer for MARC flavour {flavour!r} yet")
    marc = read_iso2709(raw.data, charset) if reader == "iso2709" else read_marcxml(raw.data)
    return mapper(marc, raw)
