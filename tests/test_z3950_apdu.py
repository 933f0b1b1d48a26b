"""Z39.50 APDUs: Hypothesis round trips for every APDU, diagnostics, queries, PQF."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import Diagnostic, LocalProtocolError, QueryError, RemoteProtocolError
from protocols import ber
from protocols.ber import External, Tag
from protocols.z3950.apdu import (
    APDU,
    OPTIONS,
    APDUError,
    Close,
    CloseReason,
    DefaultDiagFormat,
    IdPass,
    InitRequest,
    InitResponse,
    MultipleNonSurDiagnostics,
    NamePlusRecord,
    NonSurrogateDiagnostic,
    OtherInfoUnit,
    PresentRequest,
    PresentResponse,
    PresentStatus,
    ResponseRecords,
    ScanRequest,
    ScanResponse,
    SearchRequest,
    SearchResponse,
    TermInfo,
    decode_apdu,
    diagnostic_of,
    encode_apdu,
    init_diagnostic,
    record_data,
)
from protocols.z3950.oids import (
    BIB1_DIAGSET,
    RECORD_SYNTAXES,
    USERINFO_1,
    syntax_name,
    syntax_oid,
)
from protocols.z3950.rpn import (
    BIB1,
    AttributesPlusTerm,
    ProximityOperator,
    ResultSetOperand,
    RPNNode,
    RPNOperator,
    RPNQuery,
    parse_attribute_list,
    parse_pqf,
    to_pqf,
)

# --------------------------------------------------------------------------- strategies

texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
opt_texts = st.none() | texts
ints = st.integers(min_value=-(2**40), max_value=2**40)
counts = st.integers(min_value=0, max_value=2**31 - 1)
reference_ids = st.none() | st.binary(max_size=8)
oids = st.tuples(
    st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 10**9), max_size=6)
).map(lambda t: ".".join(map(str, [t[0], t[1], *t[2]])))
externals = st.one_of(
    st.builds(External, st.binary(max_size=30), st.none() | oids, st.just("octet-aligned")),
    st.builds(
        External,
        st.one_of(texts.map(ber.string), ints.map(ber.integer)),
        st.none() | oids,
        st.just("single-ASN1-type"),
        st.none() | ints,
    ),
    st.builds(
        External,
        st.lists(st.booleans(), max_size=20).map(ber.encode_bits),
        st.none() | oids,
        st.just("arbitrary"),
    ),
)
diag_formats = st.builds(DefaultDiagFormat, counts, texts, st.just(BIB1_DIAGSET) | oids)
diag_recs = diag_formats | externals
name_plus_records = st.one_of(
    st.builds(NamePlusRecord, record=externals, database_name=opt_texts),
    st.builds(NamePlusRecord, diagnostic=diag_recs, database_name=opt_texts),
)
records = st.none() | st.one_of(
    st.builds(ResponseRecords, st.lists(name_plus_records, max_size=4).map(tuple)),
    st.builds(NonSurrogateDiagnostic, diag_formats),
    st.builds(MultipleNonSurDiagnostics, st.lists(diag_recs, max_size=3).map(tuple)),
)
terms = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=15)
attribute_values = st.integers(0, 2**20) | texts
attribute_lists = st.lists(st.tuples(st.integers(0, 2**20), attribute_values), max_size=4).map(
    tuple
)
proximities = st.builds(
    ProximityOperator,
    counts,
    st.booleans(),
    st.integers(1, 6),
    st.integers(1, 11) | counts,
    st.none() | st.booleans(),
    st.booleans(),
)
rpn_nodes: st.SearchStrategy[RPNNode] = st.recursive(
    st.builds(AttributesPlusTerm, attribute_lists, terms) | st.builds(ResultSetOperand, texts),
    lambda kids: (
        st.builds(RPNOperator, st.sampled_from(["and", "or", "and-not"]), kids, kids)
        | st.builds(RPNOperator, st.just("prox"), kids, kids, proximities)
    ),
    max_leaves=8,
)
other_infos = st.lists(
    st.one_of(
        st.builds(OtherInfoUnit, character_info=texts),
        st.builds(OtherInfoUnit, binary_info=st.binary(max_size=10)),
        st.builds(OtherInfoUnit, external=externals),
        st.builds(OtherInfoUnit, oid=oids),
    ).flatmap(
        lambda unit: st.builds(
            lambda category: OtherInfoUnit(
                unit.character_info, unit.binary_info, unit.external, unit.oid, category
            ),
            st.none() | st.tuples(st.none() | oids, counts),
        )
    ),
    max_size=3,
).map(tuple)
scan_entries = st.lists(
    st.builds(TermInfo, terms, opt_texts, st.none() | counts) | diag_recs, max_size=4
).map(tuple)
queries = st.builds(RPNQuery, rpn_nodes, st.just(BIB1) | oids)
option_sets = st.frozensets(st.sampled_from(sorted(OPTIONS)))
versions = st.frozensets(st.integers(1, 20))
auths = st.none() | texts | st.builds(IdPass, opt_texts, opt_texts, opt_texts)

apdus: st.SearchStrategy[APDU] = st.one_of(
    st.builds(
        InitRequest,
        versions,
        option_sets,
        counts,
        counts,
        auths,
        opt_texts,
        opt_texts,
        opt_texts,
        st.none() | externals,
        reference_ids,
        other_infos,
    ),
    st.builds(
        InitResponse,
        st.booleans(),
        versions,
        option_sets,
        counts,
        counts,
        opt_texts,
        opt_texts,
        opt_texts,
        st.none() | externals,
        reference_ids,
        other_infos,
    ),
    st.builds(
        SearchRequest,
        queries,
        st.lists(texts, min_size=1, max_size=3).map(tuple),
        texts,
        st.booleans(),
        counts,
        counts,
        counts,
        opt_texts,
        opt_texts,
        st.none() | oids,
        reference_ids,
    ),
    st.builds(
        SearchResponse,
        counts,
        st.booleans(),
        counts,
        counts,
        st.none() | st.integers(0, 5),
        st.none() | st.integers(0, 7),
        records,
        reference_ids,
    ),
    st.builds(PresentRequest, texts, counts, counts, opt_texts, st.none() | oids, reference_ids),
    st.builds(PresentResponse, counts, counts, st.integers(0, 7), records, reference_ids),
    st.builds(Close, st.integers(0, 12), opt_texts, reference_ids),
    st.builds(
        ScanRequest,
        st.builds(AttributesPlusTerm, attribute_lists, terms),
        counts,
        st.lists(texts, min_size=1, max_size=3).map(tuple),
        st.none() | oids,
        st.none() | counts,
        st.none() | counts,
        reference_ids,
    ),
    st.builds(
        ScanResponse,
        st.integers(0, 6),
        counts,
        scan_entries,
        st.lists(diag_recs, max_size=2).map(tuple),
        st.none() | counts,
        st.none() | counts,
        st.none() | oids,
        reference_ids,
    ),
)


@given(apdus)
@settings(max_examples=400)
def test_every_apdu_round_trips(apdu: APDU) -> None:
    encoded = encode_apdu(apdu)
    assert ber.frame(encoded) == len(encoded)
    assert decode_apdu(encoded) == apdu


# --------------------------------------------------------------------------- specific APDUs


def test_options_and_versions_are_named_bits() -> None:
    request = InitRequest(
        protocol_versions=frozenset({2, 3}), options=frozenset({"search", "present", "scan"})
    )
    element = ber.decode(encode_apdu(request))
    by_tag = {c.tag.number: c for c in element.children}
    assert by_tag[3].bits()[:3] == (False, True, True)
    assert [i for i, on in enumerate(by_tag[4].bits()) if on] == [0, 1, 7]
    # bit 9 is reserved and bits past 21 are unnamed: ignored, not an error
    odd = ber.constructed(
        Tag.context(20, True),
        ber.bit_string([True, True, True], Tag.context(3)),
        ber.bit_string([True] + [False] * 8 + [True] + [False] * 20 + [True], Tag.context(4)),
        ber.integer(1000, Tag.context(5)),
        ber.integer(1000, Tag.context(6)),
    )
    decoded = decode_apdu(odd)
    assert isinstance(decoded, InitRequest)
    assert decoded.options == frozenset({"search"})
    assert decoded.implementation_name is None


def test_unknown_option_name_is_refused_when_encoding() -> None:
    with pytest.raises(LocalProtocolError, match=r"unknown Z39\.50 options"):
        encode_apdu(InitRequest(options=frozenset({"telepathy"})))


def test_refused_init_carries_its_diagnostic_like_yaz() -> None:
    response = InitResponse(result=False, user_information=init_diagnostic(1011, "bad password"))
    decoded = decode_apdu(encode_apdu(response))
    assert isinstance(decoded, InitResponse)
    assert decoded.diagnostics == (Diagnostic.of("bib-1", 1011, "bad password"),)
    # YAZ's zget_init_diagnostics_octet variant: the same OtherInformation, octet-aligned
    octet = External(init_diagnostic(1011, "x").data, USERINFO_1, "octet-aligned")
    assert InitResponse(False, user_information=octet).diagnostics[0].code == 1011
    # a garbled reason does not hide the refusal
    garbled = External(b"\x30\x05\x02", USERINFO_1, "octet-aligned")
    assert InitResponse(False, user_information=garbled).diagnostics == ()
    assert InitResponse(True).diagnostics == ()


def test_diagnostics_of_responses() -> None:
    nsd = SearchResponse(0, False, records=NonSurrogateDiagnostic(DefaultDiagFormat(109, "Nope")))
    assert nsd.diagnostics == (Diagnostic.of("bib-1", 109, "Nope"),)
    assert str(nsd.diagnostics[0]) == "bib-1 109 Database unavailable: Nope"
    multiple = PresentResponse(
        0,
        1,
        PresentStatus.FAILURE,
        MultipleNonSurDiagnostics((DefaultDiagFormat(13), DefaultDiagFormat(5, "", "1.2.3"))),
    )
    assert [(d.diagset, d.code) for d in multiple.diagnostics] == [("bib-1", 13), ("1.2.3", 5)]
    assert multiple.name_plus_records == ()
    unknown = External(b"?", "1.2.3.4", "octet-aligned")
    assert diagnostic_of(unknown).diagset == "1.2.3.4"
    # a non-ASCII addinfo goes out as v3 GeneralString, an ASCII one as v2 VisibleString
    assert ber.decode(DefaultDiagFormat(1, "ё").to_ber()).children[2].tag == ber.GENERAL_STRING
    assert ber.decode(DefaultDiagFormat(1, "e").to_ber()).children[2].tag == ber.VISIBLE_STRING


def test_name_plus_record_needs_exactly_one_part() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        NamePlusRecord()
    with pytest.raises(ValueError, match="exactly one"):
        NamePlusRecord(External(b""), DefaultDiagFormat(1))
    entry = NamePlusRecord(External(b"rec", RECORD_SYNTAXES["unimarc"]))
    assert entry.syntax == "unimarc"
    assert NamePlusRecord(diagnostic=DefaultDiagFormat(1)).syntax == ""


def test_record_data_unwraps_strings_only() -> None:
    sutrs = External(ber.string("dummy SUTRS"), RECORD_SYNTAXES["sutrs"], "single-ASN1-type")
    assert record_data(sutrs) == b"dummy SUTRS"
    opac = External(ber.constructed(ber.SEQUENCE, ber.integer(1)), None, "single-ASN1-type")
    assert record_data(opac) == opac.data
    assert record_data(External(b"00042nam")) == b"00042nam"


def test_record_fragments_are_reported_as_unsupported() -> None:
    fragment = ber.constructed(
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
                    ber.constructed(Tag.context(3, True), ber.octets(b"part")),
                ),
            ),
        ),
    )
    with pytest.raises(APDUError, match="fragments"):
        decode_apdu(fragment)


@pytest.mark.parametrize(
    ("pdu", "message"),
    [
        (ber.constructed(Tag.context(44, True)), "sortResponse is not supported"),
        (ber.constructed(Tag.context(36, True)), r"ScanResponse: missing scanStatus \[4\]"),
        (ber.constructed(Tag.context(99, True)), r"unknown APDU \[99\]"),
        (ber.integer(5), "not a Z39.50 APDU"),
        (ber.constructed(Tag.context(23, True), ber.integer(5, Tag.context(24))), "resultCount"),
        (ber.constructed(Tag.context(48, True)), "closeReason"),
    ],
)
def test_decode_errors(pdu: bytes, message: str) -> None:
    with pytest.raises(APDUError, match=message) as info:
        decode_apdu(pdu)
    assert isinstance(info.value, RemoteProtocolError)


def _search_with_rpn(structure: bytes) -> bytes:
    query = ber.constructed(
        Tag.context(21, True), ber.constructed(Tag.context(1, True), ber.oid(BIB1), structure)
    )
    return ber.constructed(
        Tag.context(22, True),
        ber.integer(0, Tag.context(13)),
        ber.integer(1, Tag.context(14)),
        ber.integer(0, Tag.context(15)),
        ber.boolean(True, Tag.context(16)),
        ber.string("1", Tag.context(17)),
        ber.constructed(Tag.context(18, True), ber.string("Default", Tag.context(105))),
        query,
    )


def _apt(term: bytes) -> bytes:
    attrs = ber.constructed(Tag.context(44, True))
    return ber.constructed(
        Tag.context(0, True), ber.constructed(Tag.context(102, True), attrs, term)
    )


def test_other_term_types_decode_to_text() -> None:
    numeric = decode_apdu(_search_with_rpn(_apt(ber.integer(42, Tag.context(215)))))
    assert isinstance(numeric, SearchRequest)
    assert numeric.query.root == AttributesPlusTerm((), "42")
    chars = decode_apdu(_search_with_rpn(_apt(ber.string("мир", Tag.context(216)))))
    assert isinstance(chars, SearchRequest)
    assert chars.query.root == AttributesPlusTerm((), "мир")
    # a term that is not UTF-8 survives a decode/encode round trip byte for byte
    latin1 = _search_with_rpn(_apt(ber.octets("Müller".encode("latin-1"), Tag.context(45))))
    decoded = decode_apdu(latin1)
    assert encode_apdu(decoded) == latin1


@pytest.mark.parametrize(
    ("structure", "message"),
    [
        (
            ber.constructed(
                Tag.context(1, True),
                _apt(ber.octets(b"a", Tag.context(45))),
                _apt(ber.octets(b"b", Tag.context(45))),
                ber.constructed(Tag.context(46, True), ber.null(Tag.context(4))),
            ),
            "operator",
        ),
        (
            ber.constructed(
                Tag.context(1, True),
                _apt(ber.octets(b"a", Tag.context(45))),
                _apt(ber.octets(b"b", Tag.context(45))),
                ber.constructed(Tag.context(46, True), ber.constructed(Tag.context(3, True))),
            ),
            r"ProximityOperator: missing proximityUnitCode \[5\]",
        ),
        (
            ber.constructed(
                Tag.context(0, True),
                ber.constructed(Tag.context(214, True), ber.string("set1", Tag.context(31))),
            ),
            "operand",
        ),
        (_apt(ber.null(Tag.context(221))), "term type"),
    ],
)
def test_unsupported_query_parts(structure: bytes, message: str) -> None:
    with pytest.raises(APDUError, match=message):
        decode_apdu(_search_with_rpn(structure))


def test_close_reason_text() -> None:
    assert Close(CloseReason.PROTOCOL_ERROR, "bad").reason_text == "protocol error: bad"
    assert Close(42).reason_text == "reason 42"
    assert decode_apdu(encode_apdu(Close(42))) == Close(42)


def test_syntax_table() -> None:
    assert syntax_oid("USMARC") == "1.2.840.10003.5.10"
    assert syntax_oid("marc21") == syntax_oid("usmarc")
    assert syntax_oid("rusmarc") == "1.2.840.10003.5.28"
    assert syntax_oid("1.2.840.10003.5.109.10") == RECORD_SYNTAXES["xml"]
    assert syntax_name("1.2.840.10003.5.10") == "usmarc"
    assert syntax_name("1.2.840.10003.5.102") == "opac"
    assert syntax_name("1.2.3") == "1.2.3"
    with pytest.raises(LocalProtocolError, match="unknown record syntax"):
        syntax_oid("grs-7")


# --------------------------------------------------------------------------- PQF

pqf_terms = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]) | st.just(" "),
    max_size=12,
)
pqf_nodes: st.SearchStrategy[RPNNode] = st.recursive(
    st.builds(
        AttributesPlusTerm,
        st.lists(st.tuples(st.integers(0, 9999), st.integers(0, 9999)), max_size=3).map(tuple),
        pqf_terms,
    ),
    lambda kids: st.builds(RPNOperator, st.sampled_from(["and", "or", "and-not"]), kids, kids),
    max_leaves=6,
)


@given(st.builds(RPNQuery, pqf_nodes, st.just(BIB1) | oids))
def test_pqf_round_trip(query: RPNQuery) -> None:
    assert parse_pqf(to_pqf(query)) == query


def test_pqf_examples() -> None:
    assert parse_pqf("@and @attr 1=4 war @attr 1=1003 tolstoy") == RPNQuery(
        RPNOperator(
            "and", AttributesPlusTerm(((1, 4),), "war"), AttributesPlusTerm(((1, 1003),), "tolstoy")
        )
    )
    assert parse_pqf("@attrset bib-1 @attr bib-1 1=4 x").root == AttributesPlusTerm(((1, 4),), "x")
    assert parse_pqf('"a \\"b\\""').root == AttributesPlusTerm((), 'a "b"')


@pytest.mark.parametrize(
    "text",
    [
        "",
        "@and a",
        "@attr 1=4",
        "@attr x=4 a",
        "@attr 1= a",
        "a b",
        '"open',
        "@prox a b",
        "@prox 0 1 1 9 k 2 a b",
        "@prox 0 1 1 2 x 2 a b",
        "@prox 2 1 1 2 k 2 a b",
        "@set",
        "@attrset nosuch a",
        "@attr gils 1=4 a",
        "@attr 1=4 @and a b",
    ],
)
def test_pqf_errors(text: str) -> None:
    with pytest.raises(QueryError, match="PQF"):
        parse_pqf(text)


def test_pqf_proximity_string_values_and_result_sets() -> None:
    prox = parse_pqf("@prox 0 3 1 2 k 2 war peace").root
    assert prox == RPNOperator(
        "prox",
        AttributesPlusTerm((), "war"),
        AttributesPlusTerm((), "peace"),
        ProximityOperator(distance=3, ordered=True, relation=2, unit=2, exclusion=False),
    )
    # relation and unit may be named, as in YAZ's PQF
    assert parse_pqf("@prox 1 0 0 <= k word a b").root == RPNOperator(
        "prox",
        AttributesPlusTerm((), "a"),
        AttributesPlusTerm((), "b"),
        ProximityOperator(distance=0, ordered=False, relation=2, unit=2, exclusion=True),
    )
    assert parse_pqf("@attr 1=_ALLRECORDS @attr 2=103 x").root == AttributesPlusTerm(
        ((1, "_ALLRECORDS"), (2, 103)), "x"
    )
    assert parse_pqf("@and @set s1 @attr 1=4 x").root == RPNOperator(
        "and", ResultSetOperand("s1"), AttributesPlusTerm(((1, 4),), "x")
    )
    with pytest.raises(ValueError, match="prox"):
        RPNOperator("and", prox, prox, ProximityOperator())
    with pytest.raises(ValueError, match="prox"):
        RPNOperator("prox", prox, prox)


pqf_prox_nodes: st.SearchStrategy[RPNNode] = st.recursive(
    st.builds(
        AttributesPlusTerm,
        st.lists(
            st.tuples(
                st.integers(0, 9999),
                st.integers(0, 9999)
                | st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,8}", fullmatch=True),
            ),
            max_size=3,
        ).map(tuple),
        pqf_terms,
    )
    | st.builds(ResultSetOperand, st.from_regex(r"[A-Za-z0-9]{1,6}", fullmatch=True)),
    lambda kids: st.builds(
        RPNOperator,
        st.just("prox"),
        kids,
        kids,
        st.builds(
            ProximityOperator,
            counts,
            st.booleans(),
            st.integers(1, 6),
            st.integers(1, 11),
            st.booleans(),
            st.booleans(),
        ),
    ),
    max_leaves=5,
)


@given(st.builds(RPNQuery, pqf_prox_nodes))
def test_pqf_round_trip_with_proximity(query: RPNQuery) -> None:
    assert parse_pqf(to_pqf(query)) == query


def test_attribute_lists_for_scan() -> None:
    assert parse_attribute_list("1=4 4=1") == ((1, 4), (4, 1))
    assert parse_attribute_list("1=_ALLRECORDS") == ((1, "_ALLRECORDS"),)
    with pytest.raises(QueryError, match="TYPE=VALUE"):
        parse_attribute_list("title")
