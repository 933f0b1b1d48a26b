"""What one Z39.50 response of 100 MARC records costs to frame and decode, fast path vs general.

Starts a zebrasrv (``demo.zebra``) holding Debian's sample corpus copied twice (138 records),
captures a piggy-backed SearchResponse and a PresentResponse of 100 USMARC records each as
they arrived (the reads; zebrasrv writes indefinite lengths), stops the server, then times,
best of ``--rounds``:

  decode    ``decode_apdu(pdu)`` (records read straight from the bytes) against
            ``decode_apdu(pdu, fast=False)`` (the whole BER tree, ``NamePlusRecord.from_ber``
            per record: the path every response took before)
  receive   a ``ClientConnection`` fed the captured reads, and the same bytes in 16 KiB
            reads, against the reference: ``frame`` from byte 0 after every read, then the
            general decode (what ``next_event`` did before)

Prints microseconds per response and the ratio reference / now (goal: several times).

    .venv/bin/python bench/z3950_decode.py --rounds 7
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.zebra import corpus_records, start_zebra
from protocols import ber
from protocols.z3950.apdu import (
    APDU,
    InitRequest,
    PresentRequest,
    PresentResponse,
    SearchRequest,
    SearchResponse,
    decode_apdu,
)
from protocols.z3950.connection import NEED_DATA, ClientConnection, ClientState
from protocols.z3950.oids import syntax_oid
from protocols.z3950.rpn import parse_pqf

RECORDS = 100
USMARC = syntax_oid("usmarc")


async def capture(port: int, database: str) -> dict[str, tuple[bytes, list[bytes]]]:
    """name -> (the response's bytes, the reads it arrived in)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connection = ClientConnection()
    out: dict[str, tuple[bytes, list[bytes]]] = {}

    async def exchange(name: str, request: APDU) -> None:
        writer.write(connection.send(request))
        await writer.drain()
        reads: list[bytes] = []
        while connection.next_event() is NEED_DATA:
            reads.append(await reader.read(256 * 1024))
            connection.receive_data(reads[-1])
        out[name] = (b"".join(reads), reads)

    query = parse_pqf('@attr 1=_ALLRECORDS @attr 2=103 ""')
    await exchange("init", InitRequest())
    await exchange(
        "search",
        SearchRequest(
            query,
            (database,),
            small_set_upper_bound=1,
            large_set_lower_bound=10**9,
            medium_set_present_number=RECORDS,
            preferred_record_syntax=USMARC,
        ),
    )
    await exchange("present", PresentRequest("default", 1, RECORDS, preferred_record_syntax=USMARC))
    writer.close()
    return out


def best(run: Callable[[], object], rounds: int, seconds: float = 0.3) -> float:
    """Best time of one ``run()`` in microseconds over ``rounds`` rounds of ~``seconds`` each."""
    started = time.perf_counter()
    run()
    n = max(1, int(seconds / max(time.perf_counter() - started, 1e-6)))
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            run()
        times.append((time.perf_counter() - started) / n)
    return min(times) * 1e6


def connection_after_request(init: bytes, state: ClientState) -> ClientConnection:
    connection = ClientConnection()
    connection.send(InitRequest())
    connection.receive_data(init)
    connection.next_event()
    if state == ClientState.SEARCH_SENT:
        connection.send(SearchRequest(parse_pqf("x")))
    else:
        connection.send(PresentRequest("default", 1, RECORDS))
    return connection


def receive_now(init: bytes, state: ClientState, reads: list[bytes]) -> Callable[[], object]:
    def run() -> object:
        connection = connection_after_request(init, state)
        for data in reads:
            connection.receive_data(data)
            event = connection.next_event()
        assert event is not NEED_DATA
        return event

    return run


def receive_reference(reads: list[bytes]) -> Callable[[], object]:
    def run() -> object:
        buffer = bytearray()
        for data in reads:
            buffer += data
            length = ber.frame(buffer)
        assert length is not None
        return decode_apdu(bytes(buffer[:length]), fast=False)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="best of N")
    args = parser.parse_args()
    missing = [p for p in ("zebrasrv", "zebraidx") if shutil.which(p) is None]
    if missing:
        sys.exit(f"needs {', '.join(missing)} (Debian package 'idzebra-2.0')")
    with tempfile.TemporaryDirectory() as tmp:
        zebra = start_zebra(Path(tmp) / "zebra", "bench", corpus_records() * 2)
        try:
            captured = asyncio.run(capture(zebra.port, "bench"))
        finally:
            zebra.stop()
    init = captured["init"][0]
    print(f"zebrasrv, {RECORDS} USMARC records per response, best of {args.rounds}")
    for name, kind, state in (
        ("present", PresentResponse, ClientState.PRESENT_SENT),
        ("search", SearchResponse, ClientState.SEARCH_SENT),
    ):
        pdu, reads = captured[name]
        decoded = decode_apdu(pdu)
        assert isinstance(decoded, kind) and len(decoded.name_plus_records) == RECORDS
        assert decoded == decode_apdu(pdu, fast=False)
        print(
            f"{kind.__name__}: {len(pdu)} bytes, arrived in {len(reads)} read(s)"
            f" of {', '.join(str(len(r)) for r in reads)} bytes"
        )
        general = best(partial(decode_apdu, pdu, fast=False), args.rounds)
        fast = best(partial(decode_apdu, pdu), args.rounds)
        print(
            f"  decode            general {general:7.0f} us   fast {fast:7.0f} us"
            f"   ratio {general / fast:4.1f}x"
        )
        pieces = [pdu[i : i + 16384] for i in range(0, len(pdu), 16384)]
        for label, chunks in (("as it arrived", reads), ("16 KiB reads", pieces)):
            reference = best(receive_reference(chunks), args.rounds)
            now = best(receive_now(init, state, chunks), args.rounds)
            print(
                f"  receive {label:<13} reference {reference:7.0f} us   now {now:7.0f} us"
                f"   ratio {reference / now:4.1f}x"
            )


if __name__ == "__main__":
    main()
