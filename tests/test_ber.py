"""BER codec: X.690 examples, error cases, framing, and Hypothesis round trips."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import LocalProtocolError, RemoteProtocolError
from protocols import ber
from protocols.ber import BERError, External, Tag, TagClass

# --------------------------------------------------------------------------- known encodings


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "020100"),
        (127, "02017f"),
        (128, "02020080"),
        (256, "02020100"),
        (-1, "0201ff"),
        (-128, "020180"),
        (-129, "0202ff7f"),
        (67108864, "020404000000"),  # yaz-client's preferredMessageSize
    ],
)
def test_integer_encodings(value: int, encoded: str) -> None:
    assert ber.integer(value).hex() == encoded
    assert ber.decode(bytes.fromhex(encoded)).integer() == value


def test_oid_encoding_matches_yaz() -> None:
    # USMARC, as yaz-client sends it in a PresentRequest (tests/data/z3950)
    assert ber.oid("1.2.840.10003.5.10").hex() == "06072a8648ce13050a"
    assert ber.decode(bytes.fromhex("06072a8648ce13050a")).oid() == "1.2.840.10003.5.10"
    # first arc 2 lets the second exceed 39 (X.690 8.19.4)
    assert ber.decode(ber.oid("2.999.3")).oid() == "2.999.3"


@pytest.mark.parametrize(
    ("tag", "identifier"),
    [
        (Tag.context(3), "83"),
        (Tag.context(30), "9e"),
        (Tag.context(31), "9f1f"),
        (Tag.context(110), "9f6e"),
        (Tag.context(201, constructed=True), "bf8149"),
        (Tag(TagClass.APPLICATION, 5, True), "65"),
        (Tag(TagClass.PRIVATE, 1000), "df8768"),
    ],
)
def test_identifier_octets(tag: Tag, identifier: str) -> None:
    encoded = ber.tlv(tag, b"")
    assert encoded.hex() == identifier + "00"
    assert ber.decode(encoded).tag == tag


def test_long_definite_length() -> None:
    encoded = ber.octets(b"x" * 300)
    assert encoded[:4].hex() == "0482012c"
    assert ber.decode(encoded).octets() == b"x" * 300


def test_bit_string_and_boolean_and_null() -> None:
    assert ber.bit_string([True, False, True]).hex() == "030205a0"
    assert ber.decode(bytes.fromhex("030205a0")).bits() == (True, False, True)
    assert ber.decode(bytes.fromhex("030100")).bits() == ()
    assert ber.decode(bytes.fromhex("0101ff")).boolean() is True
    assert ber.decode(bytes.fromhex("010100")).boolean() is False
    assert ber.boolean(True).hex() == "010101"  # as YAZ writes it
    ber.decode(ber.null()).null()


def test_strings_are_utf8_and_constructed_strings_join() -> None:
    assert ber.decode(ber.string("Война и мир")).text() == "Война и мир"
    assert ber.string("abc", ber.VISIBLE_STRING).hex() == "1a03616263"
    # a constructed OCTET STRING in indefinite form, from two segments (X.690 8.7.3)
    encoded = bytes.fromhex("2480" + "04026162" + "040163" + "0000")
    assert ber.decode(encoded).octets() == b"abc"


def test_indefinite_length_is_accepted() -> None:
    encoded = bytes.fromhex("3080" + "020105" + "3080" + "0101ff" + "0000" + "0000")
    element = ber.decode(encoded)
    assert element.tag == ber.SEQUENCE
    assert [c.tag for c in element.children] == [ber.INTEGER, ber.SEQUENCE]
    assert element.children[0].integer() == 5
    assert element.children[1].children[0].boolean() is True
    assert element.raw == encoded
    assert element.content == bytes.fromhex("020105" + "3080" + "0101ff" + "0000")


def test_decode_one_walks_a_stream() -> None:
    data = ber.integer(1) + ber.integer(2)
    first, offset = ber.decode_one(data)
    second, end = ber.decode_one(data, offset)
    assert (first.integer(), second.integer(), end) == (1, 2, len(data))


@pytest.mark.parametrize(
    ("hexdata", "message"),
    [
        ("", "truncated"),
        ("0203 0102", "truncated"),
        ("02", "truncated"),
        ("0289 000000000000000001 00", "length field of 9 octets"),
        ("04ff", "reserved length"),
        ("0480 0000", "indefinite length on a primitive"),
        ("020100 00", "1 bytes after the value"),
        ("1f8001 00", "leading zero"),
        ("1f05 00", "high-tag-number form"),
        ("0000", "end-of-contents"),
        ("3003 0000 00", "end-of-contents"),
        ("3080 020101", "truncated"),
        ("3002 0203", "truncated"),
    ],
)
def test_malformed_bytes_raise_ber_error(hexdata: str, message: str) -> None:
    with pytest.raises(BERError, match=message) as info:
        ber.decode(bytes.fromhex(hexdata.replace(" ", "")))
    assert isinstance(info.value, RemoteProtocolError)


@pytest.mark.parametrize(
    ("hexdata", "accessor", "message"),
    [
        ("0200", "integer", "INTEGER with no contents"),
        ("010200ff", "boolean", "BOOLEAN of 2 octets"),
        ("050100", "null", "NULL with contents"),
        ("0600", "oid", "no contents"),
        ("06022a86", "oid", "ends inside"),
        ("0603802a01", "oid", "leading zero"),
        ("030108", "bits", "unused bits"),
        ("030107", "bits", "unused bits"),
        ("2200", "bits", "must be primitive"),
        ("3000", "integer", "must be primitive"),
    ],
)
def test_bad_primitive_contents(hexdata: str, accessor: str, message: str) -> None:
    element = ber.decode(bytes.fromhex(hexdata))
    with pytest.raises(BERError, match=message):
        getattr(element, accessor)()


def test_encoding_refuses_bad_values() -> None:
    with pytest.raises(LocalProtocolError):
        ber.oid("1.2.x")
    with pytest.raises(LocalProtocolError):
        ber.oid("3.1")
    with pytest.raises(LocalProtocolError):
        ber.oid("1.40")
    with pytest.raises(LocalProtocolError):
        ber.string("\ud800")  # a lone surrogate that surrogateescape cannot map to a byte


def test_decode_depth_cap() -> None:
    value = ber.integer(1)
    for _ in range(10):
        value = ber.constructed(ber.SEQUENCE, value)
    element = ber.decode(value, max_depth=10)  # 10 wrappers: the integer is at depth 10
    for _ in range(10):
        element = element.only_child()
    assert element.integer() == 1
    with pytest.raises(BERError, match="nesting deeper than 9"):
        ber.decode(value, max_depth=9)


# --------------------------------------------------------------------------- EXTERNAL


@pytest.mark.parametrize(
    "value",
    [
        External(b"00366nam", "1.2.840.10003.5.10", "octet-aligned"),
        External(ber.string("SUTRS text"), "1.2.840.10003.5.101", "single-ASN1-type"),
        External(bytes.fromhex("05a0"), None, "arbitrary", indirect_reference=7),
        External(b"x", "1.2.3", "octet-aligned", 3, "a descriptor"),
    ],
)
def test_external_round_trip(value: External) -> None:
    assert ber.decode(ber.external(value)).external() == value
    implicit = ber.external(value, Tag.context(4, constructed=True))
    assert ber.decode(implicit).external() == value


def test_external_errors() -> None:
    no_encoding = ber.constructed(ber.EXTERNAL, ber.oid("1.2.3"))
    with pytest.raises(BERError, match="without an encoding"):
        ber.decode(no_encoding).external()
    stray = ber.constructed(ber.EXTERNAL, ber.boolean(True), ber.octets(b"", Tag.context(1)))
    with pytest.raises(BERError, match="unexpected"):
        ber.decode(stray).external()


# --------------------------------------------------------------------------- framing


def test_frame_needs_more_until_complete() -> None:
    pdu = ber.constructed(
        Tag.context(20, True), ber.integer(5, Tag.context(5)), ber.octets(b"y" * 200)
    )
    for cut in range(len(pdu)):
        assert ber.frame(pdu[:cut]) is None, cut
    assert ber.frame(pdu) == len(pdu)
    assert ber.frame(pdu + b"\x30\x00") == len(pdu)
    assert ber.frame(bytearray(pdu)) == len(pdu)


def test_frame_indefinite_needs_more_until_end_of_contents() -> None:
    pdu = bytes.fromhex("b980" + "020101" + "3080" + "0401ff" + "0000" + "0000")
    for cut in range(len(pdu)):
        assert ber.frame(pdu[:cut]) is None, cut
    assert ber.frame(pdu + b"\x02") == len(pdu)


def test_frame_too_big_is_refused_from_the_header_alone() -> None:
    header = bytes.fromhex("b6840100 0001")  # announces 16 MiB + 1 of contents
    with pytest.raises(BERError, match="exceeds the limit"):
        ber.frame(header)
    assert ber.frame(header, max_size=32 * 1024 * 1024) is None
    small = ber.octets(b"z" * 100)
    with pytest.raises(BERError, match="exceeds the limit of 50"):
        ber.frame(small, max_size=50)


def test_frame_too_big_indefinite() -> None:
    stream = bytes.fromhex("3080") + ber.octets(b"a" * 40) * 10
    assert ber.frame(stream, max_size=1000) is None
    with pytest.raises(BERError, match="exceeds the limit"):
        ber.frame(stream, max_size=300)


def test_frame_too_deep() -> None:
    nested = bytes.fromhex("3080") * 30
    assert ber.frame(nested, max_depth=30) is None
    with pytest.raises(BERError, match="nesting deeper than 20"):
        ber.frame(nested, max_depth=20)


def test_frame_broken_header() -> None:
    with pytest.raises(BERError):
        ber.frame(bytes.fromhex("04ff00"))
    with pytest.raises(BERError):
        ber.frame(bytes.fromhex("0480"))


# --------------------------------------------------------------------------- Hypothesis


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_integer_round_trip(value: int) -> None:
    content = ber.encode_integer(value)
    assert ber.decode_integer(content) == value
    # minimal: no redundant leading 0x00 / 0xff octet (X.690 8.3.2)
    if len(content) > 1:
        assert not (content[0] == 0 and content[1] < 0x80)
        assert not (content[0] == 0xFF and content[1] >= 0x80)


oids = st.one_of(
    st.tuples(st.integers(0, 1), st.integers(0, 39)),
    st.tuples(st.just(2), st.integers(0, 10**6)),
).flatmap(
    lambda head: st.lists(st.integers(0, 2**40), max_size=8).map(
        lambda tail: ".".join(map(str, [*head, *tail]))
    )
)


@given(oids)
def test_oid_round_trip(dotted: str) -> None:
    assert ber.decode(ber.oid(dotted)).oid() == dotted


@given(st.lists(st.booleans(), max_size=70))
def test_bits_round_trip(bits: list[bool]) -> None:
    assert ber.decode(ber.bit_string(bits)).bits() == tuple(bits)


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_string_round_trip(text: str) -> None:
    assert ber.decode(ber.string(text)).text("strict") == text


@given(st.binary(max_size=300))
def test_octets_and_boolean_round_trip(data: bytes) -> None:
    assert ber.decode(ber.octets(data)).octets() == data
    assert ber.decode(ber.boolean(bool(data))).boolean() is bool(data)


@dataclass(frozen=True)
class Node:
    """A TLV tree for property tests: primitive contents or children."""

    tag: Tag
    content: bytes = b""
    children: tuple[Node, ...] = ()


tags = st.builds(
    Tag,
    st.sampled_from(list(TagClass)),
    st.integers(0, 3000),
).filter(lambda t: not (t.cls == TagClass.UNIVERSAL and t.number == 0))

primitives = st.builds(
    lambda t, c: Node(Tag(t.cls, t.number, False), c), tags, st.binary(max_size=40)
)
trees = st.recursive(
    primitives,
    lambda kids: st.builds(
        lambda t, ch: Node(Tag(t.cls, t.number, True), children=tuple(ch)),
        tags,
        st.lists(kids, max_size=4),
    ),
    max_leaves=20,
)


def encode_tree(node: Node, indefinite: frozenset[int] = frozenset(), path: int = 0) -> bytes:
    """Definite lengths, except for constructed nodes whose path id is in ``indefinite``."""
    if not node.tag.constructed:
        return ber.tlv(node.tag, node.content)
    parts = [encode_tree(c, indefinite, path * 8 + i + 1) for i, c in enumerate(node.children)]
    if path in indefinite:
        identifier = ber.tlv(node.tag, b"")[:-1]
        return identifier + b"\x80" + b"".join(parts) + b"\x00\x00"
    return ber.constructed(node.tag, *parts)


def as_tree(element: ber.Element) -> Node:
    if element.tag.constructed:
        return Node(element.tag, children=tuple(as_tree(c) for c in element.children))
    return Node(element.tag, element.content)


@given(trees, st.frozensets(st.integers(0, 5000), max_size=30))
@settings(max_examples=300)
def test_tree_round_trip_definite_and_indefinite(tree: Node, indefinite: frozenset[int]) -> None:
    definite = encode_tree(tree)
    assert as_tree(ber.decode(definite)) == tree
    mixed = encode_tree(tree, indefinite)
    element = ber.decode(mixed)
    assert as_tree(element) == tree
    assert element.raw == mixed


@given(trees, st.frozensets(st.integers(0, 5000), max_size=30), st.binary(max_size=10))
@settings(max_examples=200)
def test_frame_finds_exactly_the_pdu(tree: Node, indefinite: frozenset[int], tail: bytes) -> None:
    pdu = encode_tree(tree, indefinite)
    assert ber.frame(pdu + tail) == len(pdu)
    for cut in sorted({0, 1, len(pdu) // 2, len(pdu) - 1}):
        if cut < len(pdu):
            assert ber.frame(pdu[:cut]) is None


@given(st.binary(max_size=200))
@settings(max_examples=500)
def test_garbage_raises_only_ber_error(data: bytes) -> None:
    try:
        length = ber.frame(data)
    except BERError:
        return
    if length is None:
        return
    try:
        element = ber.decode(data[:length])
    except BERError:
        return
    assert element.end == length


@given(trees, st.frozensets(st.integers(0, 5000), max_size=30), st.data())
@settings(max_examples=200)
def test_frame_resumes_where_it_stopped(
    tree: Node, indefinite: frozenset[int], data: st.DataObject
) -> None:
    pdu = encode_tree(tree, indefinite)
    stream = pdu + pdu
    progress = ber.FrameProgress()
    buffer = bytearray()
    ends = []
    position = 0
    while position < len(stream):
        step = data.draw(st.integers(1, 8))
        buffer += stream[position : position + step]
        position += step
        while (length := ber.frame(buffer, progress=progress)) is not None:
            ends.append(length)
            del buffer[:length]
    assert ends == [len(pdu), len(pdu)]
    assert not buffer and (progress.offset, progress.depth) == (0, 0)
