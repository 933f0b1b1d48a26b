"""SRUConnector over HTTP: a small aiohttp server replaying captured zebrasrv answers
(tests/data/sru), faults it cannot show (refused, 404, slow), and real zebrasrv libraries.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from stdnum import isbn as stdnum_isbn

from connectors.sru import SRUConnector
from core import (
    Diagnostic,
    RemoteProtocolError,
    TargetDiagnostic,
    TargetError,
    TargetState,
    TargetTimeout,
    TargetUnreachable,
)
from core.target import Target, Timeouts
from demo.zebra import Federation
from normalizers import normalize
from protocols.sru import parse_searchretrieve
from protocols.z3950.rpn import AttributesPlusTerm, RPNQuery

DATA = Path(__file__).parent / "data" / "sru"
SLOW = 0.3  # seconds the connector waits in the timeout tests


def capture(name: str) -> bytes:
    return (DATA / name).read_bytes()


@dataclass
class Replay:
    """The fake library: what it was asked (and with which HTTP method), where it listens."""

    port: int
    requests: list[dict[str, str]] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)

    def url(self, path: str = "lib2") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


async def _library(request: web.Request) -> web.Response:
    """Answer like zebrasrv's lib2 did: at most two records a page, whatever was asked."""
    params = dict(request.query) if request.method == "GET" else dict(await request.post())
    request.app[REQUESTS].append({k: str(v) for k, v in params.items()})
    request.app[METHODS].append(request.method)
    xml = "text/xml"
    if params.get("operation") == "scan":
        name = (
            "scan-1.2.xml"
            if params["scanClause"] == "dc.title=computer"
            else "scan-1.2-diagnostic-16.xml"
        )
        return web.Response(body=capture(name), content_type=xml)
    if "query" not in params:
        name = "explain-2.0.xml" if params.get("version") == "2.0" else "explain-1.2.xml"
        return web.Response(body=capture(name), content_type=xml)
    query = params["query"]
    if query == "dc.title=computer":
        if params.get("version") == "2.0":
            return web.Response(body=capture("searchretrieve-2.0-string.xml"), content_type=xml)
        start = int(params.get("startRecord", "1"))
        return web.Response(body=capture(f"page-1.2-start{start}.xml"), content_type=xml)
    if query == "dc.nosuch=x":
        return web.Response(body=capture("diagnostic-1.2-16.xml"), content_type=xml)
    if query == "dc.title=nosuchwordxyz":
        return web.Response(body=capture("searchretrieve-1.2-zero.xml"), content_type=xml)
    if query == "slow" or (query == "slow pages" and params.get("startRecord") != "1"):
        # hang until the test is over (or 3 s), long past the connector's timeout
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(request.app[DONE].wait(), SLOW * 10)
    if query == "slow pages":
        return web.Response(body=capture("page-1.2-start1.xml"), content_type=xml)
    if query in ("garbage pages", "diagnostic pages"):
        if params.get("startRecord") == "1":
            return web.Response(body=capture("page-1.2-start1.xml"), content_type=xml)
        if query == "diagnostic pages":
            return web.Response(body=capture("diagnostic-1.2-61.xml"), content_type=xml)
        return web.Response(body=b"<html>Proxy Error</html", content_type="text/html")
    if query == "http 400 with a diagnostic":
        # SRU 2.0 servers may answer a bad query with HTTP 400 and a diagnostic body
        return web.Response(status=400, body=capture("diagnostic-2.0-10.xml"), content_type=xml)
    if query == "http 500":
        return web.Response(status=500, body=b"Internal Server Error", content_type="text/plain")
    return web.Response(body=b"Service Temporarily Unavailable", content_type="text/plain")


async def _not_found(request: web.Request) -> web.Response:
    return web.Response(status=404, body=capture("http-404.html"), content_type="text/html")


REQUESTS = web.AppKey("requests", list[dict[str, str]])
METHODS = web.AppKey("methods", list[str])
DONE = web.AppKey("done", asyncio.Event)


@pytest.fixture
async def replay() -> AsyncIterator[Replay]:
    app = web.Application()
    app[REQUESTS] = []
    app[METHODS] = []
    app[DONE] = asyncio.Event()
    app.router.add_get("/lib2", _library)
    app.router.add_post("/lib2", _library)
    app.router.add_get("/{other}", _not_found)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    yield Replay(int(sock.getsockname()[1]), app[REQUESTS], app[METHODS])
    app[DONE].set()
    await runner.cleanup()
    sock.close()


