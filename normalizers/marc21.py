"""MARC21 bibliographic record -> canonical ``core.Record``.

The field map is data, ``normalizers/data/marc21.yaml``; ``normalizers.mapping`` reads it
(and the UNIMARC and RUSMARC maps) the same way.
"""

from __future__ import annotations

from core import RawRecord, Record
from normalizers.mapping import FieldMap
from normalizers.mapping import field_map as _field_map
from normalizers.mapping import to_record as _to_record
from normalizers.marc import MarcRecord

__all__ = ["field_map", "to_record"]


def field_map() -> FieldMap:
    """The MARC21 field map, loaded once from ``normalizers/data/marc21.yaml``."""
    return _field_map("marc21")


def to_record(marc: MarcRecord, raw: RawRecord | None = None) -> Record:
    """Map a decoded MARC21 record to the canonical ``Record``."""
    return _to_record(marc, raw)
