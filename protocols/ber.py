"""Sans-IO BER (X.690 Basic Encoding Rules), the subset Z39.50 needs.

Every value on the wire is a TLV: identifier octets (class, constructed flag, tag number),
length octets, contents. We always *write* definite lengths; we *accept* the indefinite form
(``0x80`` ... end-of-contents ``00 00``) on input, as X.690 8.1.3.6 allows for constructed
values. Nothing here does I/O:

* ``frame(buffer)`` says whether a buffer starts with a complete PDU: ``None`` (need more
  bytes), the PDU's length in bytes, or ``BERError`` (broken, too big, too deep). Like YAZ's
  ``cs_complete_auto`` it is a pure function that the connection object calls on each read;
  given a ``FrameProgress`` it resumes where the last call stopped, so a PDU that arrives in
  many reads is walked once, not once per read.
* ``decode(data)`` parses one TLV into an ``Element`` tree; its accessors (``integer()``,
  ``oid()``, ``text()``, ...) decode primitive contents. ``decode_one``, ``read_header`` and
  ``is_end_of_contents`` let a codec walk a value itself where it knows the shape to expect
  (``protocols.z3950.apdu`` reads the records of a response that way).
* ``tlv``, ``constructed``, ``integer``, ``boolean``, ... build encodings.

>>> element = decode(integer(300))
>>> element.tag, element.integer()
(Tag(cls=<TagClass.UNIVERSAL: 0>, number=2, constructed=False), 300)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

from core.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "BIT_STRING",
    "BOOLEAN",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_PDU_SIZE",
    "ENUMERATED",
    "EXTERNAL",
    "GENERAL_STRING",
    "INTEGER",
    "NULL",
    "OBJECT_DESCRIPTOR",
    "OBJECT_IDENTIFIER",
    "OCTET_STRING",
    "SEQUENCE",
    "SET",
    "VISIBLE_STRING",
    "BERError",
    "Element",
    "External",
    "ExternalEncoding",
    "FrameProgress",
    "Tag",
    "TagClass",
    "bit_string",
    "boolean",
    "constructed",
    "decode",
    "decode_bits",
    "decode_integer",
    "decode_oid",
    "decode_one",
    "encode_bits",
    "encode_integer",
    "encode_oid",
    "external",
    "frame",
    "integer",
    "is_end_of_contents",
    "null",
    "octets",
    "oid",
    "read_header",
    "string",
    "tlv",
]

#: Largest PDU ``frame`` accepts by default (a present response of big records fits easily).
DEFAULT_MAX_PDU_SIZE = 16 * 1024 * 1024
#: Deepest nesting accepted by default; Z39.50 PDUs nest about 12 deep, OPAC records ~20.
DEFAULT_MAX_DEPTH = 64

# A length field wider than this cannot describe a PDU we would accept anyway.
_MAX_LENGTH_OCTETS = 8
# Tag numbers above 2**28 do not occur in any ASN.1 module we read.
_MAX_TAG_OCTETS = 4


class BERError(RemoteProtocolError):
    """Bytes that are not valid BER, or a PDU over the size or depth caps.

    A subclass of ``core.RemoteProtocolError``: the bytes always come from the peer.
    ``offset`` is where in the buffer the problem was found.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"BER: {message}{where}")
        self.offset = offset


class TagClass(IntEnum):
    """The two class bits of an identifier octet (X.690 8.1.2.2)."""

    UNIVERSAL = 0
    APPLICATION = 1
    CONTEXT = 2
    PRIVATE = 3


@dataclass(frozen=True, slots=True)
class Tag:
    """An identifier: class, number and whether the encoding is constructed."""

    cls: TagClass
    number: int
    constructed: bool = False

    @classmethod
    def context(cls, number: int, constructed: bool = False) -> Tag:
        """``[number]`` in an ASN.1 module (context-specific class)."""
        return cls(TagClass.CONTEXT, number, constructed)

    @classmethod
    def universal(cls, number: int, constructed: bool = False) -> Tag:
        """A UNIVERSAL tag, e.g. ``Tag.universal(2)`` for INTEGER."""
        return cls(TagClass.UNIVERSAL, number, constructed)

    def __str__(self) -> str:
        return f"[{_CLASS_PREFIX[self.cls]}{self.number}]"


_CLASS_PREFIX = {
    TagClass.UNIVERSAL: "UNIVERSAL ",
    TagClass.APPLICATION: "APPLICATION ",
    TagClass.CONTEXT: "",
    TagClass.PRIVATE: "PRIVATE ",
}