def target(
    url: str, version: str = "1.2", timeouts: Timeouts | None = None, method: str = "get"
) -> Target:
    return Target(
        "lib2",
        "Library 2",
        "sru",
        url=url,
        version=version,
        timeouts=timeouts or Timeouts(connect=1.0, search=2.0, present=2.0),
        method="post" if method == "post" else "get",
    )


async def test_pages_until_limit_when_the_server_cuts_pages_short(replay: Replay) -> None:
    states: list[TargetState] = []
    async with SRUConnector(target(replay.url())) as connector:
        result = await connector.search("dc.title=computer", 5, states.append)
    assert result.hits == 5
    assert [r.position for r in result.records] == [1, 2, 3, 4, 5]
    assert {(r.target_id, r.syntax) for r in result.records} == {("lib2", "marcxml")}
    assert result.diagnostics == ()
    assert [(p["startRecord"], p["maximumRecords"]) for p in replay.requests] == [
        ("1", "5"),
        ("3", "3"),
        ("5", "1"),
    ]
    assert states[:2] == [TargetState.CONNECTING, TargetState.SEARCHING]
    assert states[2:] == [TargetState.PRESENTING, TargetState.PRESENTING]
    titles = [normalize(r).title for r in result.records]
    assert titles[0] == "How to program a computer"
    assert titles[4] == "A plan for community college computer development"


