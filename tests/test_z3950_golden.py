"""A captured yaz-client <-> yaz-ztest exchange decodes to what yaz-client printed.

The bytes and yaz-client's own output are in tests/data/z3950 (see its README). Expected
values are read from that output, not typed in here, so the test checks our decoding
against YAZ's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pymarc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import Diagnostic
from protocols import ber
from protocols.z3950.apdu import (
    APDU,
    Close,
    InitRequest,
    InitResponse,
    PresentRequest,
    PresentResponse,
    SearchRequest,
    SearchResponse,
    decode_apdu,
    encode_apdu,
    record_data,
)
from protocols.z3950.connection import NEED_DATA, ClientConnection, ClientState
from protocols.z3950.oids import RECORD_SYNTAXES
from protocols.z3950.rpn import parse_pqf

DATA = Path(__file__).parent / "data" / "z3950"
CLIENT = (DATA / "ztest-client.bin").read_bytes()
SERVER = (DATA / "ztest-server.bin").read_bytes()
PRINTED = (DATA / "yaz-client.txt").read_text("utf-8")


def split(stream: bytes) -> list[bytes]:
    """Cut a recorded byte stream into PDUs with the framing function."""
    pdus = []
    while stream:
        length = ber.frame(stream)
        assert length is not None, "the capture ends inside a PDU"
        pdus.append(stream[:length])
        stream = stream[length:]
    return pdus


CLIENT_PDUS = split(CLIENT)
SERVER_PDUS = split(SERVER)
REQUESTS = [decode_apdu(p) for p in CLIENT_PDUS]
RESPONSES = [decode_apdu(p) for p in SERVER_PDUS]


def printed(label: str) -> str:
    """A value yaz-client printed as ``label: value``."""
    found = re.search(rf"^(?:Z> )*{re.escape(label)}\s*:\s*(.*)$", PRINTED, re.M)
    assert found, label
    return found.group(1).strip()


def yaz_line(field: pymarc.Field) -> str:
    """A data field the way yaz-client prints it: ``245 10 $a How to ...``."""
    subfields = " ".join(f"${s.code} {s.value}" for s in field.subfields)
    return f"{field.tag} {field.indicator1}{field.indicator2} {subfields}"


def test_the_exchange_has_the_expected_shape() -> None:
    assert [type(a) for a in REQUESTS] == [
        InitRequest,
        SearchRequest,
        PresentRequest,
        PresentRequest,
        PresentRequest,
        PresentRequest,
        SearchRequest,
        Close,
    ]
    assert [type(a) for a in RESPONSES] == [
        InitResponse,
        SearchResponse,
        PresentResponse,
        PresentResponse,
        PresentResponse,
        PresentResponse,
        SearchResponse,
        Close,
    ]


def test_init() -> None:
    request, response = REQUESTS[0], RESPONSES[0]
    assert isinstance(request, InitRequest) and isinstance(response, InitResponse)
    assert request.implementation_name == "YAZ"
    assert request.protocol_versions == frozenset({1, 2, 3})
    assert response.result is True
    assert f"Connection accepted by v{response.version} target." in PRINTED
    assert response.implementation_id == printed("ID")
    assert response.implementation_name == printed("Name")
    assert response.implementation_version == printed("Version")
    assert response.options == frozenset(printed("Options").split())


def test_search() -> None:
    request, response = REQUESTS[1], RESPONSES[1]
    assert isinstance(request, SearchRequest) and isinstance(response, SearchResponse)
    assert request.query == parse_pqf("@attr 1=4 computer")
    assert request.database_names == ("Default",)
    hits = int(re.search(r"Number of hits: (\d+), setno 1", PRINTED).group(1))  # type: ignore[union-attr]
    assert response.search_status is True
    assert response.result_count == hits
    assert response.number_of_records_returned == 0


def test_usmarc_records_match_what_yaz_printed() -> None:
    first, second = RESPONSES[2], RESPONSES[3]
    assert isinstance(first, PresentResponse) and isinstance(second, PresentResponse)
    assert (first.number_of_records_returned, first.next_result_set_position) == (1, 2)
    assert (second.number_of_records_returned, second.next_result_set_position) == (2, 4)
    entries = first.name_plus_records + second.name_plus_records
    assert [e.database_name for e in entries] == ["Default"] * 3
    assert [e.syntax for e in entries] == ["usmarc"] * 3
    for entry in entries:
        assert entry.record is not None and entry.record.encoding == "octet-aligned"
        marc = pymarc.Record(data=record_data(entry.record))
        assert f"001 {marc['001'].data}" in PRINTED
        for field in marc.get_fields("100", "245", "260", "650"):
            assert yaz_line(field) in PRINTED
    records = [pymarc.Record(data=record_data(e.record)) for e in entries if e.record]
    assert records[0]["245"]["a"] == "How to program a computer"
    assert records[0]["100"]["a"] == "Jack Collins"
    assert records[2]["245"]["a"].startswith("Computer processing of dynamic images")


def test_sutrs_record() -> None:
    response = RESPONSES[4]
    assert isinstance(response, PresentResponse)
    (entry,) = response.name_plus_records
    assert entry.syntax == "sutrs" and entry.record is not None
    assert entry.record.encoding == "single-ASN1-type"
    text = record_data(entry.record).decode()
    assert text.endswith("\n") and text.strip() in PRINTED


def test_opac_record_wraps_the_same_usmarc_record() -> None:
    response, usmarc = RESPONSES[5], RESPONSES[2]
    assert isinstance(response, PresentResponse) and isinstance(usmarc, PresentResponse)
    (entry,) = response.name_plus_records
    assert entry.syntax == "opac" and entry.record is not None
    # OPACRecord ::= SEQUENCE { bibliographicRecord [1] IMPLICIT EXTERNAL OPTIONAL,
    #     holdingsData [2] IMPLICIT SEQUENCE OF HoldingsRecord OPTIONAL }
    opac = ber.decode(record_data(entry.record))
    bibliographic = opac.children[0].external()
    assert bibliographic.direct_reference == RECORD_SYNTAXES["usmarc"]
    assert usmarc.name_plus_records[0].record is not None
    assert bibliographic.data == usmarc.name_plus_records[0].record.data
    call_number = printed("callNumber")
    assert call_number.encode() in opac.children[1].raw


def test_unknown_database_diagnostic() -> None:
    request, response = REQUESTS[6], RESPONSES[6]
    assert isinstance(request, SearchRequest) and isinstance(response, SearchResponse)
    assert request.database_names == ("Nope",)
    assert response.search_status is False
    found = re.search(r"\[(\d+)\] (.+) -- v2 addinfo '(.*)'", PRINTED)
    assert found
    code, meaning, addinfo = int(found.group(1)), found.group(2), found.group(3)
    assert response.diagnostics == (Diagnostic.of("bib-1", code, addinfo),)
    assert response.diagnostics[0].message == meaning


def test_close() -> None:
    response = RESPONSES[7]
    assert isinstance(response, Close)
    assert f"Reason: finished, message: {response.diagnostic_information}" in PRINTED


@pytest.mark.parametrize("index", range(len(CLIENT_PDUS) + len(SERVER_PDUS)))
def test_re_encoding(index: int) -> None:
    raw = (CLIENT_PDUS + SERVER_PDUS)[index]
    apdu = (REQUESTS + RESPONSES)[index]
    encoded = encode_apdu(apdu)
    assert decode_apdu(encoded) == apdu
    if raw[1] != 0x80:  # YAZ wrote this one with definite lengths, as we do: same bytes
        assert encoded == raw


def test_yaz_used_both_length_forms() -> None:
    assert any(p[1] == 0x80 for p in SERVER_PDUS)
    assert any(p[1] != 0x80 for p in SERVER_PDUS)


@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=40))
@settings(max_examples=60)
def test_client_connection_replays_the_capture(chunks: list[int]) -> None:
    """Our ClientConnection, sending yaz-client's requests, reads yaz-ztest's answers."""
    connection = ClientConnection()
    stream = SERVER
    sizes = iter(chunks * (len(SERVER) // sum(chunks) + 1))
    received: list[APDU] = []
    for request, raw in zip(REQUESTS, CLIENT_PDUS, strict=True):
        assert connection.send(request) == raw
        while True:
            event = connection.next_event()
            if event is not NEED_DATA:
                break
            size = next(sizes)
            connection.receive_data(stream[:size])
            stream = stream[size:]
        received.append(event)  # type: ignore[arg-type]
    assert received == RESPONSES
    assert connection.state == ClientState.CLOSED
    assert stream == b"" and connection.buffered == 0
