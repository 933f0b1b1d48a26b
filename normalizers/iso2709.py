"""ISO 2709 framing: split a file into records, read a record's directory, write a record.

Pure functions over bytes; no charset knowledge (``normalizers.marc`` decodes the fields).

    record  = leader(24) directory(12 * n) FT data-fields RT
    entry   = tag(3) field-length(4) start-position(5)       (lengths from leader/20-21)
    field   = [ind1 ind2 (US code value)*] FT                (control fields: value FT)

A file is read the way YAZ and MARC::Record do not: on the record terminator (0x1D), so that
one record with a wrong length or a damaged directory is reported, with its byte offset,
and the records after it still come out.

``parse_contiguous``, the directory check every record goes through first (and the data
area with the fields in directory order, which is all a sound record needs), is
``normalizers._marcread.frame`` (C) when that extension is built: ~20 µs a record in Python,
under 1 in C. Only records it refuses go through ``parse``, the lenient reader. The Python
function below is its specification and the fallback; ``NATIVE`` says which one runs, and
``SVOD_PURE_PYTHON=1`` in the environment forces Python. ``tests/test_marc_fastread.py``
holds both to the same results.

>>> data = encode(b"00000nam a2200000 a 4500", [("001", b"x1"), ("245", b"10\\x1faWar")])
>>> leader, fields = parse(data)
>>> fields
[('001', b'x1'), ('245', b'10\\x1faWar')]
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence

from core import RecordError

try:
    if os.environ.get("SVOD_PURE_PYTHON"):
        raise ImportError("SVOD_PURE_PYTHON is set: the pure-Python reader is wanted")
    from normalizers import _marcread
except ImportError:  # not built (installed without a compiler): the Python below does it
    _marcread = None  # type: ignore[assignment]

__all__ = [
    "FIELD_END",
    "MAX_RECORD_BYTES",
    "NATIVE",
    "RECORD_END",
    "SUBFIELD",
    "encode",
    "parse",
    "parse_contiguous",
    "split_stream",
]

RECORD_END = b"\x1d"
FIELD_END = b"\x1e"
SUBFIELD = b"\x1f"
#: ISO 2709 lengths have five digits
MAX_RECORD_BYTES = 99999

# A plausible leader: record length, status and type letters, indicator/subfield counts
# "22" (or blanks), base address, and an entry map of "45" + two digits/blanks.
_LEADER = re.compile(rb"\d{5}[ -~]{5}[2 ][2 ]\d{5}[ -~]{3}[45][5 ][0-9 ][0-9 ]")


_ENTRY = re.compile(rb"([0-9A-Za-z]{3})(\d{4})(\d{5})")


def _parse_contiguous_py(data: bytes) -> tuple[bytes, list[str], bytes] | None:
    """The fast path of ``parse``: (leader, tags, data area) of a record whose directory is
    sound (4+5 digit entries, each field of its declared length, ending with the one field
    terminator it holds), with the fields in directory order, so that
    ``data_area.split(FIELD_END)`` yields them in order. None otherwise.

    The data area is the record's own when the fields are stored in directory order (the
    usual way); else it is put together from the fields where their entries point (IRBIS
    and the National Library of Russia export records stored in another order).
    """
    size = len(data)
    if size < 25 or size > MAX_RECORD_BYTES or data[20:22] != b"45":
        return None
    base_text = data[12:17]
    if not base_text.isdigit():
        return None
    base = int(base_text)
    if base < 25 or base > size or data[base - 1] != 0x1E or (base - 25) % 12:
        return None
    entries = _ENTRY.findall(data, 24, base - 1)
    if not entries or len(entries) * 12 != base - 25:
        return None
    tags = [t.decode("ascii") for t, _, _ in entries]
    body = data[base:]
    if entries[0][2] == b"00000":
        parts = body.split(FIELD_END)
        if (
            len(parts) == len(entries) + 1
            and parts[-1] in (b"", RECORD_END)
            and all(int(e[1]) == len(p) + 1 for e, p in zip(entries, parts, strict=False))
        ):
            return data[:24], tags, body
    fields = []
    for _, length_text, start_text in entries:
        start, length = int(start_text), int(length_text)
        field = body[start : start + length]
        if length == 0 or len(field) != length or field.find(FIELD_END) != length - 1:
            return None
        fields.append(field)
    return data[:24], tags, b"".join(fields)


#: True when the C reader (``normalizers._marcread``) is in use.
NATIVE = _marcread is not None
parse_contiguous: Callable[[bytes], tuple[bytes, list[str], bytes] | None] = (
    _marcread.frame if NATIVE else _parse_contiguous_py
)


def parse(data: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The leader and the fields (tag, bytes without the field terminator) of one record.

    Lenient where the record is still unambiguous: a record length that does not match
    the bytes, a missing record terminator, or a directory whose lengths are wrong while the
    field terminators are right (the fields are then taken between terminators). Anything
    else raises ``core.RecordError`` naming the fault.
    """
    size = len(data)
    if size < 24:
        raise RecordError(f"record of {size} bytes is shorter than its 24-byte leader")
    if size > MAX_RECORD_BYTES:
        raise RecordError(f"record of {size} bytes exceeds the ISO 2709 maximum of 99999")
    leader = data[:24]
    base_text = leader[12:17]
    if not base_text.isdigit():
        raise RecordError(f"base address {base_text.decode('latin-1')!r} is not a number")
    base = int(base_text)
    if base < 25 or base > size:
        raise RecordError(f"base address {base} is outside the record of {size} bytes")
    len_len = leader[20] - 0x30 if 0x31 <= leader[20] <= 0x39 else 4
    pos_len = leader[21] - 0x30 if 0x31 <= leader[21] <= 0x39 else 5
    width = 3 + len_len + pos_len
    directory = data[24 : base - 1]
    if data[base - 1 : base] != FIELD_END and FIELD_END in directory:
        directory = directory[: directory.index(FIELD_END)]
    count = len(directory) // width
    entries: list[tuple[str, int, int]] = []
    for k in range(count):
        entry = directory[k * width : (k + 1) * width]
        length_text = entry[3 : 3 + len_len]
        start_text = entry[3 + len_len :]
        if not (length_text.isdigit() and start_text.isdigit()):
            raise RecordError(f"invalid directory entry {k} {entry.decode('latin-1')!r}")
        entries.append((entry[:3].decode("latin-1"), int(start_text), int(length_text)))
    if not entries:
        raise RecordError("record has no fields (empty directory)")
    body = data[base:]
    fields: list[tuple[str, bytes]] = []
    for tag, start, length in entries:
        end = start + length
        chunk = body[start:end]
        if end > len(body) or length == 0 or chunk[-1:] != FIELD_END:
            return leader, _by_terminators(entries, body)
        fields.append((tag, chunk[:-1]))
    return leader, fields