async def test_records_beyond_the_limit_are_dropped(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        result = await connector.search("dc.title=computer", 3)
    assert [r.position for r in result.records] == [1, 2, 3]
    assert len(replay.requests) == 2


async def test_limit_zero_asks_for_the_count_only(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        result = await connector.search("dc.title=computer", 0)
    assert (result.hits, result.records) == (5, ())
    assert replay.requests[0]["maximumRecords"] == "0"


async def test_sru_2_0_request_and_string_packing(replay: Replay) -> None:
    async with SRUConnector(target(replay.url(), version="2.0"), packing="string") as c:
        result = await c.search("dc.title=computer", 2)
    (sent,) = replay.requests
    assert sent["version"] == "2.0" and sent["queryType"] == "cql"
    assert sent["recordXMLEscaping"] == "string" and "operation" not in sent
    expected = parse_searchretrieve(capture("searchretrieve-1.2-xml.xml")).records
    assert [r.data for r in result.records] == [r.data for r in expected]


async def test_zero_hits_is_not_an_error(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        result = await connector.search("dc.title=nosuchwordxyz", 10)
    assert (result.hits, result.records, result.diagnostics) == (0, (), ())


async def test_fatal_diagnostic(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        with pytest.raises(TargetDiagnostic) as info:
            await connector.search("dc.nosuch=x", 10)
    assert info.value.diagnostic == Diagnostic("sru", 16, "Unsupported index", "")


async def test_http_404_is_a_target_error(replay: Replay) -> None:
    async with SRUConnector(target(replay.url("nosuchdb"))) as connector:
        with pytest.raises(TargetError, match=r"^HTTP 404 Not Found from http://127\.0\.0\.1"):
            await connector.search("dc.title=computer", 1)


async def test_non_xml_body_is_a_protocol_error(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        with pytest.raises(RemoteProtocolError, match="Service Temporarily Unavailable"):
            await connector.search("anything else", 1)


async def test_slow_search_times_out_in_the_search_phase(replay: Replay) -> None:
    timeouts = Timeouts(connect=1.0, search=SLOW, present=5.0)
    async with SRUConnector(target(replay.url(), timeouts=timeouts)) as connector:
        with pytest.raises(TargetTimeout) as info:
            await connector.search("slow", 1)
    assert (info.value.phase, info.value.seconds) == ("search", SLOW)


async def test_slow_follow_up_page_keeps_the_records_already_fetched(replay: Replay) -> None:
    timeouts = Timeouts(connect=1.0, search=5.0, present=SLOW)
    async with SRUConnector(target(replay.url(), timeouts=timeouts)) as connector:
        result = await connector.search("slow pages", 4)
    first = parse_searchretrieve(capture("page-1.2-start1.xml"))
    assert result.hits == first.number_of_records == 5
    assert [r.data for r in result.records] == [r.data for r in first.records]
    (note,) = result.diagnostics
    assert (note.diagset, note.code) == ("sru", 1)
    assert note.addinfo == f"records 3-4 not fetched: {TargetTimeout('present', SLOW)}"


async def test_connection_refused() -> None:
    with socket.socket() as s:  # a port that was free a moment ago, nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with SRUConnector(target(f"http://127.0.0.1:{port}/lib2")) as connector:
        with pytest.raises(TargetUnreachable, match=r"^connection refused$"):
            await connector.search("dc.title=computer", 1)


async def test_bad_url_is_a_target_error() -> None:
    async with SRUConnector(target("ftp://127.0.0.1/lib2")) as connector:
        with pytest.raises(TargetError, match="invalid SRU URL"):
            await connector.search("x", 1)


async def test_what_sru_cannot_send_is_that_targets_error() -> None:
    query = RPNQuery(AttributesPlusTerm(((1, 4),), "computer"))
    async with SRUConnector(target("http://127.0.0.1:1/lib2")) as connector:
        with pytest.raises(TargetError, match="CQL string"):
            await connector.search(query, 1)
    async with SRUConnector(target("http://127.0.0.1:1/lib2", version="1.0")) as connector:
        with pytest.raises(TargetError, match=r"SRU version '1\.0' not supported"):
            await connector.search("dc.title=computer", 1)
        with pytest.raises(TargetError, match=r"SRU version '1\.0' not supported"):
            await connector.ping()


async def test_ping_does_explain(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        summary = await connector.ping()
    assert summary == f"Zebra lab library lib2 (marc21) ({replay.url()}): SRU 1.2, 13 indexes"
    assert replay.requests == [{"operation": "explain", "version": "1.2"}]


async def test_one_session_reused_and_closed(replay: Replay) -> None:
    connector = SRUConnector(target(replay.url()))
    await connector.search("dc.title=computer", 5)
    session = connector._session
    assert session is not None and not session.closed
    await connector.ping()
    assert connector._session is session
    await connector.close()
    assert session.closed and connector._session is None


async def test_post_sends_the_same_parameters_in_a_form_body(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        by_get = await connector.search("dc.title=computer", 5)
    sent_by_get = list(replay.requests)
    replay.requests.clear()
    async with SRUConnector(target(replay.url(), method="post")) as connector:
        by_post = await connector.search("dc.title=computer", 5)
    assert replay.methods == ["GET"] * 3 + ["POST"] * 3
    assert replay.requests == sent_by_get
    assert by_post == by_get and len(by_post.records) == 5


async def test_a_garbage_follow_up_page_keeps_the_first_page(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        result = await connector.search("garbage pages", 5)
    assert result.hits == 5 and [r.position for r in result.records] == [1, 2]
    (note,) = result.diagnostics
    assert note.addinfo.startswith("records 3-5 not fetched: SRU response is not XML")


async def test_a_diagnostic_on_a_follow_up_page_keeps_the_first_page(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        result = await connector.search("diagnostic pages", 3)
    assert [r.position for r in result.records] == [1, 2]
    (note,) = result.diagnostics
    assert note.addinfo == "record 3 not fetched: sru 61 First record position out of range"


async def test_http_error_with_an_sru_diagnostic_body_is_that_diagnostic(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        with pytest.raises(TargetDiagnostic) as info:
            await connector.search("http 400 with a diagnostic", 1)
        with pytest.raises(TargetError, match=r"^HTTP 500 Internal Server Error from "):
            await connector.search("http 500", 1)
    assert info.value.diagnostic == Diagnostic("sru", 10, "Query syntax error", "")


async def test_scan(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        terms = await connector.scan("dc.title", "computer", 3)
        with pytest.raises(TargetDiagnostic) as info:
            await connector.scan("dc.nosuch", "x")
    assert [(t.term, t.count) for t in terms] == [("computer", 5), ("concert", 2), ("Concertos", 1)]
    assert replay.requests[0] == {
        "operation": "scan",
        "version": "1.2",
        "scanClause": "dc.title=computer",
        "responsePosition": "1",
        "maximumTerms": "3",
    }
    assert info.value.diagnostic is not None and info.value.diagnostic.code == 16


async def test_explain_is_fetched_once_and_shared_by_connectors(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        first = await connector.explain()
    async with SRUConnector(target(replay.url())) as connector:
        again = await connector.explain()
        assert len(replay.requests) == 1 and again is first
        fresh = await connector.explain(refresh=True)
        await connector.ping()
    assert len(replay.requests) == 3 and fresh == first
    assert first.title == "Zebra lab library lib2 (marc21)" and "dc.title" in first.indexes
    async with SRUConnector(target(replay.url(), version="2.0")) as connector:
        assert (await connector.explain()).version == "2.0"  # another version, another record
    assert replay.requests[-1] == {"version": "2.0"}


# -- real zebrasrv libraries ------------------------------------------------------------------


@pytest.mark.servers
@pytest.mark.parametrize(
    ("version", "packing", "method"),
    [
        ("1.1", "xml", "get"),
        ("1.2", "xml", "get"),
        ("1.2", "string", "post"),
        ("2.0", "string", "get"),
        ("2.0", "xml", "post"),
    ],
)
async def test_live_all_records_of_a_library(
    zebra_libraries: Federation, version: str, packing: str, method: str
) -> None:
    library = zebra_libraries.library("lib1")
    held = zebra_libraries.manifest.held_by("lib1")
    assert len(held) == library.record_count
    lib = target(library.sru_url, version, method=method)
    async with SRUConnector(lib, packing=packing, page_size=7) as connector:
        result = await connector.search("cql.allRecords=1", library.record_count)
        summary = await connector.ping()
    assert result.hits == library.record_count
    assert [r.position for r in result.records] == list(range(1, library.record_count + 1))
    titles = [normalize(r).title for r in result.records]
    for entry in held:
        # the manifest keeps LC's decomposed accents; normalize() gives NFC
        assert any(t.startswith(unicodedata.normalize("NFC", entry.title)) for t in titles)
    assert f"({library.sru_url}): SRU {version}, " in summary


@pytest.mark.servers
async def test_live_isbn_search_and_diagnostic(zebra_libraries: Federation) -> None:
    library = zebra_libraries.library("lib2")
    entry = next(e for e in zebra_libraries.manifest.held_by("lib2") if e.isbns)
    raw_isbn = entry.isbns[0]
    lib = Target("lib2", "lib2", "sru", url=library.sru_url)
    async with SRUConnector(lib) as connector:
        result = await connector.search(f"bath.isbn={raw_isbn}", 5)
        with pytest.raises(TargetDiagnostic) as info:
            await connector.search("dc.nosuch=x", 5)
    assert result.hits >= 1
    records = [normalize(r) for r in result.records]
    wanted = stdnum_isbn.to_isbn13(stdnum_isbn.compact(raw_isbn))
    assert all(wanted in r.isbns for r in records)
    assert any(r.title.startswith(unicodedata.normalize("NFC", entry.title)) for r in records)
    assert info.value.diagnostic == Diagnostic("sru", 16, "Unsupported index", "")


@pytest.mark.servers
async def test_live_scan_counts_agree_with_searches(zebra_libraries: Federation) -> None:
    library = zebra_libraries.library("lib3")
    async with SRUConnector(target(library.sru_url)) as connector:
        terms = await connector.scan("dc.title", "computer", 4)
        assert terms[0].term.lower() == "computer"
        for term in terms:
            result = await connector.search(f'dc.title="{term.term}"', 0)
            assert result.hits == term.count, term
        with pytest.raises(TargetDiagnostic) as info:
            await connector.scan("dc.nosuch", "x")
    assert info.value.diagnostic is not None and info.value.diagnostic.code == 16


@pytest.mark.servers
@pytest.mark.parametrize("version", ["1.1", "1.2", "2.0"])
async def test_live_explain(zebra_libraries: Federation, version: str) -> None:
    library = zebra_libraries.library("lib2")
    async with SRUConnector(target(library.sru_url, version)) as connector:
        explain = await connector.explain(refresh=True)
    assert (explain.host, explain.port, explain.database) == ("127.0.0.1", library.port, "lib2")
    assert {"dc.title", "dc.creator", "bath.isbn", "rec.id"} <= set(explain.indexes)
    assert "marcxml" in explain.schemas
    assert explain.setting("setting", "maximumRecords") is not None


async def test_fetch_asks_from_the_start_record(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        first = await connector.search("dc.title=computer", 2)
        assert first.result_set is not None and first.result_set.hits == 5
        replay.requests.clear()
        states: list[TargetState] = []
        more = await connector.fetch(first.result_set, 3, 3, states.append)
    assert [r.position for r in more.records] == [3, 4, 5]
    assert [(p["startRecord"], p["maximumRecords"]) for p in replay.requests] == [
        ("3", "3"),
        ("5", "1"),
    ]
    assert states == [TargetState.CONNECTING, TargetState.PRESENTING, TargetState.PRESENTING]
    titles = [normalize(r).title for r in more.records]
    assert titles[2] == "A plan for community college computer development"


async def test_a_fetch_whose_first_page_fails_raises(replay: Replay) -> None:
    async with SRUConnector(target(replay.url())) as connector:
        first = await connector.search("diagnostic pages", 1)
        assert first.result_set is not None
        with pytest.raises(TargetDiagnostic) as info:
            await connector.fetch(first.result_set, 3, 2)
    assert (info.value.diagnostic.diagset, info.value.diagnostic.code) == ("sru", 61)