# X.680 8.6, table 1: the universal tags Z39.50 uses.
BOOLEAN = Tag.universal(1)
INTEGER = Tag.universal(2)
BIT_STRING = Tag.universal(3)
OCTET_STRING = Tag.universal(4)
NULL = Tag.universal(5)
OBJECT_IDENTIFIER = Tag.universal(6)
OBJECT_DESCRIPTOR = Tag.universal(7)
EXTERNAL = Tag.universal(8, constructed=True)
ENUMERATED = Tag.universal(10)
SEQUENCE = Tag.universal(16, constructed=True)
SET = Tag.universal(17, constructed=True)
VISIBLE_STRING = Tag.universal(26)
GENERAL_STRING = Tag.universal(27)


# --------------------------------------------------------------------------- decoding


class _Incomplete(Exception):
    """The buffer ends before the TLV does (internal: ``frame`` turns it into None)."""


# Tags of one-octet identifiers, built once: headers are parsed tens of thousands of times
# per present response, and a Tag per header would dominate the cost.
_ONE_OCTET_TAGS: tuple[Tag | None, ...] = tuple(
    None if first & 0x1F == 0x1F else Tag(TagClass(first >> 6), first & 0x1F, bool(first & 0x20))
    for first in range(256)
)

# (tag, length or None for indefinite, offset of the contents)
_Header = tuple[Tag, int | None, int]


def _read_header(buf: bytes | bytearray | memoryview, pos: int, end: int) -> _Header:
    start = pos
    if pos >= end:
        raise _Incomplete
    first = buf[pos]
    pos += 1
    tag = _ONE_OCTET_TAGS[first]
    if tag is None:
        # X.690 8.1.2.4: high tag number form, base 128, no leading 0x80 octet
        number = 0
        for count in range(_MAX_TAG_OCTETS + 1):
            if pos >= end:
                raise _Incomplete
            octet = buf[pos]
            pos += 1
            if count == 0 and octet == 0x80:
                raise BERError("tag number with a leading zero octet", start)
            if count == _MAX_TAG_OCTETS:
                raise BERError("tag number too large", start)
            number = (number << 7) | (octet & 0x7F)
            if not octet & 0x80:
                break
        if number < 0x1F:
            raise BERError("high-tag-number form used for a low tag number", start)
        tag = Tag(TagClass(first >> 6), number, bool(first & 0x20))
    elif first == 0:
        raise BERError("unexpected end-of-contents octets", start)
    if pos >= end:
        raise _Incomplete
    octet = buf[pos]
    pos += 1
    length: int | None
    if octet < 0x80:
        length = octet
    elif octet == 0x80:
        if not first & 0x20:
            raise BERError("indefinite length on a primitive value", start)
        length = None
    elif octet == 0xFF:
        raise BERError("reserved length octet 0xFF", start)
    else:
        count = octet & 0x7F
        if count > _MAX_LENGTH_OCTETS:
            raise BERError(f"length field of {count} octets", start)
        if pos + count > end:
            raise _Incomplete
        length = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    return tag, length, pos


def _is_eoc(buf: bytes | bytearray | memoryview, pos: int, end: int) -> bool:
    if pos + 2 > end:
        if pos < end and buf[pos] != 0:
            return False
        raise _Incomplete
    return buf[pos] == 0 and buf[pos + 1] == 0


@dataclass(slots=True)
class FrameProgress:
    """Where ``frame`` stopped in a buffer that did not yet hold a whole PDU.

    ``offset`` is the first TLV not yet walked, ``depth`` how many indefinite-length values
    are open there. Pass the same object with the grown buffer to go on from there; ``frame``
    resets it when it finds the end of the PDU.
    """

    offset: int = 0
    depth: int = 0


