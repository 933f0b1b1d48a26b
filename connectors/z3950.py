"""Z39.50 connector: asyncio streams around ``protocols.z3950.ClientConnection``.

One search is one association: connect, Init, Search, Present in batches, Close.

    >>> async def demo(target):                                   # doctest: +SKIP
    ...     async with Z3950Connector(target) as z:
    ...         result = await z.search(parse_pqf("@attr 1=4 computer"), limit=10)
    ...     return result.hits, [r.syntax for r in result.records]

Every failure becomes a ``core.TargetError``: ``TargetUnreachable`` (refused, reset, DNS),
``TargetTimeout`` with the phase (connect, init, search, present), ``RemoteProtocolError``
(bad BER, an APDU out of order, the stream cut short), ``TargetDiagnostic`` (the target
answered with a bib-1 diagnostic) or a plain ``TargetError`` (Init refused without a reason,
the target sent Close).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from importlib import metadata

from connectors.base import Connector, Progress, SearchResult, TargetQuery
from core import (
    Diagnostic,
    LocalProtocolError,
    RawRecord,
    RemoteProtocolError,
    TargetDiagnostic,
    TargetError,
    TargetState,
    TargetTimeout,
    TargetUnreachable,
)
from core.target import Target
from protocols.ber import DEFAULT_MAX_PDU_SIZE
from protocols.z3950.apdu import (
    APDU,
    Close,
    CloseReason,
    InitRequest,
    InitResponse,
    NamePlusRecord,
    PresentRequest,
    PresentResponse,
    SearchRequest,
    SearchResponse,
    diagnostic_of,
    record_data,
)
from protocols.z3950.connection import CONNECTION_CLOSED, NEED_DATA, ClientConnection, ClientState
from protocols.z3950.oids import syntax_oid
from protocols.z3950.rpn import RPNQuery, parse_pqf

__all__ = ["Z3950Connector"]

_READ_SIZE = 64 * 1024
# how long a polite Close may take before we just drop the connection
_CLOSE_TIMEOUT = 2.0
_RESULT_SET = "default"


def _version() -> str:
    try:
        return metadata.version("svod")
    except metadata.PackageNotFoundError:
        return "dev"


class _Association:
    """An open TCP connection with its Z39.50 state; exchanges one APDU at a time."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection: ClientConnection,
        address: str,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.connection = connection
        self.address = address

    async def exchange(self, apdu: APDU, phase: str) -> APDU:
        """Send ``apdu`` and wait for the target's next APDU."""
        try:
            self.writer.write(self.connection.send(apdu))
            await self.writer.drain()
            while (event := self.connection.next_event()) is NEED_DATA:
                self.connection.receive_data(await self.reader.read(_READ_SIZE))
        except RemoteProtocolError as exc:
            raise RemoteProtocolError(f"{self.address} during {phase}: {exc}") from exc
        except TimeoutError:
            raise  # the caller's phase timeout, not a socket error
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise TargetUnreachable(
                f"connection to {self.address} lost during {phase}: {reason}"
            ) from exc
        if event is CONNECTION_CLOSED:
            raise RemoteProtocolError(
                f"{self.address} closed the connection during {phase} without a Close"
            )
        return event

    async def close(self) -> None:
        """Close politely if the association is idle, then drop the connection."""
        if self.connection.state == ClientState.READY:
            with suppress(TargetError, TimeoutError):
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await self.exchange(Close(CloseReason.FINISHED), "close")
        if self.connection.state == ClientState.CLOSED:
            self.writer.close()
            with suppress(OSError, TimeoutError):
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await self.writer.wait_closed()
        else:
            # a request is still outstanding or the stream is broken: nothing to wait for
            self.abort()

    def abort(self) -> None:
        """Drop the connection at once."""
        self.writer.transport.abort()


@asynccontextmanager
async def _phase(name: str, seconds: float) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise TargetTimeout(name, seconds) from None


def _unexpected_close(apdu: Close, address: str, phase: str) -> TargetError:
    return TargetError(f"{address} ended the association during {phase}: {apdu.reason_text}")


