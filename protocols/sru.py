"""SRU 1.1 / 1.2 / 2.0 client codec: request parameters in, parsed responses out. No I/O.

Request (SRU 1.2 "searchRetrieve Operation", SRU 2.0 OASIS searchRetrieve Part 3 §4)::

    1.1 / 1.2  operation=searchRetrieve version query startRecord maximumRecords
               recordSchema recordPacking=xml|string      (how recordData is escaped)
    2.0        (no operation: a query makes it a searchRetrieve) version queryType=cql query
               startRecord maximumRecords recordSchema recordXMLEscaping=xml|string
               recordPacking=packed|unpacked  (2.0 moved the escaping to recordXMLEscaping;
               its recordPacking now says whether the record is the whole record or
               unpacked into extraRecordData. We keep the default, packed.)

Response (both versions; namespaces differ, element names do not)::

    searchRetrieveResponse
      version?  numberOfRecords  resultSetId?  nextRecordPosition?
      records? / record*  ( recordSchema, recordPacking | recordXMLEscaping,
                            recordData, recordPosition?, extraRecordData? )
      diagnostics? / diagnostic* ( uri "info:srw/diagnostic/1/N", details?, message? )

    2.0 adds  resultCountPrecision  info:srw/vocabulary/resultCountPrecision/1/exact
              (or estimate, maximum, minimum, unknown, current): how far to trust the count

A record whose schema is ``info:srw/schema/1/diagnostics-v1.1`` is a *surrogate* diagnostic:
the server could not give that one record. The parser returns it among the diagnostics.

Scan (SRU 1.2 "scan Operation"; 2.0 keeps it with the namespace ``.../search-ws/scan``)::

    request    operation=scan version scanClause responsePosition? maximumTerms?
    response   scanResponse  terms / term* ( value, numberOfRecords?, displayTerm?,
                                             whereInList? )  diagnostics?

Explain answers with a ZeeRex 2.0 record (http://explain.z3950.org/dtd/2.0/)::

    explain  serverInfo(@protocol @version @method) / host port database
             databaseInfo / title description
             indexInfo / set(@name @identifier)*
                         index(@search @scan @sort)* / title map* / name(@set) | attr(@type)
             schemaInfo / schema(@identifier @name)* / title
             configInfo / default(@type)* setting(@type)* supports(@type)*

Network XML is untrusted: it is parsed by lxml with entities unresolved, no DTD loading, no
network and no huge-tree mode, a document with a DOCTYPE is refused, and bodies above
``MAX_BODY_BYTES`` are refused before parsing.
"""

from __future__ import annotations

import re
from copy import deepcopy
from dataclasses import dataclass
from typing import NamedTuple

from lxml import etree

from core import Diagnostic, LocalProtocolError, RemoteProtocolError, diagnostic_meaning
from core.xmlsafe import excerpt, parse_untrusted, safe_parser

__all__ = [
    "MAX_BODY_BYTES",
    "SRU_NAMESPACES",
    "VERSIONS",
    "Explain",
    "ExplainIndex",
    "ExplainSchema",
    "SRURecord",
    "SRUResponse",
    "SRUScanResponse",
    "SRUTerm",
    "explain_params",
    "parse_diagnostic_uri",
    "parse_diagnostics",
    "parse_explain",
    "parse_scan",
    "parse_searchretrieve",
    "scan_params",
    "searchretrieve_params",
]

#: The SRU versions this codec speaks.
VERSIONS = ("1.1", "1.2", "2.0")

#: Response namespaces: SRU 1.x (SRW) and SRU 2.0 (OASIS). Elements are matched by local
#: name, so a server that uses another namespace (or none) is still read.
SRU_NAMESPACES = {
    "1": "http://www.loc.gov/zing/srw/",
    "2": "http://docs.oasis-open.org/ns/search-ws/sruResponse",
}

#: Refuse larger bodies: a page of MARCXML records is a few hundred kilobytes.
MAX_BODY_BYTES = 32 * 1024 * 1024

