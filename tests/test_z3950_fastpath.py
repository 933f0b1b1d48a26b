"""The fast path for records in Search / Present responses gives what the general path gives.

``decode_apdu`` reads the usual NamePlusRecord shape straight from the bytes; ``fast=False``
builds the whole BER tree and reads it through ``NamePlusRecord.from_ber``. They are compared
on real responses (the yaz-ztest golden capture, and a live zebrasrv answering in indefinite
lengths), on Hypothesis-built responses in definite and indefinite forms, and on real responses
with bytes damaged: both must return equal APDUs or both raise our own errors. Framing that
resumes across reads must find the same PDU ends as framing from scratch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import RemoteProtocolError
from demo.zebra import Federation
from protocols import ber
from protocols.ber import External, Tag
from protocols.z3950 import apdu as apdu_module
from protocols.z3950.apdu import (
    APDU,
    DefaultDiagFormat,
    InitRequest,
    NamePlusRecord,
    PresentRequest,
    PresentResponse,
    ResponseRecords,
    SearchRequest,
    SearchResponse,
    decode_apdu,
    encode_apdu,
)
from protocols.z3950.connection import NEED_DATA, ClientConnection, ClientState
from protocols.z3950.oids import RECORD_SYNTAXES
from protocols.z3950.rpn import parse_pqf

DATA = Path(__file__).parent / "data" / "z3950"
USMARC = RECORD_SYNTAXES["usmarc"]


def split(stream: bytes) -> list[bytes]:
    pdus = []
    while stream:
        length = ber.frame(stream)
        assert length is not None
        pdus.append(stream[:length])
        stream = stream[length:]
    return pdus


GOLDEN = split((DATA / "ztest-server.bin").read_bytes()) + split(
    (DATA / "zebra-server.bin").read_bytes()
)


@pytest.fixture
def general_path_forbidden(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Count entries that fall back to ``NamePlusRecord.from_ber`` during the fast decode."""
    calls: list[int] = []
    original = NamePlusRecord.from_ber

    def counting(element: ber.Element) -> NamePlusRecord:
        calls.append(element.start)
        return original(element)

    monkeypatch.setattr(NamePlusRecord, "from_ber", counting)
    yield calls


def both(data: bytes) -> tuple[APDU | str, APDU | str]:
    """What each path makes of ``data``: the APDU, or "error" for one of our own errors (any
    other exception fails the test)."""
    out: list[APDU | str] = []
    for fast in (True, False):
        try:
            out.append(decode_apdu(data, fast=fast))
        except RemoteProtocolError:
            out.append("error")
    return out[0], out[1]


# --------------------------------------------------------------------------- real responses


def test_golden_responses_agree_and_use_the_fast_path(general_path_forbidden: list[int]) -> None:
    general = [decode_apdu(pdu, fast=False) for pdu in GOLDEN]
    general_path_forbidden.clear()
    fast = [decode_apdu(pdu) for pdu in GOLDEN]
    assert fast == general
    present = [a for a in fast if isinstance(a, PresentResponse)]
    # ztest's USMARC present responses (1 and 2 records, indefinite lengths) are the usual
    # shape; its SUTRS and OPAC records are single-ASN1-type and take the general path
    assert [len(a.name_plus_records) for a in present] == [1, 2, 1, 1]
    assert [r.syntax for r in present[1].name_plus_records] == ["usmarc", "usmarc"]
    assert len(general_path_forbidden) == 2


