"""A loopback Z39.50 proxy that breaks things on purpose, for fault tests (and recordings).

A test helper (tests/ is on the import path of the tests: ``from faultproxy import ...``).

It listens on 127.0.0.1, forwards every connection to a real server (zebrasrv, yaz-ztest)
and cuts both byte streams into PDUs with ``protocols.ber.frame``, so a fault can strike at
a given point of the protocol:

    ``Fault.NONE``              pass everything through (with ``record``: capture it)
    ``Fault.RESET_IN_PRESENT``  half of the first PresentResponse, then a TCP reset
    ``Fault.GARBAGE``           bytes that are not an APDU instead of the SearchResponse
    ``Fault.BROKEN_BER``        an APDU tag with broken BER inside instead of the SearchResponse
    ``Fault.OVERSIZED``         a SearchResponse that announces 1 GiB, then keeps sending
    ``Fault.STALL_AFTER_INIT``  the Init exchange, then silence (requests are swallowed)
    ``Fault.DROP_REUSED``       after a connection's first search, the next request makes
                                the proxy hang up without answering (a connection that died
                                while pooled, noticed only when used)

``send_close()`` makes the proxy send a Close to every client, as a server that ends idle
associations does; ``client_tags`` lists the PDU tags each client sent, in order.

It runs in the caller's event loop:

    >>> async with FaultProxy(zebra.port, Fault.STALL_AFTER_INIT) as proxy:  # doctest: +SKIP
    ...     target = replace(target, port=proxy.port)
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Coroutine
from contextlib import suppress
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from protocols import ber
from protocols.z3950.apdu import Close, encode_apdu

__all__ = ["GIB", "Fault", "FaultProxy", "pdu_tag"]

GIB = 1024**3
_READ = 64 * 1024
# PDU tags (Z39.50 PDU CHOICE): what the faults look for
_SEARCH_REQUEST = 22
_SEARCH_RESPONSE = 23
_PRESENT_RESPONSE = 25
_GARBAGE = b"\x00\x17garbage, not BER at all \xff\xfe\x00" * 4
# searchResponse [23] with a length of 5 whose contents claim 0x7F bytes for resultCount
_BROKEN_BER = bytes.fromhex("b705977f00") + b"\x00" * 5
# searchResponse [23] IMPLICIT, constructed, 4-octet length of 1 GiB
_HUGE_HEADER = bytes([0xB7, 0x84]) + GIB.to_bytes(4, "big")


class Fault(StrEnum):
    """What the proxy does to the conversation."""

    NONE = "none"
    RESET_IN_PRESENT = "reset in present"
    GARBAGE = "garbage"
    BROKEN_BER = "broken BER"
    OVERSIZED = "oversized PDU"
    STALL_AFTER_INIT = "stall after Init"
    DROP_REUSED = "drop reused connection"


def pdu_tag(pdu: bytes) -> int | None:
    """The PDU's CHOICE tag number (20 InitRequest, 23 SearchResponse, ...), None if unreadable."""
    try:
        return ber.decode(pdu).tag.number
    except ber.BERError:
        return None


