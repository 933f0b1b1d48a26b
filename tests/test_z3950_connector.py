"""Z3950Connector against the real yaz-ztest (``ztest`` fixture) and against fake targets
started in the test (silent, garbage, hanging up, refusing Init)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pymarc
import pytest
from lxml import etree

from connectors.z3950 import Z3950Connector
from core import (
    RemoteProtocolError,
    TargetDiagnostic,
    TargetError,
    TargetState,
    TargetTimeout,
    TargetUnreachable,
)
from core.target import Target, Timeouts
from demo.servers import ServerProcess, free_port
from protocols import ber
from protocols.z3950.apdu import (
    APDU,
    Close,
    CloseReason,
    InitRequest,
    InitResponse,
    PresentResponse,
    SearchResponse,
    decode_apdu,
    encode_apdu,
    init_diagnostic,
)
from protocols.z3950.rpn import AttributesPlusTerm, RPNQuery

FAST = Timeouts(connect=2.0, search=5.0, present=5.0)
COMPUTER = RPNQuery(AttributesPlusTerm(((1, 4),), "computer"))
CAPTURED = Path(__file__).parent / "data" / "z3950" / "ztest-server.bin"


def target(port: int, **changes: object) -> Target:
    fields: dict[str, object] = {
        "id": "ztest",
        "name": "yaz-ztest",
        "protocol": "z3950",
        "host": "127.0.0.1",
        "port": port,
        "timeouts": FAST,
    }
    fields.update(changes)
    return Target(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- live yaz-ztest


def captured_usmarc() -> list[bytes]:
    """USMARC records 1, 2, 3 from tests/data/z3950 (yaz-client's ``show 1``, ``show 2+2``)."""
    stream, records = CAPTURED.read_bytes(), []
    while stream:
        length = ber.frame(stream)
        assert length is not None
        apdu = decode_apdu(stream[:length])
        stream = stream[length:]
        if isinstance(apdu, PresentResponse):
            records += [
                e.record.data for e in apdu.name_plus_records if e.record and e.syntax == "usmarc"
            ]
    return records[:3]


def yaz_client_hits(port: int, query: str) -> int:
    """Hit count yaz-client reports for ``query`` on the same server."""
    commands = f"open tcp:127.0.0.1:{port}/Default\nfind {query}\nquit\n"
    out = subprocess.run(
        ["yaz-client"], input=commands, capture_output=True, text=True, timeout=10, check=True
    ).stdout
    found = re.search(r"Number of hits: (\d+)", out)
    assert found, out
    return int(found.group(1))


@pytest.mark.servers
@pytest.mark.skipif(shutil.which("yaz-client") is None, reason="yaz-client not installed")
async def test_hit_count_agrees_with_yaz_client(ztest: ServerProcess) -> None:
    async with Z3950Connector(target(ztest.port)) as connector:
        result = await connector.search(COMPUTER, limit=0)
    assert result.hits == yaz_client_hits(ztest.port, "@attr 1=4 computer")
    assert result.records == ()


@pytest.mark.servers
async def test_usmarc_records_in_batches(ztest: ServerProcess) -> None:
    states: list[TargetState] = []
    connector = Z3950Connector(target(ztest.port), batch_size=2)
    result = await connector.search("@attr 1=4 computer", limit=5, progress=states.append)
    assert states == [TargetState.CONNECTING, TargetState.SEARCHING, TargetState.PRESENTING]
    assert result.hits >= 5  # hash("computer") % 24 on ztest; checked against yaz-client above
    assert [r.position for r in result.records] == [1, 2, 3, 4, 5]
    assert {(r.target_id, r.syntax) for r in result.records} == {("ztest", "usmarc")}
    marc = [pymarc.Record(data=r.data) for r in result.records]
    assert marc[0]["100"]["a"] == "Jack Collins"
    assert marc[0]["245"]["a"] == "How to program a computer"
    # records 1-3 are the very bytes yaz-ztest sent yaz-client in the captured exchange
    assert [r.data for r in result.records[:3]] == captured_usmarc()
    assert result.diagnostics == ()


@pytest.mark.servers
@pytest.mark.parametrize("count", [0, 1, 42])
async def test_a_numeric_first_term_sets_the_hit_count(ztest: ServerProcess, count: int) -> None:
    result = await Z3950Connector(target(ztest.port)).search(f"@attr 1=4 {count}", limit=0)
    assert result.hits == count


@pytest.mark.servers
async def test_limit_beyond_the_hits(ztest: ServerProcess) -> None:
    states: list[TargetState] = []
    connector = Z3950Connector(target(ztest.port, syntax="sutrs"))
    result = await connector.search("@and 3 x", limit=10, progress=states.append)
    assert result.hits == 3
    assert [r.data.decode() for r in result.records] == [
        f"This is dummy SUTRS record number {n}\n" for n in (1, 2, 3)
    ]
    assert [r.syntax for r in result.records] == ["sutrs"] * 3
    nothing = await connector.search("0", limit=10, progress=states.append)
    assert (nothing.hits, nothing.records) == (0, ())
    assert TargetState.PRESENTING not in states[3:]


@pytest.mark.servers
async def test_xml_records(ztest: ServerProcess) -> None:
    result = await Z3950Connector(target(ztest.port, syntax="xml")).search("2", limit=2)
    assert [r.syntax for r in result.records] == ["xml", "xml"]
    root = etree.fromstring(result.records[0].data, etree.XMLParser(resolve_entities=False))
    marc = {"m": "http://www.loc.gov/MARC21/slim"}
    assert root.tag == "{http://www.loc.gov/MARC21/slim}record"
    title = root.xpath("m:datafield[@tag='245']/m:subfield[@code='a']/text()", namespaces=marc)
    assert title == ["How to program a computer"]


@pytest.mark.servers
async def test_unknown_database_is_diagnostic_109(ztest: ServerProcess) -> None:
    with pytest.raises(TargetDiagnostic) as info:
        await Z3950Connector(target(ztest.port, database="NoSuchBase")).search("1", limit=1)
    diagnostic = info.value.diagnostic
    assert diagnostic is not None
    assert (diagnostic.diagset, diagnostic.code, diagnostic.addinfo) == (
        "bib-1",
        109,
        "NoSuchBase",
    )
    assert "Database unavailable" in str(info.value)


@pytest.mark.servers
async def test_ping(ztest: ServerProcess) -> None:
    summary = await Z3950Connector(target(ztest.port)).ping()
    assert re.fullmatch(r"Z39\.50 v3 — GFS/YAZ \d+\.\d+\.\d+.*", summary), summary


@pytest.mark.servers
async def test_slow_search_times_out(ztest: ServerProcess) -> None:
    # ztest's database SlowN sleeps N seconds in every search
    slow = target(ztest.port, database="Slow1", timeouts=Timeouts(2.0, 0.3, 2.0))
    with pytest.raises(TargetTimeout) as info:
        await Z3950Connector(slow).search("5", limit=1)
    assert (info.value.phase, info.value.seconds) == ("search", 0.3)


@pytest.mark.servers
async def test_slow_present_times_out(ztest: ServerProcess) -> None:
    # without piggy-backing: the first record would otherwise come in the search response
    slow = target(
        ztest.port,
        database="Default?present-delay=1",
        timeouts=Timeouts(2.0, 2.0, 0.3),
        piggyback=False,
    )
    states: list[TargetState] = []
    with pytest.raises(TargetTimeout) as info:
        await Z3950Connector(slow).search("5", limit=1, progress=states.append)
    assert (info.value.phase, info.value.seconds) == ("present", 0.3)
    assert states[-1] == TargetState.PRESENTING


async def test_unknown_syntax_is_a_target_error() -> None:
    with pytest.raises(TargetError, match="unknown record syntax 'grs-9'"):
        await Z3950Connector(target(free_port(), syntax="grs-9")).search("1", limit=1)


# --------------------------------------------------------------------------- fake targets


async def test_refused_port() -> None:
    with pytest.raises(TargetUnreachable, match="connection refused"):
        await Z3950Connector(target(free_port())).search("1", limit=1)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def fake_target(handler: Handler) -> AsyncIterator[int]:
    """A target on 127.0.0.1 running ``handler`` per connection; every socket closed on exit."""
    tasks: set[asyncio.Task[None]] = set()

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except ConnectionError:
            pass  # the client dropped us: that is what several tests provoke
        finally:
            writer.close()

    server = await asyncio.start_server(run, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
        async with asyncio.timeout(5):
            await asyncio.gather(*tasks)


async def read_apdu(reader: asyncio.StreamReader) -> APDU:
    buffer = b""
    while (length := ber.frame(buffer)) is None:
        data = await reader.read(4096)
        assert data, "client hung up"
        buffer += data
    return decode_apdu(buffer[:length])


async def test_silent_target_times_out_in_init() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept, read, never answer
        writer.close()

    async with fake_target(silent) as port:
        quick = target(port, timeouts=Timeouts(0.3, 1.0, 1.0))
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TargetTimeout) as info:
            await Z3950Connector(quick).search("1", limit=1)
        assert (info.value.phase, info.value.seconds) == ("init", 0.3)
        assert 0.25 < loop.time() - started < 1.5


async def test_cancelling_a_search_drops_the_connection_at_once() -> None:
    hung_up = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_apdu(reader)
        writer.write(encode_apdu(InitResponse(True)))  # then never answer the search
        await reader.read()
        hung_up.set()

    async with fake_target(silent) as port:
        task = asyncio.create_task(Z3950Connector(target(port)).search("1", limit=1))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(1):
            await hung_up.wait()


@pytest.mark.parametrize(
    ("garbage", "message"),
    [
        (b"HTTP/1.0 400 Bad Request\r\n\r\n", "during init: Z39.50: .* not an APDU: b'HTTP"),
        (bytes.fromhex("b5ff0000"), "during init: BER: reserved length octet"),
        (ber.constructed(ber.Tag.context(44, True)), "during init: sortResponse is not supported"),
    ],
)
async def test_garbage_is_a_remote_protocol_error(garbage: bytes, message: str) -> None:
    async def send_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(garbage)
        await writer.drain()
        await reader.read()

    async with fake_target(send_garbage) as port:
        with pytest.raises(RemoteProtocolError, match=message) as info:
            await Z3950Connector(target(port)).search("1", limit=1)
    assert isinstance(info.value.__cause__, RemoteProtocolError)


async def test_hang_up_after_init() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_apdu(reader)
        writer.write(encode_apdu(InitResponse(True)))
        await read_apdu(reader)  # the SearchRequest
        writer.close()

    async with fake_target(hang_up) as port:
        with pytest.raises(RemoteProtocolError, match="closed the connection during search"):
            await Z3950Connector(target(port)).search("1", limit=1)


async def test_hang_up_inside_a_pdu() -> None:
    async def half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_apdu(reader)
        writer.write(encode_apdu(InitResponse(True))[:-4])
        await writer.drain()
        writer.close()

    async with fake_target(half) as port:
        with pytest.raises(RemoteProtocolError, match="inside a PDU"):
            await Z3950Connector(target(port)).search("1", limit=1)


async def test_target_sends_close_instead_of_an_answer() -> None:
    answers: list[APDU] = []

    async def shut_down(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_apdu(reader)
        writer.write(encode_apdu(InitResponse(True)))
        await read_apdu(reader)
        writer.write(encode_apdu(Close(CloseReason.SYSTEM_PROBLEM, "going down")))
        await writer.drain()
        answers.append(await read_apdu(reader))  # the client's Close in answer
        assert await reader.read() == b""  # and then it hung up

    async with fake_target(shut_down) as port:
        with pytest.raises(TargetError, match="during search: system problem: going down"):
            await Z3950Connector(target(port)).search("1", limit=1)
    assert answers == [Close(CloseReason.FINISHED)]


async def test_out_of_order_answer() -> None:
    async def confused(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_apdu(reader)
        writer.write(encode_apdu(SearchResponse(3)))  # answers Init with a SearchResponse
        await writer.drain()
        await reader.read()

    async with fake_target(confused) as port:
        with pytest.raises(RemoteProtocolError, match="unexpected SearchResponse"):
            await Z3950Connector(target(port)).search("1", limit=1)


@pytest.mark.parametrize("with_reason", [True, False])
async def test_refused_init(with_reason: bool) -> None:
    seen: list[APDU] = []

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_apdu(reader))
        reason = init_diagnostic(1011, "no such user") if with_reason else None
        answer = InitResponse(
            False,
            implementation_name="Gatekeeper",
            implementation_version="1.0",
            user_information=reason,
        )
        writer.write(encode_apdu(answer))
        await writer.drain()
        await reader.read()

    async with fake_target(refuse) as port:
        if with_reason:
            with pytest.raises(TargetDiagnostic) as info:
                await Z3950Connector(target(port)).ping()
            assert info.value.diagnostic is not None
            assert (info.value.diagnostic.code, info.value.diagnostic.addinfo) == (
                1011,
                "no such user",
            )
        else:
            with pytest.raises(TargetError, match=r"Init refused by .* \(Gatekeeper 1\.0\)"):
                await Z3950Connector(target(port)).ping()
    (request,) = seen
    assert isinstance(request, InitRequest)
    assert request.implementation_name == "Svod"
    assert {"search", "present"} <= request.options
