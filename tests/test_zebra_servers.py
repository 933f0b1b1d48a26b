"""demo.servers helpers for fault tests, and one Zebra library started on its own."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pymarc
import pytest
from lxml import etree

import demo.zebra as zebra
from demo.servers import free_port, refusing_port, start_silent_server, start_ztest, stop_all
from demo.zebra import MissingPackageError, ZebraLibrary, ZebraSetupError, start_zebra

SRW = "{http://www.loc.gov/zing/srw/}"
needs_zebra = pytest.mark.skipif(
    not all(shutil.which(p) for p in ("zebraidx", "zebrasrv", "yaz-client")),
    reason="zebraidx/zebrasrv/yaz-client not installed (Debian packages idzebra-2.0, yaz)",
)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=1)


def test_silent_server_accepts_and_never_answers() -> None:
    with start_silent_server() as silent:
        with _connect(silent.port) as client:
            client.sendall(b"\x30\x03\x02\x01\x00")  # some BER; it is read and dropped
            client.settimeout(0.2)
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                client.recv(1)
            assert time.monotonic() - started >= 0.15
        deadline = time.monotonic() + 2
        while silent.accepted < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert silent.accepted == 1
        port = silent.port
    with pytest.raises(ConnectionRefusedError):
        _connect(port).close()


def test_silent_server_stop_closes_open_connections() -> None:
    silent = start_silent_server()
    client = _connect(silent.port)
    time.sleep(0.05)
    silent.stop()
    client.settimeout(1)
    try:
        assert client.recv(1) == b""  # orderly close
    except ConnectionResetError:
        pass
    finally:
        client.close()
    silent.stop()  # a second stop is harmless


def test_refusing_port_refuses() -> None:
    with refusing_port() as port, pytest.raises(ConnectionRefusedError):
        _connect(port).close()


@pytest.mark.servers
def test_stop_all_stops_every_server(tmp_path: Path) -> None:
    if shutil.which("yaz-ztest") is None:
        pytest.skip("yaz-ztest not installed (Debian package 'yaz')")
    servers = [start_ztest(tmp_path / "a"), start_ztest(tmp_path / "b")]
    stop_all(servers)
    for server in servers:
        assert server.process.poll() is not None
        with pytest.raises(ConnectionRefusedError):
            _connect(server.port).close()


# ---------------------------------------------------------------- one Zebra library


def _record(control: str, author: str, title: str) -> bytes:
    record = pymarc.Record(leader="00000nam a2200000 i 4500", force_utf8=True)
    record.add_field(  # type: ignore[no-untyped-call]
        pymarc.Field(tag="001", data=control),
        pymarc.Field(
            tag="100",
            indicators=pymarc.Indicators("1", " "),
            subfields=[pymarc.Subfield("a", author)],
        ),
        pymarc.Field(
            tag="245",
            indicators=pymarc.Indicators("1", "0"),
            subfields=[pymarc.Subfield("a", title)],
        ),
    )
    data: bytes = record.as_marc()
    return data


CYRILLIC = [
    _record("CYR1", "Толстой, Лев Николаевич", "Война и мир"),
    _record("CYR2", "Достоевский, Фёдор Михайлович", "Преступление и наказание"),
    _record("CYR3", "Булгаков, Михаил", "Мастер и Маргарита"),
]


def _sru_hits(lib: ZebraLibrary, cql: str) -> int:
    query = urllib.parse.urlencode(
        {"version": "1.2", "operation": "searchRetrieve", "query": cql, "maximumRecords": "0"}
    )
    with urllib.request.urlopen(f"{lib.sru_url}?{query}", timeout=5) as response:
        root = etree.fromstring(response.read(), etree.XMLParser(resolve_entities=False))
    assert root.find(f"{SRW}diagnostics") is None
    return int(root.findtext(f"{SRW}numberOfRecords") or "-1")


def _z_hits(lib: ZebraLibrary, pqf: str) -> str:
    script = f"open tcp:{lib.zurl}\nfind {pqf}\nquit\n".encode()
    done = subprocess.run(
        ["yaz-client"], input=script, capture_output=True, timeout=10, check=False
    )
    return done.stdout.decode("utf-8", "replace")


@needs_zebra
@pytest.mark.servers
def test_cyrillic_library_folds_case_and_stops_by_pid(tmp_path: Path) -> None:
    try:
        lib = start_zebra(tmp_path / "ru", "ru", CYRILLIC)
    except MissingPackageError as exc:
        pytest.skip(str(exc))
    try:
        assert (lib.name, lib.database, lib.record_count) == ("ru", "ru", 3)
        for term in ("война", "ВОЙНА", "Война"):
            assert _sru_hits(lib, f"dc.title={term}") == 1, term
        # ё folds to е, like every diacritic
        assert _sru_hits(lib, "dc.creator=федор") == 1
        assert _sru_hits(lib, 'dc.title=="мастер и маргарита"') == 1
        assert _sru_hits(lib, "dc.title=и") == 3
        assert "Number of hits: 1," in _z_hits(lib, "@attr 1=1003 ТОЛСТОЙ")
        assert "Number of hits: 0," in _z_hits(lib, "@attr 1=1003 пушкин")
    finally:
        lib.stop()
    assert lib.process.poll() is not None
    with pytest.raises(ConnectionRefusedError):
        _connect(lib.port).close()


@needs_zebra
@pytest.mark.servers
def test_start_zebra_on_a_taken_port_fails_cleanly(tmp_path: Path) -> None:
    with start_silent_server() as squatter:
        started = time.monotonic()
        with pytest.raises(ZebraSetupError, match="could not listen"):
            start_zebra(tmp_path / "lib", "lib", CYRILLIC[:1], port=squatter.port)
        assert time.monotonic() - started < 5
    assert "Failed to bind" in (tmp_path / "lib" / "zebrasrv.log").read_text()


@needs_zebra
@pytest.mark.servers
def test_zebraidx_record_count_is_checked(tmp_path: Path) -> None:
    # a truncated record: zebraidx skips it and still exits 0
    broken = CYRILLIC[0][:-40]
    with pytest.raises(ZebraSetupError, match="indexed"):
        start_zebra(tmp_path / "lib", "lib", [CYRILLIC[1], broken])


@needs_zebra
@pytest.mark.servers
def test_start_zebra_moves_on_when_its_free_port_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_silent_server() as squatter:
        ports = iter([squatter.port, free_port()])
        monkeypatch.setattr(zebra, "free_port", lambda: next(ports))
        lib = start_zebra(tmp_path / "lib", "lib", CYRILLIC)
        try:
            assert lib.port != squatter.port
            assert _sru_hits(lib, "dc.title=война") == 1
        finally:
            lib.stop()