def _by_terminators(entries: list[tuple[str, int, int]], body: bytes) -> list[tuple[str, bytes]]:
    """The fields of a record whose directory lengths are wrong, if the terminators agree."""
    chunks = body.rstrip(RECORD_END).split(FIELD_END)
    if chunks and not chunks[-1]:
        chunks.pop()
    if len(chunks) != len(entries):
        raise RecordError(
            f"invalid directory: {len(entries)} entries but {len(chunks)} fields"
            " and the entries point outside the record"
        )
    return [(tag, chunk) for (tag, _, _), chunk in zip(entries, chunks, strict=True)]


def split_stream(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(byte offset, record bytes) for each record of a file, terminator included.

    Records are cut at the record terminator. When a leader's length points past the
    terminator of a damaged record, the next plausible leader inside the chunk starts a
    new record, so that one truncated record does not swallow the next one. Whitespace
    between records (some exports put newlines there) is skipped.
    """
    pos, size = 0, len(data)
    while pos < size:
        while pos < size and data[pos] in b" \t\r\n\x00":
            pos += 1
        if pos >= size:
            return
        end = data.find(RECORD_END, pos)
        stop = size if end < 0 else end + 1
        declared = data[pos : pos + 5]
        if declared.isdigit() and pos + int(declared) == stop:  # the leader agrees
            yield pos, data[pos:stop]
        else:
            yield from _resync(data, pos, stop)
        pos = stop


def _resync(data: bytes, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """The records in ``data[start:stop]``, one chunk ending at a record terminator whose
    leader gives another length."""
    for match in _LEADER.finditer(data, start + 1, stop):
        inner = match.start()
        if inner + int(match.group()[:5]) == stop:
            yield start, data[start:inner]
            yield inner, data[inner:stop]
            return
    yield start, data[start:stop]


def encode(leader: bytes, fields: Sequence[tuple[str, bytes]]) -> bytes:
    """One ISO 2709 record: ``fields`` are (tag, bytes without the field terminator).

    Record length, base address and the entry map ("4500", or UNIMARC's "450 " when leader/23
    is blank) are set in the leader; its other positions are kept. Raises ``core.RecordError``
    when the record exceeds 99999 bytes.
    """
    if len(leader) != 24:
        raise RecordError(f"leader of {len(leader)} bytes, expected 24")
    directory = bytearray()
    body = bytearray()
    for tag, value in fields:
        tag_bytes = tag.encode("ascii", "replace")[:3].rjust(3, b"0")
        length = len(value) + 1
        if length > 9999 or len(body) > 99999:
            raise RecordError(f"field {tag} of {length} bytes is too long for ISO 2709")
        directory += b"%s%04d%05d" % (tag_bytes, length, len(body))
        body += value + FIELD_END
    base = 24 + len(directory) + 1
    total = base + len(body) + 1
    if total > MAX_RECORD_BYTES:
        raise RecordError(f"record of {total} bytes is too long for ISO 2709")
    # UNIMARC leaves leader/23 blank ("450 "), MARC21 writes "4500"
    last = leader[23:24] if leader[23:24] == b" " else b"0"
    head = b"%05d" % total + leader[5:12] + b"%05d" % base + leader[17:20] + b"450" + last
    return head + bytes(directory) + FIELD_END + bytes(body) + RECORD_END
