"""OPAC records and character-set negotiation structures: Hypothesis round trips, the OPAC
record yaz-ztest sent yaz-client (tests/data/z3950), and the mapping to ``core.Holding``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import HoldingStatus, RemoteProtocolError
from protocols import ber
from protocols.ber import External
from protocols.z3950.apdu import APDUError, PresentResponse, decode_apdu, record_data
from protocols.z3950.charneg import (
    ID_CHARSET,
    ISO10646_FORMS,
    Iso2022,
    Iso10646,
    NegotiationResult,
    NoCharset,
    OriginProposal,
    PrivateCharset,
    TargetResponse,
    charset_proposal,
    decode_negotiation,
    encode_negotiation,
    find_response,
    negotiation_result,
)
from protocols.z3950.oids import RECORD_SYNTAXES
from protocols.z3950.opac import (
    CircRecord,
    HoldingsAndCirc,
    OPACRecord,
    Volume,
    decode_opac,
    to_holdings,
)

texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=10)
opt_texts = st.none() | texts
oids = st.tuples(
    st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 10**6), max_size=5)
).map(lambda t: ".".join(map(str, [t[0], t[1], *t[2]])))
octet_externals = st.builds(External, st.binary(max_size=20), st.none() | oids)

# --------------------------------------------------------------------------- charset negotiation

charsets = st.one_of(
    st.builds(Iso10646, oids, st.none() | oids),
    st.builds(PrivateCharset, oids=st.lists(oids, min_size=1, max_size=3).map(tuple)),
    st.builds(PrivateCharset, external=octet_externals),
    st.just(PrivateCharset(previously_agreed=True)),
    # any BER value stands in for the Iso2022 structures we keep raw
    st.builds(Iso2022, st.one_of(texts.map(ber.string), st.integers().map(ber.integer))),
)
negotiations = st.one_of(
    st.builds(
        OriginProposal,
        st.lists(charsets, max_size=3).map(tuple),
        st.lists(texts, max_size=2).map(tuple),
        st.none() | st.booleans(),
    ),
    st.builds(
        TargetResponse,
        st.none() | charsets | st.just(NoCharset()),
        opt_texts,
        st.none() | st.booleans(),
    ),
)


@given(negotiations)
def test_negotiation_round_trips(value: OriginProposal | TargetResponse) -> None:
    assert decode_negotiation(encode_negotiation(value)) == value


def test_names_travel_as_iso10646_or_yaz_id_charset() -> None:
    proposal = decode_negotiation(charset_proposal(["utf-8", "WINDOWS-1251"]).data)
    assert isinstance(proposal, OriginProposal)
    unicode, cyrillic = proposal.charsets
    assert unicode == Iso10646(ISO10646_FORMS["UTF-8"])
    assert isinstance(cyrillic, PrivateCharset)
    assert cyrillic.external is not None and cyrillic.external.direct_reference == ID_CHARSET
    assert cyrillic.name == "WINDOWS-1251"
    assert proposal.records is True


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            TargetResponse(Iso10646(ISO10646_FORMS["UTF-16"]), "rus", True),
            NegotiationResult("UTF-16", "rus", True),
        ),
        (
            TargetResponse(PrivateCharset.named("KOI8-R"), None, False),
            NegotiationResult("KOI8-R", None, False),
        ),
        (TargetResponse(NoCharset(), None, True), NegotiationResult(None, None, False)),
        (
            TargetResponse(PrivateCharset(oids=("1.2.3",)), None, True),
            NegotiationResult(None, None, False),
        ),
    ],
)
def test_negotiation_results(response: TargetResponse, expected: NegotiationResult) -> None:
    assert negotiation_result(response) == expected


def test_a_garbled_negotiation_response_is_a_remote_error() -> None:
    from protocols.z3950.apdu import OtherInfoUnit

    bad = External(ber.integer(5), "1.2.840.10003.15.3", "single-ASN1-type")
    with pytest.raises(APDUError, match="CharSetandLanguageNegotiation"):
        find_response((OtherInfoUnit(external=bad),))
    assert find_response(()) is None


# --------------------------------------------------------------------------- OPAC

volumes = st.builds(Volume, opt_texts, opt_texts, opt_texts)
circs = st.builds(
    CircRecord,
    st.booleans(),
    opt_texts,
    opt_texts,
    opt_texts,
    opt_texts,
    st.booleans(),
    st.booleans(),
    opt_texts,
    opt_texts,
    opt_texts,
)
holdings_and_circ = st.builds(
    HoldingsAndCirc,
    *([opt_texts] * 17),
    volumes=st.lists(volumes, max_size=2).map(tuple),
    circulation=st.lists(circs, max_size=3).map(tuple),
)
opac_records = st.builds(
    OPACRecord,
    st.none() | octet_externals,
    st.lists(holdings_and_circ | octet_externals, max_size=3).map(tuple),
)


@given(opac_records)
def test_opac_round_trips(record: OPACRecord) -> None:
    assert decode_opac(record.to_ber()) == record


DATA = Path(__file__).parent / "data" / "z3950"


def captured_opac() -> tuple[OPACRecord, bytes]:
    """The OPAC record and the USMARC record 1 of the ztest capture (PDUs 4 and 7)."""
    stream, responses = (DATA / "ztest-server.bin").read_bytes(), []
    while stream:
        length = ber.frame(stream)
        assert length is not None
        responses.append(decode_apdu(stream[:length]))
        stream = stream[length:]
    presents = [r for r in responses if isinstance(r, PresentResponse)]
    usmarc = presents[0].name_plus_records[0].record
    (opac_entry,) = [e for p in presents for e in p.name_plus_records if e.syntax == "opac"]
    assert usmarc is not None and opac_entry.record is not None
    return decode_opac(record_data(opac_entry.record)), usmarc.data


def test_ztest_opac_record_decodes_to_what_yaz_client_printed() -> None:
    printed = (DATA / "yaz-client.txt").read_text("utf-8")
    block = printed[printed.index("Data holdings 0") :]

    def value(label: str) -> str:
        found = re.search(rf"^ ?{label}: (.*)$", block, re.MULTILINE)
        assert found, label
        return found.group(1)

    record, usmarc = captured_opac()
    assert record.bibliographic_record is not None
    assert record.bibliographic_record.direct_reference == RECORD_SYNTAXES["usmarc"]
    assert record.bibliographic_record.data == usmarc
    (holding,) = record.holdings
    assert isinstance(holding, HoldingsAndCirc)
    assert holding.call_number == value("callNumber")
    assert holding.nuc_code == value("nucCode")
    assert holding.local_location == value("localLocation")
    assert holding.shelving_data == value("shelvingData")
    assert holding.copy_number == value("copyNumber")
    (circ,) = holding.circulation
    assert circ.available_now == (value("availableNow") == "1")
    assert circ.item_id == value("itemId")
    assert circ.renewable == (value("renewable") == "1")


def test_holdings_from_the_ztest_opac_record() -> None:
    record, _ = captured_opac()
    (holding,) = to_holdings(record)
    (source,) = record.holdings
    assert isinstance(source, HoldingsAndCirc)
    assert holding.library == source.nuc_code
    assert holding.location == source.local_location
    assert holding.call_number == source.call_number
    assert holding.barcode == source.circulation[0].item_id
    assert holding.status == HoldingStatus.AVAILABLE
    assert source.copy_number and source.copy_number in holding.note


def test_holdings_status_and_due_dates() -> None:
    record = OPACRecord(
        holdings=(
            HoldingsAndCirc(
                nuc_code="KEMRSL",
                call_number="84(2Рос=Рус)1",
                circulation=(
                    CircRecord(available_now=False, availability_date="2025-03-01", item_id="1"),
                    CircRecord(available_now=False, item_id="2"),
                    CircRecord(available_now=True, temporary_location="Reading room", item_id="3"),
                ),
            ),
            HoldingsAndCirc(nuc_code="KEMRSL", local_location="Store"),
            External(b"00000nx  a2200000   4500", RECORD_SYNTAXES["usmarc"]),
        )
    )
    loaned, unavailable, available, no_items = to_holdings(decode_opac(record.to_ber()))
    assert (loaned.status, loaned.due, loaned.barcode) == (
        HoldingStatus.ON_LOAN,
        "2025-03-01",
        "1",
    )
    assert unavailable.status == HoldingStatus.UNAVAILABLE
    assert (available.status, available.location) == (HoldingStatus.AVAILABLE, "Reading room")
    assert (no_items.status, no_items.location) == (HoldingStatus.UNKNOWN, "Store")
    assert {h.library for h in (loaned, unavailable, available, no_items)} == {"KEMRSL"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (ber.integer(1), "must be a SEQUENCE"),
        (
            ber.constructed(
                ber.SEQUENCE,
                ber.constructed(ber.Tag.context(2, True), ber.null(ber.Tag.context(7))),
            ),
            "HoldingsRecord",
        ),
        (
            OPACRecord(holdings=(HoldingsAndCirc(circulation=(CircRecord(True),)),))
            .to_ber()
            .replace(b"\x81\x01\x01", b"\x84\x01\x01"),  # availableNow [1] -> [4]
            "availableNow",
        ),
    ],
)
def test_bad_opac_records(data: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        decode_opac(data)