async def _quietly(work: Coroutine[None, None, None]) -> None:
    """Run one direction of a connection; a peer hanging up just ends it."""
    with suppress(OSError):
        await work


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST, not a FIN: what a crashed server or a middlebox does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """Proxy 127.0.0.1:``port`` -> ``upstream_host``:``upstream_port`` with one ``fault``.

    ``record`` (a directory) receives ``client.bin`` and ``server.bin``: every byte of each
    direction, as forwarded. ``connections`` counts accepted connections.
    """

    def __init__(
        self,
        upstream_port: int,
        fault: Fault = Fault.NONE,
        *,
        upstream_host: str = "127.0.0.1",
        record: Path | None = None,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.fault = fault
        self.record = record
        self.connections = 0
        self.client_tags: list[list[int | None]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._clients: list[asyncio.StreamWriter] = []

    async def start(self) -> FaultProxy:
        """Listen on a free port (``port``)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        if self.record is not None:
            self.record.mkdir(parents=True, exist_ok=True)
            for name in ("client.bin", "server.bin"):
                (self.record / name).write_bytes(b"")
        return self

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._server is not None:
            with suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._server.wait_closed()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def send_close(self, reason: int = 7, text: str = "idle too long") -> None:
        """Send every connected client a Close (default reason: lack of activity)."""
        pdu = encode_apdu(Close(reason, text))
        for writer in self._clients:
            if not writer.transport.is_closing():
                writer.write(pdu)
                with suppress(OSError):
                    await writer.drain()

    def _save(self, name: str, data: bytes) -> None:
        if self.record is not None:
            with (self.record / name).open("ab") as file:
                file.write(data)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(client_w)
        self._clients.append(client_w)
        tags: list[int | None] = []
        self.client_tags.append(tags)
        self.connections += 1
        server_w: asyncio.StreamWriter | None = None
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
            self._writers.add(server_w)
            init_done = asyncio.Event()
            up = asyncio.create_task(
                _quietly(self._client_to_server(client_r, server_w, init_done, tags))
            )
            down = asyncio.create_task(
                _quietly(self._server_to_client(server_r, client_w, init_done))
            )
            _done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            for other in pending:
                other.cancel()
            await asyncio.wait({up, down})
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for writer in (client_w, server_w):
                if writer is not None:
                    writer.transport.abort()
                    self._writers.discard(writer)
            self._tasks.discard(task)

    @staticmethod
    async def _read_pdu(reader: asyncio.StreamReader, buffer: bytearray) -> bytes | None:
        """The next PDU (or, for bytes that do not frame, whatever is buffered); None at EOF."""
        while True:
            try:
                length = ber.frame(buffer, max_size=2 * GIB)
            except ber.BERError:
                length = len(buffer) or None
            if length is not None:
                pdu = bytes(buffer[:length])
                del buffer[:length]
                return pdu
            data = await reader.read(_READ)
            if not data:
                return None
            buffer += data

    async def _client_to_server(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        init_done: asyncio.Event,
        tags: list[int | None],
    ) -> None:
        buffer = bytearray()
        first = True
        while (pdu := await self._read_pdu(reader, buffer)) is not None:
            tags.append(pdu_tag(pdu))
            if self.fault == Fault.STALL_AFTER_INIT and not first:
                await init_done.wait()
                continue  # swallowed: the server never hears of it
            if self.fault == Fault.DROP_REUSED and tags.count(_SEARCH_REQUEST) > 1:
                return  # hang up on the client without a word
            first = False
            self._save("client.bin", pdu)
            writer.write(pdu)
            await writer.drain()
        writer.close()

    async def _server_to_client(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        init_done: asyncio.Event,
    ) -> None:
        buffer = bytearray()
        while (pdu := await self._read_pdu(reader, buffer)) is not None:
            tag = pdu_tag(pdu)
            if tag == _SEARCH_RESPONSE and self.fault in (
                Fault.GARBAGE,
                Fault.BROKEN_BER,
                Fault.OVERSIZED,
            ):
                await self._bad_search_response(writer)
                return
            if tag == _PRESENT_RESPONSE and self.fault == Fault.RESET_IN_PRESENT:
                writer.write(pdu[: len(pdu) // 2])
                await writer.drain()
                await asyncio.sleep(0.05)  # let the half arrive before the reset
                _reset(writer)
                return
            self._save("server.bin", pdu)
            writer.write(pdu)
            await writer.drain()
            init_done.set()
        writer.close()

    async def _bad_search_response(self, writer: asyncio.StreamWriter) -> None:
        if self.fault == Fault.GARBAGE:
            writer.write(_GARBAGE)
        elif self.fault == Fault.BROKEN_BER:
            writer.write(_BROKEN_BER)
        else:
            writer.write(_HUGE_HEADER)
            # keep sending, as a runaway server would, until the client hangs up
            filler = b"\x00" * _READ
            for _ in range(GIB // _READ):
                writer.write(filler)
                await writer.drain()
        await writer.drain()
        await asyncio.sleep(3600)  # hold the connection open: the client must give up by itself