async def _capture(port: int, database: str, count: int) -> tuple[list[bytes], list[bytes]]:
    """(raw reads, complete PDUs) of a piggy-backed search and a present of ``count`` records."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connection = ClientConnection()
    reads: list[bytes] = []
    pdus: list[bytes] = []

    async def exchange(request: APDU) -> APDU:
        writer.write(connection.send(request))
        await writer.drain()
        received = b""
        while (event := connection.next_event()) is NEED_DATA:
            data = await reader.read(65536)
            reads.append(data)
            received += data
            connection.receive_data(data)
        pdus.append(received)
        assert not isinstance(event, type(NEED_DATA))
        return event

    try:
        await exchange(InitRequest())
        query = parse_pqf('@attr 1=_ALLRECORDS @attr 2=103 ""')
        await exchange(
            SearchRequest(
                query,
                (database,),
                small_set_upper_bound=1,
                large_set_lower_bound=10**9,
                medium_set_present_number=count,
                preferred_record_syntax=USMARC,
            )
        )
        await exchange(PresentRequest("default", 1, count, preferred_record_syntax=USMARC))
    finally:
        writer.close()
    return reads, pdus[1:]


@pytest.mark.servers
async def test_live_zebra_responses_agree(
    zebra_libraries: Federation, general_path_forbidden: list[int]
) -> None:
    lib = zebra_libraries.library("lib1")
    reads, (search, present) = await _capture(lib.port, lib.database, lib.record_count)
    assert search[1:2] == b"\x80" and present[1:2] == b"\x80"  # zebrasrv: indefinite lengths
    fast = [decode_apdu(pdu) for pdu in (search, present)]
    assert general_path_forbidden == []
    for pdu, answer in zip((search, present), fast, strict=True):
        assert isinstance(answer, SearchResponse | PresentResponse)
        assert len(answer.name_plus_records) == lib.record_count
        assert answer == decode_apdu(pdu, fast=False)
    # framing that resumes read by read ends where framing from scratch ends
    stream = b"".join(reads)
    progress = ber.FrameProgress()
    buffer = bytearray()
    ends = []
    for chunk in [stream[i : i + 777] for i in range(0, len(stream), 777)]:
        buffer += chunk
        while (length := ber.frame(buffer, progress=progress)) is not None:
            ends.append(length)
            del buffer[:length]
    assert ends == [len(p) for p in split(stream)]


# --------------------------------------------------------------------------- generated


texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8)
oids = st.sampled_from([USMARC, RECORD_SYNTAXES["xml"], "1.2.3", "2.999.1234567"])
entries = st.one_of(
    st.builds(
        NamePlusRecord,
        record=st.builds(External, st.binary(max_size=300), oids, st.just("octet-aligned")),
        database_name=st.none() | texts,
    ),
    st.builds(
        NamePlusRecord,
        record=st.builds(External, texts.map(ber.string), oids, st.just("single-ASN1-type")),
    ),
    st.builds(NamePlusRecord, diagnostic=st.builds(DefaultDiagFormat, st.integers(0, 300), texts)),
)
responses = st.one_of(
    st.builds(
        PresentResponse,
        st.integers(0, 100),
        st.integers(0, 100),
        st.integers(0, 5),
        st.builds(ResponseRecords, st.lists(entries, max_size=5).map(tuple)),
    ),
    st.builds(
        SearchResponse,
        st.integers(0, 10**6),
        st.booleans(),
        st.integers(0, 100),
        st.integers(0, 100),
        records=st.builds(ResponseRecords, st.lists(entries, max_size=5).map(tuple)),
    ),
)


def reencode(data: bytes, indefinite: st.DataObject) -> bytes:
    """The same value with each constructed TLV in the form ``indefinite`` draws."""

    def walk(element: ber.Element) -> bytes:
        if not element.tag.constructed:
            return element.raw
        inner = b"".join(walk(child) for child in element.children)
        if indefinite.draw(st.booleans()):
            return ber.tlv(element.tag, b"")[:-1] + b"\x80" + inner + b"\x00\x00"
        return ber.tlv(element.tag, inner)

    return walk(ber.decode(data))


@given(responses, st.data())
@settings(max_examples=300)
def test_generated_responses_agree_in_every_length_form(
    response: APDU, data: st.DataObject
) -> None:
    encoded = reencode(encode_apdu(response), data)
    assert decode_apdu(encoded) == response
    assert decode_apdu(encoded, fast=False) == response


@given(responses, st.data())
@settings(max_examples=500)
def test_damaged_responses_agree_or_both_fail(response: APDU, data: st.DataObject) -> None:
    encoded = bytearray(reencode(encode_apdu(response), data))
    for _ in range(data.draw(st.integers(1, 3))):
        if not encoded:
            break
        at = data.draw(st.integers(0, len(encoded) - 1))
        action = data.draw(st.sampled_from(["flip", "drop", "insert", "cut"]))
        if action == "flip":
            encoded[at] = data.draw(st.integers(0, 255))
        elif action == "drop":
            del encoded[at]
        elif action == "insert":
            encoded.insert(at, data.draw(st.sampled_from([0x00, 0x80, 0x30, 0x81, 0xA1, 0x28])))
        else:
            del encoded[at:]
    fast, general = both(bytes(encoded))
    assert fast == general


@given(st.sampled_from([p for p in GOLDEN if p[:1] in (b"\xb7", b"\xb9")]), st.data())
@settings(max_examples=300)
def test_damaged_golden_responses_agree_or_both_fail(pdu: bytes, data: st.DataObject) -> None:
    damaged = bytearray(pdu)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
    fast, general = both(bytes(damaged))
    assert fast == general


def test_the_fast_path_needs_the_depth_it_reads() -> None:
    record = NamePlusRecord(External(b"00042nam", USMARC))
    pdu = encode_apdu(PresentResponse(1, 2, 0, ResponseRecords((record,))))
    assert decode_apdu(pdu, max_depth=6).name_plus_records == (record,)
    for fast in (True, False):
        with pytest.raises(ber.BERError, match="nesting deeper than 5"):
            decode_apdu(pdu, max_depth=5, fast=fast)


def test_an_entry_of_another_shape_falls_back_in_place(general_path_forbidden: list[int]) -> None:
    usual = NamePlusRecord(External(b"rec", USMARC), database_name="lib")
    odd = NamePlusRecord(diagnostic=DefaultDiagFormat(14, "gone"))
    response = PresentResponse(3, 4, 0, ResponseRecords((usual, odd, usual)))
    assert decode_apdu(encode_apdu(response)) == response
    assert len(general_path_forbidden) == 1


def test_an_oid_the_cache_has_not_seen_is_still_checked() -> None:
    bad = ber.constructed(
        Tag.context(25, True),
        ber.integer(1, Tag.context(24)),
        ber.integer(2, Tag.context(25)),
        ber.integer(0, Tag.context(27)),
        ber.constructed(
            Tag.context(28, True),
            ber.constructed(
                ber.SEQUENCE,
                ber.constructed(
                    Tag.context(1, True),
                    ber.constructed(
                        Tag.context(1, True),
                        ber.constructed(
                            ber.EXTERNAL,
                            ber.tlv(ber.OBJECT_IDENTIFIER, b"\x2a\x86"),  # ends mid-arc
                            ber.octets(b"rec", Tag.context(1)),
                        ),
                    ),
                ),
            ),
        ),
    )
    for fast in (True, False):
        with pytest.raises(ber.BERError, match="ends inside a subidentifier"):
            decode_apdu(bad, fast=fast)


def test_module_keeps_the_depth_constant_honest() -> None:
    # APDU 0, [28] 1, NamePlusRecord 2, [1] 3, [1] 4, EXTERNAL 5, its OID and octets 6
    record = NamePlusRecord(External(b"x", USMARC))
    pdu = encode_apdu(PresentResponse(1, 2, 0, ResponseRecords((record,))))
    deepest = 0

    def depth(element: ber.Element, level: int) -> None:
        nonlocal deepest
        deepest = max(deepest, level)
        for child in element.children:
            depth(child, level + 1)

    depth(ber.decode(pdu), 0)
    assert deepest == apdu_module._ENTRY_DEPTH


def waiting_for_present() -> ClientConnection:
    """A client that sent Init, got ztest's InitResponse, and sent a Present."""
    connection = ClientConnection()
    connection.send(InitRequest())
    connection.receive_data(GOLDEN[0])
    connection.next_event()
    connection.send(PresentRequest("1", 1, 1))
    assert connection.state == ClientState.PRESENT_SENT
    return connection


def test_a_buffer_ending_in_end_of_contents_is_not_taken_for_a_whole_pdu() -> None:
    present = next(p for p in GOLDEN if p[:1] == b"\xb9" and p[1] == 0x80)
    expected = decode_apdu(present)
    cuts = [i for i in range(2, len(present)) if present[i - 2 : i] == b"\x00\x00"]
    assert cuts, "the capture has inner end-of-contents octets to cut after"
    for cut in cuts:
        connection = waiting_for_present()
        connection.receive_data(present[:cut])
        assert connection.next_event() is NEED_DATA, cut
        connection.receive_data(present[cut:])
        assert connection.next_event() == expected


def test_two_pdus_in_one_read() -> None:
    present = next(p for p in GOLDEN if p[:1] == b"\xb9" and p[1] == 0x80)
    close = next(p for p in GOLDEN if p[:2] == b"\xbf\x30")
    connection = waiting_for_present()
    connection.receive_data(present + close)
    assert connection.next_event() == decode_apdu(present)
    assert connection.next_event() == decode_apdu(close)
    assert connection.buffered == 0
