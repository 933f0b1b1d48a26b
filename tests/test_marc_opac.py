"""Z39.50 OPAC records -> canonical record with holdings: real yaz-ztest answers (captured in
tests/data/marc_golden/ztest-opac-*.ber, and fetched live to compare with zoomsh's own
rendering), and generated records cross-checked with the protocol layer's OPAC codec."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from core import HoldingStatus, RawRecord, RecordError
from demo.servers import ServerProcess
from normalizers import normalize, read_marc
from normalizers.opac import read_opac
from protocols.ber import External
from protocols.z3950.opac import (
    CircRecord,
    HoldingsAndCirc,
    OPACRecord,
    decode_opac,
    to_holdings,
)

GOLDEN = Path(__file__).parent / "data" / "marc_golden"
CAPTURED = sorted(GOLDEN.glob("ztest-opac-*.ber"))
USMARC = "1.2.840.10003.5.10"


def test_captured_yaz_ztest_opac_records() -> None:
    assert len(CAPTURED) == 2
    for path in CAPTURED:
        data = path.read_bytes()
        record = normalize(RawRecord("ztest", 1, "opac", data))
        assert record.flavour == "marc21" and record.title
        (holding,) = record.holdings
        assert (holding.library, holding.call_number, holding.barcode) == (
            "s-FM/GC",
            "MLCM 89/00602 (N)",
            "1226176",
        )
        assert holding.status is HoldingStatus.AVAILABLE
        assert read_opac(data).holdings == to_holdings(decode_opac(data))
        assert read_marc(RawRecord("ztest", 1, "opac", data)).get("245")


@pytest.mark.skipif(shutil.which("zoomsh") is None, reason="zoomsh not installed (Debian 'yaz')")
def test_holdings_agree_with_zoomsh_rendering_of_the_same_server(ztest: ServerProcess) -> None:
    shown = subprocess.run(
        [
            "zoomsh",
            "set preferredRecordSyntax opac",
            f"connect tcp:127.0.0.1:{ztest.port}/Default",
            "search computer",
            "show 0 1 opac",
            "quit",
        ],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout
    start = shown.index(b"<opacRecord")
    end = shown.index(b"</opacRecord>") + len(b"</opacRecord>")
    root = etree.fromstring(shown[start:end])
    holding = root.find(".//holding")
    assert holding is not None
    circ = holding.find(".//circulation")
    assert circ is not None
    ours = read_opac(CAPTURED[0].read_bytes()).holdings[0]
    assert ours.library == holding.findtext("nucCode")
    assert ours.location == holding.findtext("localLocation")
    assert ours.call_number == holding.findtext("callNumber")
    assert ours.barcode == circ.findtext("itemId")
    available = circ.find("availableNow")
    assert available is not None and available.get("value") == "1"
    assert ours.status is HoldingStatus.AVAILABLE


def test_a_broken_opac_record_is_a_record_error() -> None:
    data = CAPTURED[0].read_bytes()
    for damaged in (data[:40], b"\x30\x80", b"\x04\x01x", data[:2] + b"\xff" * 8):
        with pytest.raises(RecordError):
            normalize(RawRecord("z", 1, "opac", damaged))


# (we also collapse white space, the protocol layer keeps it: none generated here)
texts = st.text(alphabet="abcXYZ0123-/ёж", max_size=12)
circs = st.builds(
    CircRecord,
    available_now=st.booleans(),
    availability_date=st.none() | st.sampled_from(["20250301", "2024-12-31", "soon"]),
    item_id=st.none() | texts,
    on_hold=st.booleans(),
    temporary_location=st.none() | texts,
)
holdings = st.builds(
    HoldingsAndCirc,
    nuc_code=st.none() | texts,
    local_location=st.none() | texts,
    shelving_location=st.none() | texts,
    call_number=st.none() | texts,
    copy_number=st.none() | texts,
    public_note=st.none() | texts,
    circulation=st.lists(circs, max_size=3).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(items=st.lists(holdings, max_size=3))
def test_opac_holdings_agree_with_the_protocol_layer(items: list[HoldingsAndCirc]) -> None:
    marc = (GOLDEN / "kernighan-ritchie-c.utf8.mrc").read_bytes()
    bib = External(marc, USMARC, "octet-aligned")
    data = OPACRecord(bib, tuple(items)).to_ber()
    assert read_opac(data).holdings == to_holdings(decode_opac(data))
    record = normalize(RawRecord("z", 1, "opac", data))
    assert record.title == "The C programming language"
    assert len(record.holdings) == 3 + len(to_holdings(decode_opac(data)))  # 876s + OPAC's


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_as_opac_raise_only_record_error(data: bytes) -> None:
    with contextlib.suppress(RecordError):
        normalize(RawRecord("z", 1, "opac", data))
