"""protocols.sru against answers captured from a real zebrasrv (tests/data/sru/README.md)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from core import Diagnostic, LocalProtocolError, RawRecord, RecordError, RemoteProtocolError
from normalizers import normalize
from protocols.sru import (
    MAX_BODY_BYTES,
    SRURecord,
    explain_params,
    parse_diagnostic_uri,
    parse_diagnostics,
    parse_explain,
    parse_scan,
    parse_searchretrieve,
    scan_params,
    searchretrieve_params,
)

DATA = Path(__file__).parent / "data" / "sru"
MARC_NS = "http://www.loc.gov/MARC21/slim"
MARCXML_SCHEMA = "info:srw/schema/1/marcxml-v1.1"
COMPUTER = [
    "searchretrieve-1.1-xml.xml",
    "searchretrieve-1.2-xml.xml",
    "searchretrieve-1.2-string.xml",
    "searchretrieve-2.0-xml.xml",
    "searchretrieve-2.0-string.xml",
]


def body(name: str) -> bytes:
    return (DATA / name).read_bytes()


def title(record: SRURecord) -> str:
    return normalize(RawRecord("lib2", record.position, "marcxml", record.data)).title


# -- requests ---------------------------------------------------------------------------------


def test_params_sru_1_2() -> None:
    assert searchretrieve_params(
        "dc.title=war", version="1.2", start=3, maximum=10, packing="string"
    ) == {
        "version": "1.2",
        "operation": "searchRetrieve",
        "query": "dc.title=war",
        "startRecord": "3",
        "maximumRecords": "10",
        "recordSchema": "marcxml",
        "recordPacking": "string",
    }


def test_params_sru_2_0_move_the_escaping_to_record_xml_escaping() -> None:
    params = searchretrieve_params("dc.title=war", version="2.0", start=1, maximum=5, schema="dc")
    assert params == {
        "version": "2.0",
        "queryType": "cql",
        "query": "dc.title=war",
        "startRecord": "1",
        "maximumRecords": "5",
        "recordSchema": "dc",
        "recordXMLEscaping": "xml",
    }
    # 2.0's recordPacking means packed/unpacked, and 2.0 has no operation parameter
    assert "recordPacking" not in params and "operation" not in params


def test_params_without_schema_leave_it_to_the_server() -> None:
    params = searchretrieve_params("x", version="1.1", start=1, maximum=0, schema="")
    assert "recordSchema" not in params and params["maximumRecords"] == "0"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"version": "3.0", "start": 1, "maximum": 1},
        {"version": "1.2", "start": 0, "maximum": 1},
        {"version": "1.2", "start": 1, "maximum": -1},
        {"version": "1.2", "start": 1, "maximum": 1, "packing": "json"},
    ],
)
def test_params_refuse_what_sru_cannot_say(kwargs: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        searchretrieve_params("x", **kwargs)  # type: ignore[arg-type]


def test_explain_params() -> None:
    assert explain_params("1.2") == {"operation": "explain", "version": "1.2"}
    assert explain_params("2.0") == {"version": "2.0"}


# -- searchRetrieve responses -----------------------------------------------------------------


@pytest.mark.parametrize("name", COMPUTER)
def test_records_of_every_version_and_packing(name: str) -> None:
    response = parse_searchretrieve(body(name))
    assert response.number_of_records == 5
    assert response.diagnostics == ()
    assert response.next_record_position is None  # zebrasrv never sends it
    assert response.version == name.split("-")[1]
    assert [(r.position, r.schema) for r in response.records] == [
        (1, MARCXML_SCHEMA),
        (2, MARCXML_SCHEMA),
    ]
    for record in response.records:
        root = etree.fromstring(record.data)
        assert root.tag == f"{{{MARC_NS}}}record"
        assert b"zing/srw" not in record.data and b"search-ws" not in record.data
    assert [title(r) for r in response.records] == [
        "How to program a computer",
        "The Computer Bible",
    ]


def test_xml_and_string_packing_give_the_same_record_bytes() -> None:
    parsed = [parse_searchretrieve(body(name)).records for name in COMPUTER]
    assert all(records == parsed[0] for records in parsed)


def test_escaped_record_keeps_its_utf8() -> None:
    raw = body("searchretrieve-2.0-string-cyrillic.xml")
    assert b"&lt;record" in raw
    response = parse_searchretrieve(raw)
    assert response.number_of_records == 1
    (record,) = response.records
    assert title(record) == "Война и мир : роман в четырех томах"


def test_zero_hits() -> None:
    response = parse_searchretrieve(body("searchretrieve-1.2-zero.xml"))
    assert (response.number_of_records, response.records, response.diagnostics) == (0, (), ())


@pytest.mark.parametrize(
    ("name", "hits", "diagnostic"),
    [
        ("diagnostic-1.2-16.xml", None, Diagnostic("sru", 16, "Unsupported index", "")),
        ("diagnostic-2.0-10.xml", None, Diagnostic("sru", 10, "Query syntax error", "")),
        (
            "diagnostic-1.2-66.xml",
            5,
            Diagnostic("sru", 66, "Unknown schema for retrieval", "nosuch"),
        ),
        (
            "diagnostic-1.2-61.xml",
            5,
            Diagnostic("sru", 61, "First record position out of range", ""),
        ),
    ],
)
def test_diagnostics(name: str, hits: int | None, diagnostic: Diagnostic) -> None:
    response = parse_searchretrieve(body(name))
    assert response.number_of_records == hits
    assert response.records == ()
    assert response.diagnostics == (diagnostic,)


def test_surrogate_diagnostic_replaces_one_record() -> None:
    # the captured 1.2 page, with record 2 swapped for a surrogate diagnostic as SRU 1.2
    # section "Surrogate diagnostics" shows it
    raw = body("searchretrieve-1.2-xml.xml").decode("utf-8")
    second = raw.index("<zs:record>", raw.index("<zs:record>") + 1)
    end = raw.index("</zs:record>", second)
    surrogate = (
        "<zs:record><zs:recordSchema>info:srw/schema/1/diagnostics-v1.1</zs:recordSchema>"
        "<zs:recordPacking>xml</zs:recordPacking><zs:recordData>"
        '<diagnostic xmlns="http://www.loc.gov/zing/srw/diagnostic/">'
        "<uri>info:srw/diagnostic/1/64</uri><details>record 2</details></diagnostic>"
        "</zs:recordData><zs:recordPosition>2</zs:recordPosition>"
    )
    response = parse_searchretrieve((raw[:second] + surrogate + raw[end:]).encode("utf-8"))
    assert [r.position for r in response.records] == [1]
    assert response.diagnostics == (
        Diagnostic("sru", 64, "Record temporarily unavailable", "record 2"),
    )


def test_missing_record_positions_count_from_start() -> None:
    raw = body("page-1.2-start3.xml")
    stripped = raw.replace(b"<zs:recordPosition>3</zs:recordPosition>", b"").replace(
        b"<zs:recordPosition>4</zs:recordPosition>", b""
    )
    assert b"recordPosition" not in stripped
    assert [r.position for r in parse_searchretrieve(stripped, start=3).records] == [3, 4]
    assert parse_searchretrieve(stripped, start=3).records == parse_searchretrieve(raw).records


def test_namespaces_are_matched_leniently() -> None:
    raw = body("searchretrieve-1.2-xml.xml")
    bare = raw.replace(b' xmlns:zs="http://www.loc.gov/zing/srw/"', b"").replace(b"zs:", b"")
    assert b"zing" not in bare
    assert parse_searchretrieve(bare) == parse_searchretrieve(raw)


def test_next_record_position_is_read() -> None:
    raw = body("page-1.2-start1.xml")
    with_next = raw.replace(
        b"</zs:records>", b"</zs:records><zs:nextRecordPosition>3</zs:nextRecordPosition>"
    )
    assert parse_searchretrieve(with_next).next_record_position == 3


# -- hostile and broken bodies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not XML"),
        (b"Service Temporarily Unavailable", "not XML: 'Service Temporarily Unavailable'"),
        ((DATA / "http-404.html").read_bytes(), "<HTML> document"),
        ((DATA / "explain-1.2.xml").read_bytes(), "got <explainResponse>"),
        (
            b"<searchRetrieveResponse><numberOfRecords>many</numberOfRecords>"
            b"</searchRetrieveResponse>",
            "not a number",
        ),
    ],
)
def test_bodies_that_are_not_search_responses(raw: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        parse_searchretrieve(raw)


def test_billion_laughs_is_not_expanded() -> None:
    entities = b'<!ENTITY l0 "lol">' + b"".join(
        b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, 10)
    )
    raw = (
        b'<?xml version="1.0"?><!DOCTYPE r [' + entities + b"]>"
        b'<searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/">'
        b"<numberOfRecords>1</numberOfRecords><diagnostics><diagnostic>"
        b"<uri>info:srw/diagnostic/1/1</uri><details>&l9;</details></diagnostic></diagnostics>"
        b"</searchRetrieveResponse>"
    )
    with pytest.raises(RemoteProtocolError) as info:
        parse_searchretrieve(raw)
    assert "lollol" not in str(info.value)


def test_external_entity_is_not_read() -> None:
    raw = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/">'
        b"<numberOfRecords>&x;</numberOfRecords></searchRetrieveResponse>"
    )
    with pytest.raises(RemoteProtocolError, match="DOCTYPE") as info:
        parse_searchretrieve(raw)
    assert "root:" not in str(info.value)


def test_entity_inside_an_escaped_record_stays_unexpanded() -> None:
    # string packing: the record is text, parsed on its own; its DTD must not be obeyed either
    inner = (
        '<!DOCTYPE record [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<record xmlns="{MARC_NS}"><leader>00000nam a2200000 a 4500</leader>'
        '<datafield tag="245" ind1="0" ind2="0"><subfield code="a">&x;</subfield></datafield>'
        "</record>"
    )
    escaped = inner.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    raw = (
        '<searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/">'
        "<numberOfRecords>1</numberOfRecords><records><record>"
        f"<recordSchema>{MARCXML_SCHEMA}</recordSchema><recordPacking>string</recordPacking>"
        f"<recordData>{escaped}</recordData><recordPosition>1</recordPosition>"
        "</record></records></searchRetrieveResponse>"
    ).encode()
    (record,) = parse_searchretrieve(raw).records
    assert b"root:" not in record.data and b"&x;" in record.data
    with pytest.raises(RecordError, match="DOCTYPE"):
        normalize(RawRecord("t", 1, "marcxml", record.data))


def test_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(RemoteProtocolError, match="size limit"):
        parse_searchretrieve(b" " * (MAX_BODY_BYTES + 1))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=500) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_raise_only_remote_protocol_error(raw: bytes) -> None:
    for parse in (parse_searchretrieve, parse_explain):
        with contextlib.suppress(RemoteProtocolError):
            parse(raw)


# -- diagnostics and explain ------------------------------------------------------------------


def test_parse_diagnostic_uri() -> None:
    assert parse_diagnostic_uri("info:srw/diagnostic/1/16", "", "dc.nosuch") == Diagnostic(
        "sru", 16, "Unsupported index", "dc.nosuch"
    )
    other = parse_diagnostic_uri("info:example/diag/7", "Local trouble")
    assert (other.diagset, other.code, other.message) == ("info:example/diag", 7, "Local trouble")


@pytest.mark.parametrize("name", ["explain-1.2.xml", "explain-2.0.xml"])
def test_explain(name: str) -> None:
    explain = parse_explain(body(name))
    assert explain.version == name[8:11]
    assert (explain.host, explain.port, explain.database) == ("127.0.0.1", 23842, "lib2")
    assert explain.title == "Zebra lab library lib2 (marc21)"
    assert {"dc.title", "dc.creator", "bath.isbn", "cql.serverChoice"} <= set(explain.indexes)
    assert len(explain.indexes) == len(set(explain.indexes)) == 13
    assert explain.schemas == ("marcxml", "dc")


def test_explain_details() -> None:
    explain = parse_explain(body("explain-1.2.xml"))
    assert explain.protocol == "SRU"
    assert dict(explain.sets) == {
        "cql": "info:srw/cql-context-set/1/cql-v1.2",
        "dc": "info:srw/cql-context-set/1/dc-v1.1",
        "bath": "http://zing.z3950.org/cql/bath/2.0/",
        "rec": "info:srw/cql-context-set/2/rec-1.1",
    }
    by_title = {i.title: i for i in explain.index_info}
    assert by_title["author"].names == ("dc.creator", "dc.author")
    assert by_title["any"].names == ("cql.serverChoice", "cql.anywhere")
    # ZeeRex defaults when the record says nothing: searchable, not scannable, not sortable
    assert {(i.search, i.scan, i.sort) for i in explain.index_info} == {(True, False, False)}
    assert [n for i in explain.index_info for n in i.names] == list(explain.indexes)
    assert [(s.name, s.identifier, s.title) for s in explain.schema_info] == [
        ("marcxml", MARCXML_SCHEMA, "MARCXML"),
        ("dc", "info:srw/schema/1/dc-v1.1", "Dublin Core"),
    ]
    assert explain.config == (
        ("default", "numberOfRecords", "10"),
        ("setting", "maximumRecords", "1000"),
    )
    assert explain.setting("setting", "maximumRecords") == "1000"
    assert explain.setting("default", "nosuch") is None
    assert explain.description.startswith("Zebra lab library")


def test_explain_attributes_flags_and_a_bare_zeerex_record() -> None:
    # the captured record with Z39.50 attribute maps and flags, served bare (no explainResponse)
    raw = body("explain-1.2.xml").decode("utf-8")
    start = raw.index("<explain ")
    zeerex = raw[start : raw.index("</explain>") + len("</explain>")]
    zeerex = zeerex.replace(
        '<index><title>title</title><map><name set="dc">title</name></map></index>',
        '<index scan="true" sort="1"><title>title</title><map><name set="dc">title</name></map>'
        '<map><attr type="1" set="bib1">4</attr></map></index>'
        '<index search="false"><title>hidden</title><map><name>hidden</name></map></index>',
    )
    explain = parse_explain(zeerex.encode("utf-8"))
    by_title = {i.title: i for i in explain.index_info}
    assert (by_title["title"].attributes, by_title["title"].scan, by_title["title"].sort) == (
        ((1, 4),),
        True,
        True,
    )
    assert (by_title["hidden"].names, by_title["hidden"].search) == (("hidden",), False)
    assert explain.version == "" and explain.database == "lib2"


def test_explain_without_a_record_keeps_its_diagnostics() -> None:
    raw = (
        b'<explainResponse xmlns="http://www.loc.gov/zing/srw/"><version>1.2</version>'
        b"<diagnostics><diagnostic xmlns='http://www.loc.gov/zing/srw/diagnostic/'>"
        b"<uri>info:srw/diagnostic/1/1</uri></diagnostic></diagnostics></explainResponse>"
    )
    explain = parse_explain(raw)
    assert (explain.version, explain.index_info, explain.title) == ("1.2", (), "")
    assert explain.diagnostics == (Diagnostic("sru", 1, "General system error", ""),)


def test_result_count_precision_and_result_set_id_of_sru_2_0() -> None:
    raw = body("searchretrieve-2.0-xml.xml")
    # zebrasrv writes the bare word; the standard's form is a vocabulary URI
    assert b"<zs:resultCountPrecision>exact</zs:resultCountPrecision>" in raw
    assert parse_searchretrieve(raw).result_count_precision == "exact"
    assert parse_searchretrieve(body("searchretrieve-1.2-xml.xml")).result_count_precision == ""
    edited = raw.replace(
        b"<zs:resultCountPrecision>exact</zs:resultCountPrecision>",
        b"<zs:resultCountPrecision>info:srw/vocabulary/resultCountPrecision/1/estimate"
        b"</zs:resultCountPrecision><zs:resultSetId>rs7</zs:resultSetId>",
    )
    response = parse_searchretrieve(edited)
    assert (response.result_count_precision, response.result_set_id) == ("estimate", "rs7")
    assert response.records == parse_searchretrieve(raw).records


def test_scan_params() -> None:
    assert scan_params("dc.title=war", version="1.2", maximum=5, position=2) == {
        "operation": "scan",
        "version": "1.2",
        "scanClause": "dc.title=war",
        "responsePosition": "2",
        "maximumTerms": "5",
    }
    with pytest.raises(LocalProtocolError):
        scan_params("x", version="1.2", maximum=0)
    with pytest.raises(LocalProtocolError):
        scan_params("x", version="0.9")


@pytest.mark.parametrize(("name", "first"), [("scan-1.2.xml", 0), ("scan-2.0.xml", 1)])
def test_scan(name: str, first: int) -> None:
    response = parse_scan(body(name))
    assert response.diagnostics == ()
    terms = [(t.value, t.count, t.display) for t in response.terms]
    # 2.0 was asked for responsePosition=2: the term asked for is second
    assert terms[first] == ("computer", 5, "computer")
    assert len(terms) == 3 and terms[first + 1][0] == "concert"
    # the captured search found the same five records
    assert terms[first][1] == parse_searchretrieve(body("page-1.2-start1.xml")).number_of_records


def test_scan_diagnostic_and_parse_diagnostics() -> None:
    response = parse_scan(body("scan-1.2-diagnostic-16.xml"))
    expected = (Diagnostic("sru", 16, "Unsupported index", ""),)
    assert (response.terms, response.diagnostics) == ((), expected)
    assert parse_diagnostics(body("scan-1.2-diagnostic-16.xml")) == expected
    assert parse_diagnostics(body("diagnostic-2.0-10.xml"))[0].code == 10
    assert parse_diagnostics(body("searchretrieve-1.2-zero.xml")) == ()
    with pytest.raises(RemoteProtocolError):
        parse_diagnostics(b"Internal Server Error")
    with pytest.raises(RemoteProtocolError, match="got <searchRetrieveResponse>"):
        parse_scan(body("searchretrieve-1.2-zero.xml"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=500) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_raise_only_remote_protocol_error_in_scan_too(raw: bytes) -> None:
    for parse in (parse_scan, parse_diagnostics):
        with contextlib.suppress(RemoteProtocolError):
            parse(raw)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            "searchretrieve-1.2-xml.xml",
            "searchretrieve-2.0-string.xml",
            "explain-1.2.xml",
            "scan-1.2.xml",
        ]
    ),
    st.integers(min_value=0, max_value=4000),
    st.binary(max_size=20),
)
def test_damaged_real_answers_raise_only_remote_protocol_error(
    name: str, cut: int, junk: bytes
) -> None:
    """Real answers cut short or with junk spliced in: parsed or refused, nothing else."""
    raw = body(name)
    damaged = raw[:cut] + junk + raw[cut + len(junk) :]
    for parse in (parse_searchretrieve, parse_explain, parse_scan):
        with contextlib.suppress(RemoteProtocolError):
            parse(damaged)