def _scan(
    buf: bytes | bytearray | memoryview,
    progress: FrameProgress,
    max_size: int,
    max_depth: int,
) -> int | None:
    """End of the TLV at the start of ``buf``, walking from ``progress`` (None: incomplete).

    One loop, no recursion: definite-length values are skipped by their length, so only the
    headers of indefinite-length values and of their children are read.
    """
    n = len(buf)
    pos, depth = progress.offset, progress.depth
    while True:
        if depth:
            if pos + 2 > max_size:
                raise BERError(f"PDU exceeds the limit of {max_size} bytes", 0)
            if pos + 1 < n:
                if buf[pos] == 0 and buf[pos + 1] == 0:
                    pos += 2
                    depth -= 1
                    if not depth:
                        progress.offset = progress.depth = 0
                        return pos
                    continue
            elif pos >= n or buf[pos] == 0:
                break  # the end-of-contents octets may be next: wait for them
            if depth > max_depth:
                raise BERError(f"nesting deeper than {max_depth}", pos)
        if pos >= n:
            break
        first = buf[pos]
        octet = buf[pos + 1] if pos + 1 < n else 0xFF
        length: int | None
        if first & 0x1F != 0x1F and first and octet != 0xFF:
            # the common headers: one identifier octet; short, indefinite or 1-2 octet length
            if octet < 0x80:
                length = octet
                content_start = pos + 2
            elif octet == 0x80:
                if not first & 0x20:
                    raise BERError("indefinite length on a primitive value", pos)
                length = None
                content_start = pos + 2
            elif octet == 0x81 and pos + 2 < n:
                length = buf[pos + 2]
                content_start = pos + 3
            elif octet == 0x82 and pos + 3 < n:
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                content_start = pos + 4
            else:
                try:
                    _tag, length, content_start = _read_header(buf, pos, n)
                except _Incomplete:
                    break
        else:
            try:
                _tag, length, content_start = _read_header(buf, pos, n)
            except _Incomplete:
                break
        if length is None:
            depth += 1
            pos = content_start
            continue
        end = content_start + length
        if end > max_size:
            raise BERError(f"PDU of {end} bytes exceeds the limit of {max_size}", 0)
        if end > n:
            break
        if not depth:
            progress.offset = progress.depth = 0
            return end
        pos = end
    progress.offset, progress.depth = pos, depth
    return None


def frame(
    buffer: bytes | bytearray | memoryview,
    *,
    max_size: int = DEFAULT_MAX_PDU_SIZE,
    max_depth: int = DEFAULT_MAX_DEPTH,
    progress: FrameProgress | None = None,
) -> int | None:
    """Length of the complete PDU at the start of ``buffer``, or None if more bytes are needed.

    Raises ``BERError`` when the bytes cannot start a valid PDU, when the PDU is (or
    announces that it will be) larger than ``max_size``, or when indefinite-length values
    nest deeper than ``max_depth``. Definite-length contents are not inspected here:
    ``decode`` checks them, with the same depth cap.

    ``progress`` carries the walk over from one call to the next while ``buffer`` only grows
    at its end (a connection's receive buffer); without it every call starts at byte 0.

    >>> frame(b"\\x30\\x03\\x02\\x01"), frame(b"\\x30\\x03\\x02\\x01\\x05\\xff")
    (None, 5)
    """
    return _scan(buffer, progress if progress is not None else FrameProgress(), max_size, max_depth)


@dataclass(frozen=True, slots=True, eq=False)
class Element:
    """One decoded TLV. ``children`` holds the parsed contents of a constructed value.

    The element keeps a reference to the buffer it came from, so ``raw`` and ``content``
    are slices made on demand, not copies made while parsing.
    """

    tag: Tag
    buffer: bytes = field(repr=False)
    start: int
    content_start: int
    content_end: int
    end: int
    children: tuple[Element, ...] = ()

    @property
    def raw(self) -> bytes:
        """The whole TLV exactly as it was received."""
        return self.buffer[self.start : self.end]

    @property
    def content(self) -> bytes:
        """The contents octets (for a constructed value: its children's encodings)."""
        return self.buffer[self.content_start : self.content_end]

    def is_(self, tag: Tag) -> bool:
        """Same class and number as ``tag`` (the constructed flag is not compared)."""
        return self.tag.cls == tag.cls and self.tag.number == tag.number

    def _primitive(self, what: str) -> bytes:
        if self.tag.constructed:
            raise BERError(f"{what} {self.tag} must be primitive", self.start)
        return self.content

    def integer(self) -> int:
        """INTEGER / ENUMERATED contents as a Python int."""
        return decode_integer(self._primitive("INTEGER"), self.start)

    def boolean(self) -> bool:
        """BOOLEAN contents: any non-zero octet is TRUE (X.690 8.2.2)."""
        content = self._primitive("BOOLEAN")
        if len(content) != 1:
            raise BERError(f"BOOLEAN of {len(content)} octets", self.start)
        return content != b"\x00"

    def null(self) -> None:
        """Check a NULL has empty contents."""
        if self._primitive("NULL"):
            raise BERError("NULL with contents", self.start)

    def octets(self) -> bytes:
        """OCTET STRING (or any string type) contents; constructed strings are joined."""
        if not self.tag.constructed:
            return self.content
        return b"".join(child.octets() for child in self.children)

    def text(self, errors: str = "replace") -> str:
        """A character string (VisibleString, GeneralString, ...) read as UTF-8."""
        return self.octets().decode("utf-8", errors)

    def oid(self) -> str:
        """OBJECT IDENTIFIER contents in dotted form, ``1.2.840.10003.5.10``."""
        return decode_oid(self._primitive("OBJECT IDENTIFIER"), self.start)

    def bits(self) -> tuple[bool, ...]:
        """BIT STRING contents: bit 0 is the most significant bit of the first octet."""
        return decode_bits(self._primitive("BIT STRING"), self.start)

    def external(self) -> External:
        """EXTERNAL contents (the element's own tag may be implicit)."""
        return _decode_external(self)

    def only_child(self) -> Element:
        """The single value inside an explicit tag or a CHOICE wrapper."""
        if not self.tag.constructed or len(self.children) != 1:
            raise BERError(f"{self.tag} should hold exactly one value", self.start)
        return self.children[0]


