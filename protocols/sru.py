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

A record whose schema is ``info:srw/schema/1/diagnostics-v1.1`` is a *surrogate* diagnostic:
the server could not give that one record. The parser returns it among the diagnostics.

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
    "SRURecord",
    "SRUResponse",
    "explain_params",
    "parse_diagnostic_uri",
    "parse_explain",
    "parse_searchretrieve",
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


@dataclass(frozen=True, slots=True)
class Explain:
    """The little of a ZeeRex explain record a client uses: who the server is and its indexes.

    ``indexes`` are ``set.name`` CQL index names (``dc.title``); ``schemas`` the short names.
    """

    version: str = ""
    host: str = ""
    port: int | None = None
    database: str = ""
    title: str = ""
    indexes: tuple[str, ...] = ()
    schemas: tuple[str, ...] = ()
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
    diagnostics = [_diagnostic(d) for d in _children(_child(root, "diagnostics"), "diagnostic")]
    return SRUResponse(
        number_of_records=_int(root, "numberOfRecords"),
        records=tuple(records),
        diagnostics=tuple(diagnostics + surrogates),
        next_record_position=_int(root, "nextRecordPosition"),
        version=_version(root),
    )


def parse_explain(body: bytes) -> Explain:
    """Parse an explainResponse: server info, title, CQL index names and record schemas."""
    root = _root(body, "explainResponse")
    diagnostics = tuple(
        _diagnostic(d) for d in _children(_child(root, "diagnostics"), "diagnostic")
    )
    record = _child(root, "record")
    data = _child(record, "recordData") if record is not None else None
    payload = _record_payload(data) if data is not None else None
    explain = payload if isinstance(payload, etree._Element) else None
    if explain is None or _local(explain) != "explain":
        return Explain(version=_version(root), diagnostics=diagnostics)
    server = _child(explain, "serverInfo")
    port = _text(server, "port")
    indexes: list[str] = []
    for index in _children(_child(explain, "indexInfo"), "index"):
        for m in _children(index, "map"):
            for name in _children(m, "name"):
                value = (name.text or "").strip()
                cset = name.get("set", "")
                full = f"{cset}.{value}" if cset else value
                if value and full not in indexes:
                    indexes.append(full)
    schemas = tuple(
        s.get("name", "") or s.get("identifier", "")
        for s in _children(_child(explain, "schemaInfo"), "schema")
    )
    return Explain(
        version=_version(root),
        host=_text(server, "host"),
        port=int(port) if port.isdigit() else None,
        database=_text(server, "database"),
        title=_text(_child(explain, "databaseInfo"), "title"),
        indexes=tuple(indexes),
        schemas=schemas,
        diagnostics=diagnostics,
    )
