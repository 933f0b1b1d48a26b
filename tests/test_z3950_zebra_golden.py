"""A captured yaz-client <-> zebrasrv exchange: character-set negotiation, a proximity query, a
string attribute value, Scan and Close, decoded and re-encoded.

The bytes and yaz-client's own output are in tests/data/z3950 (``zebra-*``; see its README
and ``record_zebra.py``). Expected values are read from yaz-client's output where it prints
them; our encodings of YAZ's requests must be YAZ's bytes exactly.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from protocols import ber
from protocols.z3950.apdu import (
    APDU,
    Close,
    InitRequest,
    InitResponse,
    ScanRequest,
    ScanResponse,
    ScanStatus,
    SearchRequest,
    SearchResponse,
    TermInfo,
    decode_apdu,
    encode_apdu,
    other_info_externals,
)
from protocols.z3950.charneg import (
    CHARNEG3,
    ISO10646_FORMS,
    Iso10646,
    OriginProposal,
    TargetResponse,
    charset_proposal,
    decode_negotiation,
    find_response,
    negotiation_result,
)
from protocols.z3950.rpn import parse_pqf

DATA = Path(__file__).parent / "data" / "z3950"
PRINTED = (DATA / "zebra-client.txt").read_text("utf-8")


def split(stream: bytes) -> list[bytes]:
    pdus = []
    while stream:
        length = ber.frame(stream)
        assert length is not None, "the capture ends inside a PDU"
        pdus.append(stream[:length])
        stream = stream[length:]
    return pdus


CLIENT = split((DATA / "zebra-client.bin").read_bytes())
SERVER = split((DATA / "zebra-server.bin").read_bytes())
REQUESTS = [decode_apdu(p) for p in CLIENT]
RESPONSES = [decode_apdu(p) for p in SERVER]


def test_the_exchange_is_what_yaz_client_did() -> None:
    assert [type(a) for a in REQUESTS] == [
        InitRequest,
        SearchRequest,
        SearchRequest,
        ScanRequest,
        Close,
    ]
    assert [type(a) for a in RESPONSES] == [
        InitResponse,
        SearchResponse,
        SearchResponse,
        ScanResponse,
        Close,
    ]


@pytest.mark.parametrize("pdu", CLIENT, ids=[type(a).__name__ for a in REQUESTS])
def test_we_encode_yaz_requests_byte_for_byte(pdu: bytes) -> None:
    assert encode_apdu(decode_apdu(pdu)) == pdu


@pytest.mark.parametrize("apdu", RESPONSES, ids=[type(a).__name__ for a in RESPONSES])
def test_zebra_responses_round_trip(apdu: APDU) -> None:
    # zebrasrv writes indefinite lengths, we write definite ones: compare the values
    assert decode_apdu(encode_apdu(apdu)) == apdu


def test_charset_proposal_is_yaz_s() -> None:
    init = REQUESTS[0]
    assert isinstance(init, InitRequest)
    assert "negotiation" in init.options
    (proposal,) = other_info_externals(init.other_info, CHARNEG3)
    assert proposal == charset_proposal(["UTF-8"])
    assert decode_negotiation(proposal.data) == OriginProposal(
        (Iso10646(ISO10646_FORMS["UTF-8"]),), (), True
    )
    assert "Character set negotiation : UTF-8" in PRINTED


def test_zebra_accepts_utf8_for_records_too() -> None:
    init = RESPONSES[0]
    assert isinstance(init, InitResponse)
    response = find_response(init.other_info)
    assert response == TargetResponse(Iso10646(ISO10646_FORMS["UTF-8"]), None, True)
    result = negotiation_result(response)
    accepted = re.search(r"Accepted character set : (\S+)", PRINTED)
    records = re.search(r"Accepted records in \.\.\.: (\d)", PRINTED)
    assert accepted and records
    assert result.charset == accepted.group(1)
    assert result.records_in_charset == (records.group(1) == "1")
    options = re.search(r"Options: (.*)", PRINTED)
    assert options
    # yaz-client's name for bit 17 is negotiationModel
    printed = {"negotiation" if o == "negotiationModel" else o for o in options.group(1).split()}
    assert init.options == printed


def test_proximity_and_string_attribute_queries() -> None:
    prox, allrecords = REQUESTS[1], REQUESTS[2]
    assert isinstance(prox, SearchRequest) and isinstance(allrecords, SearchRequest)
    assert prox.query == parse_pqf("@prox 0 2 1 2 k 2 @attr 1=4 program @attr 1=4 computer")
    # YAZ's PQF parser puts numeric attributes before string ones
    assert allrecords.query == parse_pqf('@attr 2=103 @attr 1=_ALLRECORDS ""')
    hits = [int(n) for n in re.findall(r"Number of hits: (\d+)", PRINTED)]
    counts = [r.result_count for r in RESPONSES[1:3] if isinstance(r, SearchResponse)]
    assert counts == hits
    assert hits[0] > 0  # "How to program a computer": within two words, in order


def test_scan_request_and_entries() -> None:
    request, response = REQUESTS[3], RESPONSES[3]
    assert isinstance(request, ScanRequest) and isinstance(response, ScanResponse)
    assert request.term == parse_pqf("@attr 1=4 comp").root
    assert (request.number_of_terms_requested, request.preferred_position_in_response) == (20, 1)
    assert request.database_names == ("lib1",)
    assert response.scan_status == ScanStatus.SUCCESS
    listed = re.findall(r"^[* ] (.+) \((\d+)\)$", PRINTED, re.MULTILINE)
    assert [(t.term, t.global_occurrences) for t in response.terms] == [
        (term, int(count)) for term, count in listed
    ]
    assert all(isinstance(e, TermInfo) and e.display_term == e.term for e in response.entries)
    assert response.number_of_entries_returned == len(listed)


def test_close_both_ways() -> None:
    ours, theirs = REQUESTS[4], RESPONSES[4]
    assert isinstance(ours, Close) and isinstance(theirs, Close)
    assert ours.close_reason == theirs.close_reason == 0
    assert theirs.diagnostic_information and theirs.diagnostic_information in PRINTED