def _parse(buf: bytes, pos: int, end: int, depth: int, max_depth: int) -> Element:
    if depth > max_depth:
        raise BERError(f"nesting deeper than {max_depth}", pos)
    tag, length, content_start = _read_header(buf, pos, end)
    if length is not None:
        content_end = content_start + length
        if content_end > end:
            raise _Incomplete
        if not tag.constructed:
            return Element(tag, buf, pos, content_start, content_end, content_end)
        children: list[Element] = []
        child = content_start
        # primitive children with a one-octet header are built here, not in a call each
        inline = depth < max_depth
        while child < content_end:
            first = buf[child]
            small = _ONE_OCTET_TAGS[first]
            if inline and small is not None and first & 0x20 == 0 and first:
                if child + 1 >= content_end:
                    raise _Incomplete
                size = buf[child + 1]
                if size < 0x80:
                    child_end = child + 2 + size
                    if child_end > content_end:
                        raise _Incomplete
                    children.append(Element(small, buf, child, child + 2, child_end, child_end))
                    child = child_end
                    continue
            element = _parse(buf, child, content_end, depth + 1, max_depth)
            children.append(element)
            child = element.end
        return Element(tag, buf, pos, content_start, content_end, content_end, tuple(children))
    children = []
    child = content_start
    while not _is_eoc(buf, child, end):
        element = _parse(buf, child, end, depth + 1, max_depth)
        children.append(element)
        child = element.end
    return Element(tag, buf, pos, content_start, child, child + 2, tuple(children))


def decode_one(
    data: bytes,
    offset: int = 0,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    depth: int = 0,
    end: int | None = None,
) -> tuple[Element, int]:
    """Decode the TLV at ``offset``; return it and the offset just after it.

    ``end`` bounds the value (the end of an enclosing definite-length value; default: the end
    of ``data``); ``depth`` is how deep it sits in an enclosing value, for ``max_depth``.
    """
    try:
        element = _parse(data, offset, len(data) if end is None else end, depth, max_depth)
    except _Incomplete:
        raise BERError("value truncated", offset) from None
    except RecursionError:
        raise BERError("nesting too deep", offset) from None
    return element, element.end