_DIAG_PREFIX = "info:srw/diagnostic/1/"
_SURROGATE_SCHEMAS = ("info:srw/schema/1/diagnostics-v1.1", "info:srw/schema/1/diagnostic-v1.1")
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>")


class SRURecord(NamedTuple):
    """One record of a response: 1-based position, schema URI, the record as standalone XML."""

    position: int
    schema: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SRUResponse:
    """A parsed searchRetrieveResponse.

    ``number_of_records`` is ``None`` when the server sent none (a fatal diagnostic);
    ``diagnostics`` holds the response's diagnostics and then the surrogate ones, in order.
    ``version`` is the echoed ``<version>``, or ``"2.0"`` for an unversioned 2.0 response.
    """

    number_of_records: int | None
    records: tuple[SRURecord, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    next_record_position: int | None = None
    version: str = ""
    result_count_precision: str = ""
    result_set_id: str = ""


# index ::= <index search? scan? sort?> <title>* <map>* </index>
#   map ::= <map primary?> ( <name set?>NAME</name> | <attr type set?>VALUE</attr>* ) </map>
@dataclass(frozen=True, slots=True)
class ExplainIndex:
    """One ``<index>`` of a ZeeRex record: its CQL names and any Z39.50 attributes.

    ``names`` are ``set.name`` with the server's own set names (``dc.title``), or a bare
    name when the map gives no set. ``attributes`` are the Bib-1 ``(type, value)`` pairs of
    ``<attr>`` maps. ``search``/``scan``/``sort`` are the index's flags (ZeeRex defaults:
    searchable, not scannable, not sortable).
    """

    title: str
    names: tuple[str, ...] = ()
    attributes: tuple[tuple[int, int], ...] = ()
    search: bool = True
    scan: bool = False
    sort: bool = False


# schema ::= <schema identifier name retrieve? sort?> <title>* </schema>
@dataclass(frozen=True, slots=True)
class ExplainSchema:
    """A record schema the server can return: short name, URI and title."""

    name: str
    identifier: str = ""
    title: str = ""


@dataclass(frozen=True, slots=True)
class Explain:
    """What a ZeeRex explain record says a client needs: the server, its indexes, its schemas.

    ``indexes`` are every ``set.name`` CQL index name (``dc.title``) in order, ``schemas``
    the schema short names; ``index_info`` and ``schema_info`` keep the details. ``sets``
    maps the server's context set names to their URIs (``("dc", "info:srw/cql-context-
    set/1/dc-v1.1")``), which is how its names are compared with ours. ``config`` holds
    the ``configInfo`` entries as ``(kind, type, value)``: ``("default", "numberOfRecords",
    "10")``, ``("setting", "maximumRecords", "1000")``, ``("supports", "sort", "")``.
    """

    version: str = ""
    host: str = ""
    port: int | None = None
    database: str = ""
    title: str = ""
    description: str = ""
    protocol: str = ""
    indexes: tuple[str, ...] = ()
    schemas: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    index_info: tuple[ExplainIndex, ...] = ()
    schema_info: tuple[ExplainSchema, ...] = ()
    sets: tuple[tuple[str, str], ...] = ()
    config: tuple[tuple[str, str, str], ...] = ()

    def setting(self, kind: str, type_: str) -> str | None:
        """The value of a ``configInfo`` entry, e.g. ``setting("setting", "maximumRecords")``."""
        for k, t, value in self.config:
            if k == kind and t == type_:
                return value
        return None


@dataclass(frozen=True, slots=True)
class SRUTerm:
    """One entry of a scan: the term, how many records have it, how to show it."""

    value: str
    count: int | None = None
    display: str = ""
    where: str = ""


@dataclass(frozen=True, slots=True)
class SRUScanResponse:
    """A parsed scanResponse: the terms in index order, and any diagnostics."""

    terms: tuple[SRUTerm, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise LocalProtocolError(f"SRU version {version!r} not supported (use {VERSIONS})")


def searchretrieve_params(
    query: str,
    *,
    version: str,
    start: int,
    maximum: int,
    schema: str = "marcxml",
    packing: str = "xml",
) -> dict[str, str]:
    """Query-string parameters of a searchRetrieve request.

    ``packing`` is how records come inside the response: ``xml`` (embedded) or ``string``
    (escaped text). It travels as ``recordPacking`` in 1.x and ``recordXMLEscaping`` in 2.0.

    >>> searchretrieve_params("dc.title=war", version="2.0", start=1, maximum=5)["queryType"]
    'cql'
    """
    _check_version(version)
    if packing not in ("xml", "string"):
        raise LocalProtocolError(f"record packing {packing!r} is neither 'xml' nor 'string'")
    if start < 1:
        raise LocalProtocolError(f"startRecord must be at least 1, not {start}")
    if maximum < 0:
        raise LocalProtocolError(f"maximumRecords must not be negative, not {maximum}")
    params = {"version": version}
    if version == "2.0":
        params["queryType"] = "cql"
    else:
        params["operation"] = "searchRetrieve"
    params["query"] = query
    params["startRecord"] = str(start)
    params["maximumRecords"] = str(maximum)
    if schema:
        params["recordSchema"] = schema
    params["recordXMLEscaping" if version == "2.0" else "recordPacking"] = packing
    return params


def scan_params(
    clause: str, *, version: str, maximum: int = 20, position: int = 1
) -> dict[str, str]:
    """Query-string parameters of a scan request; ``clause`` is a CQL ``index=term``.

    ``position`` is where the term itself should land in the list (1: first).

    >>> scan_params("dc.title=war", version="1.2", maximum=5)["operation"]
    'scan'
    """
    _check_version(version)
    if maximum < 1:
        raise LocalProtocolError(f"maximumTerms must be at least 1, not {maximum}")
    if position < 0:
        raise LocalProtocolError(f"responsePosition must not be negative, not {position}")
    return {
        "operation": "scan",
        "version": version,
        "scanClause": clause,
        "responsePosition": str(position),
        "maximumTerms": str(maximum),
    }


def explain_params(version: str) -> dict[str, str]:
    """Query-string parameters of an explain request (2.0: no parameter but the version)."""
    _check_version(version)
    if version == "2.0":
        return {"version": version}
    return {"operation": "explain", "version": version}


def parse_diagnostic_uri(uri: str, message: str = "", details: str = "") -> Diagnostic:
    """``info:srw/diagnostic/1/16`` -> ``Diagnostic("sru", 16, ...)``.

    A diagnostic from another set keeps its URI (minus a trailing number) as ``diagset``.
    """
    uri = uri.strip()
    match = re.search(r"(\d+)$", uri)
    code = int(match.group(1)) if match else 0
    if uri.startswith(_DIAG_PREFIX) and match and match.start() == len(_DIAG_PREFIX):
        diagset = "sru"
    else:
        diagset = uri[: match.start()].rstrip("/") if match else uri
    if not message and diagset == "sru":
        message = diagnostic_meaning("sru", code)
    return Diagnostic(diagset, code, message, details)


# -- parsing ---------------------------------------------------------------------------------


def _parse_xml(body: bytes) -> etree._Element:
    """Parse untrusted XML; RemoteProtocolError if it is not XML or carries a DOCTYPE."""
    return parse_untrusted(
        body, what="SRU response", limit=MAX_BODY_BYTES, error=RemoteProtocolError
    )


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):  # comments, processing instructions, entity references
        return ""
    return etree.QName(tag).localname


def _namespace(el: etree._Element) -> str:
    tag = el.tag
    return (etree.QName(tag).namespace or "") if isinstance(tag, str) else ""


def _child(el: etree._Element, name: str) -> etree._Element | None:
    for c in el:
        if _local(c) == name:
            return c
    return None


def _children(el: etree._Element | None, name: str) -> list[etree._Element]:
    if el is None:
        return []
    return [c for c in el if _local(c) == name]


def _text(el: etree._Element | None, name: str) -> str:
    c = _child(el, name) if el is not None else None
    return "".join(str(t) for t in c.itertext()).strip() if c is not None else ""


def _int(el: etree._Element, name: str) -> int | None:
    text = _text(el, name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise RemoteProtocolError(f"SRU <{name}> is not a number: {text[:40]!r}") from None


def _root(body: bytes, expected: str) -> etree._Element:
    root = _parse_xml(body)
    if _local(root) != expected:
        raise RemoteProtocolError(
            f"expected an SRU <{expected}>, got <{_local(root) or root.tag}>: {excerpt(body)!r}"
        )
    return root


def _version(root: etree._Element) -> str:
    version = _text(root, "version")
    if not version and _namespace(root) == SRU_NAMESPACES["2"]:
        return "2.0"
    return version


def _diagnostic(el: etree._Element) -> Diagnostic:
    return parse_diagnostic_uri(_text(el, "uri"), _text(el, "message"), _text(el, "details"))


def _standalone(el: etree._Element) -> bytes:
    # deepcopy re-roots the element so only the namespaces it uses are declared on it
    return bytes(etree.tostring(deepcopy(el), encoding="utf-8", with_tail=False))


def _record_payload(data: etree._Element) -> etree._Element | bytes | None:
    """The record inside <recordData>: an element (xml packing) or bytes (string packing)."""
    for c in data:
        if isinstance(c.tag, str):
            return c
    text = (data.text or "").strip()
    if not text:
        return None
    raw = _XML_DECL.sub(b"", text.encode("utf-8"), count=1)
    try:
        inner = etree.fromstring(raw, safe_parser())
    except (etree.XMLSyntaxError, ValueError):
        return raw  # the normalizer reports what is wrong with this one record
    if inner is None or inner.getroottree().docinfo.internalDTD is not None:
        return raw
    return inner


def _parse_records(
    records: etree._Element | None, start: int
) -> tuple[list[SRURecord], list[Diagnostic]]:
    out: list[SRURecord] = []
    surrogates: list[Diagnostic] = []
    for i, rec in enumerate(_children(records, "record")):
        position = _int(rec, "recordPosition") or start + i
        schema = _text(rec, "recordSchema")
        data = _child(rec, "recordData")
        payload = _record_payload(data) if data is not None else None
        if isinstance(payload, etree._Element) and (
            schema in _SURROGATE_SCHEMAS or _local(payload) == "diagnostic"
        ):
            surrogates.append(_diagnostic(payload))
            continue
        if payload is None:
            surrogates.append(Diagnostic.of("sru", 1, f"record {position} has no recordData"))
            continue
        body = payload if isinstance(payload, bytes) else _standalone(payload)
        out.append(SRURecord(position, schema, body))
    return out, surrogates


def parse_searchretrieve(body: bytes, *, start: int = 1) -> SRUResponse:
    """Parse a searchRetrieveResponse (any SRU version, record packing xml or string).

    ``start`` numbers records that come without a ``<recordPosition>``. Raises
    ``RemoteProtocolError`` for a body that is not an SRU searchRetrieveResponse.
    """
    root = _root(body, "searchRetrieveResponse")
    records, surrogates = _parse_records(_child(root, "records"), start)
    precision = _text(root, "resultCountPrecision")
    return SRUResponse(
        number_of_records=_int(root, "numberOfRecords"),
        records=tuple(records),
        diagnostics=_diagnostics(root) + tuple(surrogates),
        next_record_position=_int(root, "nextRecordPosition"),
        version=_version(root),
        # a URI (info:srw/vocabulary/resultCountPrecision/1/estimate); its last word says it
        result_count_precision=precision.rstrip("/").rsplit("/", 1)[-1],
        result_set_id=_text(root, "resultSetId"),
    )


def parse_scan(body: bytes) -> SRUScanResponse:
    """Parse a scanResponse (SRU 1.1, 1.2, 2.0). Raises ``RemoteProtocolError`` otherwise."""
    root = _root(body, "scanResponse")
    terms = []
    for term in _children(_child(root, "terms"), "term"):
        value = _text(term, "value")
        count = _int(term, "numberOfRecords")
        terms.append(SRUTerm(value, count, _text(term, "displayTerm"), _text(term, "whereInList")))
    return SRUScanResponse(tuple(terms), _diagnostics(root))


def parse_diagnostics(body: bytes) -> tuple[Diagnostic, ...]:
    """The diagnostics of any SRU response (searchRetrieve, scan, explain); () if it has none.

    For an HTTP error body: SRU 2.0 servers may send a 4xx/5xx status with a diagnostic.
    Raises ``RemoteProtocolError`` when ``body`` is not XML.
    """
    return _diagnostics(_parse_xml(body))


def _diagnostics(root: etree._Element) -> tuple[Diagnostic, ...]:
    return tuple(_diagnostic(d) for d in _children(_child(root, "diagnostics"), "diagnostic"))


def _flag(el: etree._Element, name: str, default: bool) -> bool:
    value = (el.get(name) or "").strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    return default


def _explain_index(index: etree._Element) -> ExplainIndex:
    names: list[str] = []
    attributes: list[tuple[int, int]] = []
    for m in _children(index, "map"):
        for name in _children(m, "name"):
            value = (name.text or "").strip()
            cset = (name.get("set") or "").strip()
            full = f"{cset}.{value}" if cset else value
            if value and full not in names:
                names.append(full)
        for attr in _children(m, "attr"):
            kind, value = (attr.get("type") or "").strip(), (attr.text or "").strip()
            if kind.isdigit() and value.isdigit():
                attributes.append((int(kind), int(value)))
    return ExplainIndex(
        title=_text(index, "title"),
        names=tuple(names),
        attributes=tuple(attributes),
        search=_flag(index, "search", True),
        scan=_flag(index, "scan", False),
        sort=_flag(index, "sort", False),
    )


def _zeerex(explain: etree._Element, version: str, diagnostics: tuple[Diagnostic, ...]) -> Explain:
    server = _child(explain, "serverInfo")
    database = _child(explain, "databaseInfo")
    index_info = _child(explain, "indexInfo")
    port = _text(server, "port")
    indexes = tuple(_explain_index(i) for i in _children(index_info, "index"))
    sets = tuple(
        (s.get("name", "").strip(), s.get("identifier", "").strip())
        for s in _children(index_info, "set")
        if s.get("name")
    )
    schemas = tuple(
        ExplainSchema(s.get("name", "").strip(), s.get("identifier", "").strip(), _text(s, "title"))
        for s in _children(_child(explain, "schemaInfo"), "schema")
    )
    config = tuple(
        (kind, (c.get("type") or "").strip(), "".join(str(t) for t in c.itertext()).strip())
        for kind in ("default", "setting", "supports")
        for c in _children(_child(explain, "configInfo"), kind)
    )
    names = tuple(dict.fromkeys(n for i in indexes for n in i.names))
    return Explain(
        version=version,
        host=_text(server, "host"),
        port=int(port) if port.isdigit() else None,
        database=_text(server, "database"),
        title=_text(database, "title"),
        description=" ".join(_text(database, "description").split()),
        protocol=(server.get("protocol") or "").strip() if server is not None else "",
        indexes=names,
        schemas=tuple(s.name or s.identifier for s in schemas),
        diagnostics=diagnostics,
        index_info=indexes,
        schema_info=schemas,
        sets=sets,
        config=config,
    )


def parse_explain(body: bytes) -> Explain:
    """Parse an explainResponse (or a bare ZeeRex record): server, indexes, schemas, config.

    A response without a ZeeRex record gives an ``Explain`` holding only its diagnostics.
    """
    root = _parse_xml(body)
    if _local(root) == "explain":  # some servers answer with the bare ZeeRex record
        return _zeerex(root, "", ())
    if _local(root) != "explainResponse":
        raise RemoteProtocolError(
            f"expected an SRU <explainResponse>, got <{_local(root) or root.tag}>: "
            f"{excerpt(body)!r}"
        )
    diagnostics = _diagnostics(root)
    record = _child(root, "record")
    data = _child(record, "recordData") if record is not None else None
    payload = _record_payload(data) if data is not None else None
    explain = payload if isinstance(payload, etree._Element) else None
    if explain is None or _local(explain) != "explain":
        return Explain(version=_version(root), diagnostics=diagnostics)
    return _zeerex(explain, _version(root), diagnostics)