class Z3950Connector(Connector):
    """Searches one Z39.50 target (``target.host``, ``port``, ``database``, ``syntax``).

    ``batch_size`` is the most records asked for in one Present; ``max_pdu_size`` caps what
    the target may send in one APDU. A ``str`` query is read as PQF.
    """

    def __init__(
        self,
        target: Target,
        *,
        batch_size: int = 25,
        max_pdu_size: int = DEFAULT_MAX_PDU_SIZE,
        element_set_name: str | None = None,
    ) -> None:
        super().__init__(target)
        self.batch_size = max(1, batch_size)
        self.max_pdu_size = max_pdu_size
        self.element_set_name = element_set_name

    def _syntax_oid(self) -> str:
        try:
            return syntax_oid(self.target.syntax)
        except LocalProtocolError as exc:
            raise TargetError(f"target {self.target.id}: {exc}") from None

    def _init_request(self) -> InitRequest:
        return InitRequest(
            protocol_versions=frozenset({1, 2, 3}),
            options=frozenset({"search", "present"}),
            preferred_message_size=self.max_pdu_size // 2,
            exceptional_record_size=self.max_pdu_size // 2,
            implementation_id="Svod",
            implementation_name="Svod",
            implementation_version=_version(),
        )

    async def _open(self) -> tuple[_Association, InitResponse]:
        target = self.target
        seconds = target.timeouts.connect
        try:
            async with _phase("connect", seconds):
                reader, writer = await asyncio.open_connection(target.host, target.port)
        except OSError as exc:
            # several addresses (::1 and 127.0.0.1) all refusing come back as one plain OSError
            if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
                raise TargetUnreachable("connection refused") from None
            raise TargetUnreachable(
                f"cannot connect to {target.host}:{target.port}: {exc.strerror or exc}"
            ) from None
        association = _Association(
            reader, writer, ClientConnection(max_pdu_size=self.max_pdu_size), target.address
        )
        try:
            async with _phase("init", seconds):
                response = await association.exchange(self._init_request(), "init")
            if isinstance(response, Close):
                raise _unexpected_close(response, target.address, "init")
            if not isinstance(response, InitResponse):  # the state machine rules this out
                raise RemoteProtocolError(f"{target.address} answered Init with {response}")
            if not response.result:
                diagnostics = response.diagnostics
                if diagnostics:
                    raise TargetDiagnostic(diagnostics[0])
                who = " ".join(
                    filter(None, [response.implementation_name, response.implementation_version])
                )
                raise TargetError(
                    f"Init refused by {target.address}" + (f" ({who})" if who else "")
                )
        except asyncio.CancelledError:
            association.abort()
            raise
        except BaseException:
            await association.close()
            raise
        return association, response

    @asynccontextmanager
    async def _association(self) -> AsyncIterator[tuple[_Association, InitResponse]]:
        association, init = await self._open()
        try:
            yield association, init
        except asyncio.CancelledError:
            association.abort()  # whoever cancelled us wants us gone now, not after a Close
            raise
        except BaseException:
            await association.close()
            raise
        await association.close()

    async def search(
        self, query: TargetQuery, limit: int, progress: Progress | None = None
    ) -> SearchResult:
        """Search ``target.database`` and fetch records 1..``limit`` in ``target.syntax``."""
        rpn = query if isinstance(query, RPNQuery) else parse_pqf(query)
        oid = self._syntax_oid()
        report = progress or (lambda state: None)
        target = self.target
        report(TargetState.CONNECTING)
        async with self._association() as (association, _init):
            report(TargetState.SEARCHING)
            request = SearchRequest(
                query=rpn,
                database_names=(target.database,),
                result_set_name=_RESULT_SET,
                preferred_record_syntax=oid,
            )
            async with _phase("search", target.timeouts.search):
                response = await association.exchange(request, "search")
            if isinstance(response, Close):
                raise _unexpected_close(response, target.address, "search")
            assert isinstance(response, SearchResponse)
            if not response.search_status:
                if response.diagnostics:
                    raise TargetDiagnostic(response.diagnostics[0])
                raise TargetError(f"{target.address}: search failed without a diagnostic")
            hits = response.result_count
            diagnostics = list(response.diagnostics)
            records: list[RawRecord] = []
            self._collect(response.name_plus_records, 1, records, diagnostics)
            wanted = min(max(limit, 0), hits)
            position = 1 + len(response.name_plus_records)
            if position <= wanted:
                report(TargetState.PRESENTING)
                async with _phase("present", target.timeouts.present):
                    while position <= wanted:
                        present = PresentRequest(
                            result_set_id=_RESULT_SET,
                            result_set_start_point=position,
                            number_of_records_requested=min(self.batch_size, wanted - position + 1),
                            element_set_name=self.element_set_name,
                            preferred_record_syntax=oid,
                        )
                        answer = await association.exchange(present, "present")
                        if isinstance(answer, Close):
                            raise _unexpected_close(answer, target.address, "present")
                        assert isinstance(answer, PresentResponse)
                        diagnostics.extend(answer.diagnostics)
                        got = answer.name_plus_records
                        if not got:
                            break  # the target failed or gave nothing: do not ask forever
                        self._collect(got, position, records, diagnostics)
                        position += len(got)
        return SearchResult(hits, tuple(records), tuple(diagnostics))

    def _collect(
        self,
        entries: tuple[NamePlusRecord, ...],
        first: int,
        records: list[RawRecord],
        diagnostics: list[Diagnostic],
    ) -> None:
        for offset, entry in enumerate(entries):
            if entry.record is not None:
                syntax = entry.syntax or self.target.syntax
                try:
                    data = record_data(entry.record)
                except RemoteProtocolError as exc:
                    raise RemoteProtocolError(
                        f"{self.target.address}: record {first + offset}: {exc}"
                    ) from exc
                records.append(RawRecord(self.target.id, first + offset, syntax, data))
            elif entry.diagnostic is not None:
                diagnostics.append(diagnostic_of(entry.diagnostic))

    async def ping(self) -> str:
        """Init and Close; e.g. ``Z39.50 v3 — GFS/YAZ 5.34.0``."""
        async with self._association() as (_association, init):
            who = " ".join(filter(None, [init.implementation_name, init.implementation_version]))
            return f"Z39.50 v{init.version} — {who or 'unnamed server'}"