def decode(data: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Element:
    """Decode exactly one TLV that fills ``data``."""
    element, end = decode_one(bytes(data), 0, max_depth=max_depth)
    if end != len(data):
        raise BERError(f"{len(data) - end} bytes after the value", end)
    return element


def read_header(
    data: bytes | bytearray | memoryview, offset: int = 0, end: int | None = None
) -> tuple[Tag, int | None, int]:
    """The identifier and length octets at ``offset``: the tag, the contents' length (None
    for the indefinite form) and the offset of the contents.

    >>> read_header(bytes.fromhex("a18006072a"))
    (Tag(cls=<TagClass.CONTEXT: 2>, number=1, constructed=True), None, 2)
    """
    try:
        return _read_header(data, offset, len(data) if end is None else end)
    except _Incomplete:
        raise BERError("value truncated", offset) from None


def is_end_of_contents(
    data: bytes | bytearray | memoryview, offset: int, end: int | None = None
) -> bool:
    """Whether the end-of-contents octets ``00 00`` of an indefinite-length value are at
    ``offset`` (``BERError`` if ``data`` ends before anything else could)."""
    try:
        return _is_eoc(data, offset, len(data) if end is None else end)
    except _Incomplete:
        raise BERError("value truncated", offset) from None


def decode_integer(content: bytes, offset: int | None = None) -> int:
    """Two's-complement INTEGER contents (X.690 8.3)."""
    if not content:
        raise BERError("INTEGER with no contents", offset)
    return int.from_bytes(content, "big", signed=True)


# OIDs decoded lately, by their contents octets: a response names the same few record
# syntaxes in every record
_OIDS: dict[bytes, str] = {}
_OIDS_KEPT = 256


def decode_oid(content: bytes, offset: int | None = None) -> str:
    """OBJECT IDENTIFIER contents (X.690 8.19) to dotted form."""
    found = _OIDS.get(content)
    if found is not None:
        return found
    dotted = _decode_oid(content, offset)
    if len(_OIDS) >= _OIDS_KEPT:
        _OIDS.clear()
    _OIDS[bytes(content)] = dotted
    return dotted


def _decode_oid(content: bytes, offset: int | None) -> str:
    if not content:
        raise BERError("OBJECT IDENTIFIER with no contents", offset)
    if content[-1] & 0x80:
        raise BERError("OBJECT IDENTIFIER ends inside a subidentifier", offset)
    arcs: list[int] = []
    value = 0
    fresh = True
    for octet in content:
        if fresh and octet == 0x80:
            raise BERError("OBJECT IDENTIFIER subidentifier with a leading zero octet", offset)
        value = (value << 7) | (octet & 0x7F)
        fresh = not octet & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in head + arcs[1:])


def decode_bits(content: bytes, offset: int | None = None) -> tuple[bool, ...]:
    """BIT STRING contents (X.690 8.6): leading unused-bits octet, then the bits."""
    if not content:
        raise BERError("BIT STRING with no contents", offset)
    unused = content[0]
    if unused > 7 or (unused and len(content) == 1):
        raise BERError(f"BIT STRING with {unused} unused bits", offset)
    bits = [bool(octet & (0x80 >> i)) for octet in content[1:] for i in range(8)]
    return tuple(bits[: len(bits) - unused])


# --------------------------------------------------------------------------- encoding


def _encode_identifier(tag: Tag) -> bytes:
    if tag.number < 0:
        raise LocalProtocolError(f"negative tag number {tag.number}")
    first = (tag.cls << 6) | (0x20 if tag.constructed else 0)
    if tag.number < 0x1F:
        return bytes([first | tag.number])
    groups = []
    number = tag.number
    while True:
        groups.append(number & 0x7F)
        number >>= 7
        if not number:
            break
    groups.reverse()
    return bytes([first | 0x1F, *(g | 0x80 for g in groups[:-1]), groups[-1]])


def _encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: Tag, content: bytes) -> bytes:
    """Identifier, definite length and ``content``."""
    return _encode_identifier(tag) + _encode_length(len(content)) + content


def constructed(tag: Tag, *parts: bytes | None) -> bytes:
    """A constructed value holding the already-encoded ``parts`` (None parts are left out)."""
    if not tag.constructed:
        tag = Tag(tag.cls, tag.number, True)
    return tlv(tag, b"".join(p for p in parts if p is not None))


def encode_integer(value: int) -> bytes:
    """Minimal two's-complement contents of an INTEGER."""
    length = (value + (value < 0)).bit_length() // 8 + 1
    return value.to_bytes(length, "big", signed=True)


def encode_oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER contents from dotted form."""
    try:
        arcs = [int(part) for part in dotted.split(".")]
    except ValueError:
        raise LocalProtocolError(f"not an object identifier: {dotted!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or any(a < 0 for a in arcs) or (arcs[0] < 2 and arcs[1] > 39):
        raise LocalProtocolError(f"not an object identifier: {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        groups = [arc & 0x7F]
        arc >>= 7
        while arc:
            groups.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(groups))
    return bytes(out)


def encode_bits(bits: Sequence[bool]) -> bytes:
    """BIT STRING contents for ``bits`` (bit 0 first)."""
    unused = -len(bits) % 8
    padded = [*bits, *([False] * unused)]
    body = bytes(
        sum(0x80 >> i for i in range(8) if padded[j + i]) for j in range(0, len(padded), 8)
    )
    return bytes([unused]) + body


def integer(value: int, tag: Tag = INTEGER) -> bytes:
    """An INTEGER (or ``[n] IMPLICIT INTEGER`` with ``tag``)."""
    return tlv(tag, encode_integer(value))


def boolean(value: bool, tag: Tag = BOOLEAN) -> bytes:
    """A BOOLEAN. TRUE is written 0x01 as YAZ does (BER allows any non-zero octet)."""
    return tlv(tag, b"\x01" if value else b"\x00")


def null(tag: Tag = NULL) -> bytes:
    """A NULL."""
    return tlv(tag, b"")


def octets(value: bytes, tag: Tag = OCTET_STRING) -> bytes:
    """An OCTET STRING."""
    return tlv(tag, bytes(value))


def string(value: str, tag: Tag = GENERAL_STRING) -> bytes:
    """A character string in UTF-8 (Z39.50 InternationalString is a GeneralString).

    Lone surrogates from ``surrogateescape`` decoding go back out as the bytes they stood for.
    """
    try:
        return tlv(tag, value.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"cannot encode {value!r} as UTF-8: {exc.reason}") from None


def oid(dotted: str, tag: Tag = OBJECT_IDENTIFIER) -> bytes:
    """An OBJECT IDENTIFIER from dotted form."""
    return tlv(tag, encode_oid(dotted))


def bit_string(bits: Iterable[bool], tag: Tag = BIT_STRING) -> bytes:
    """A BIT STRING."""
    return tlv(tag, encode_bits(tuple(bits)))


# --------------------------------------------------------------------------- EXTERNAL

ExternalEncoding = Literal["single-ASN1-type", "octet-aligned", "arbitrary"]

_EXTERNAL_CHOICE: dict[int, ExternalEncoding] = {
    0: "single-ASN1-type",
    1: "octet-aligned",
    2: "arbitrary",
}


# EXTERNAL ::= [UNIVERSAL 8] IMPLICIT SEQUENCE {
#     direct-reference      OBJECT IDENTIFIER OPTIONAL,
#     indirect-reference    INTEGER OPTIONAL,
#     data-value-descriptor ObjectDescriptor OPTIONAL,
#     encoding CHOICE {
#         single-ASN1-type [0] ANY,
#         octet-aligned    [1] IMPLICIT OCTET STRING,
#         arbitrary        [2] IMPLICIT BIT STRING } }
@dataclass(frozen=True, slots=True)
class External:
    """An EXTERNAL: data of the type named by ``direct_reference`` (an OID).

    ``data`` holds, by ``encoding``: for ``single-ASN1-type`` the complete BER encoding of
    the embedded value (its TLV); for ``octet-aligned`` the octets; for ``arbitrary`` the
    BIT STRING contents (leading unused-bits octet included).
    """

    data: bytes
    direct_reference: str | None = None
    encoding: ExternalEncoding = "octet-aligned"
    indirect_reference: int | None = None
    descriptor: str | None = None


def external(value: External, tag: Tag = EXTERNAL) -> bytes:
    """An EXTERNAL (or ``[n] IMPLICIT EXTERNAL`` with ``tag``)."""
    if value.encoding == "single-ASN1-type":
        body = constructed(Tag.context(0, True), value.data)
    elif value.encoding == "octet-aligned":
        body = octets(value.data, Tag.context(1))
    else:
        body = tlv(Tag.context(2), value.data)
    return constructed(
        tag,
        oid(value.direct_reference) if value.direct_reference is not None else None,
        integer(value.indirect_reference) if value.indirect_reference is not None else None,
        string(value.descriptor, OBJECT_DESCRIPTOR) if value.descriptor is not None else None,
        body,
    )


def _decode_external(element: Element) -> External:
    if not element.tag.constructed:
        raise BERError("EXTERNAL must be constructed", element.start)
    direct = indirect = descriptor = None
    for child in element.children:
        if child.is_(OBJECT_IDENTIFIER) and direct is None:
            direct = child.oid()
        elif child.is_(INTEGER) and indirect is None:
            indirect = child.integer()
        elif child.is_(OBJECT_DESCRIPTOR) and descriptor is None:
            descriptor = child.text()
        elif child.tag.cls == TagClass.CONTEXT and child.tag.number in _EXTERNAL_CHOICE:
            encoding = _EXTERNAL_CHOICE[child.tag.number]
            if encoding == "single-ASN1-type":
                data = child.only_child().raw
            elif encoding == "octet-aligned":
                data = child.octets()
            else:
                data = child._primitive("BIT STRING")
                decode_bits(data, child.start)
            if child is not element.children[-1]:
                raise BERError("EXTERNAL has values after its encoding", child.end)
            return External(data, direct, encoding, indirect, descriptor)
        else:
            raise BERError(f"unexpected {child.tag} in EXTERNAL", child.start)
    raise BERError("EXTERNAL without an encoding", element.start)
