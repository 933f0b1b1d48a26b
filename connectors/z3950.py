"""Z39.50 connector: asyncio streams around ``protocols.z3950.ClientConnection``.

An association is connect + Init (options, message sizes, authentication, character-set
negotiation), then any number of Search / Present / Scan, then Close. Without a pool each
operation opens and closes its own association; with a ``ConnectionPool`` (the engine's
default, see ``default_pool``) associations are kept between searches, and a pooled one that
turns out dead on first use is replaced once, transparently.

    >>> async def demo(target):                                   # doctest: +SKIP
    ...     async with Z3950Connector(target, pool=default_pool()) as z:
    ...         result = await z.search(parse_pqf("@attr 1=4 computer"), limit=10)
    ...     return result.hits, [r.syntax for r in result.records]

Each search goes into a result set of its own name (``S1``, ``S2``, ... up to
``KEPT_RESULT_SETS`` per association, then the least recently used name is reused) when the
target agreed to ``namedResultSets``, else into ``default``. ``fetch`` presents more records
from it if the association that holds it is idle in the pool and the set was not replaced
since; otherwise it searches again and presents only the records asked for.

Every failure becomes a ``core.TargetError``: ``TargetUnreachable`` (refused, reset, DNS),
``TargetTimeout`` with the phase (connect, init, search, present, scan),
``RemoteProtocolError`` (bad BER, an APDU out of order, the stream cut short),
``TargetDiagnostic`` (the target answered with a bib-1 diagnostic, e.g. a refused Init:
1011 bad user id or password) or a plain ``TargetError`` (Init refused without a reason,
the target sent Close, a credential variable is not set). Credentials come from the
environment variables the target names and never appear in messages or logs.
"""

from __future__ import annotations

import asyncio
import codecs
import itertools
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, replace
from importlib import metadata
from typing import TypeVar

from connectors.base import (
    Connector,
    Progress,
    ResultSet,
    ScanTerm,
    SearchResult,
    TargetQuery,
)
from connectors.pool import ConnectionPool
from core import (
    Diagnostic,
    LocalProtocolError,
    QueryError,
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
    IdPass,
    InitRequest,
    InitResponse,
    NamePlusRecord,
    OtherInfoUnit,
    PresentRequest,
    PresentResponse,
    ScanRequest,
    ScanResponse,
    ScanStatus,
    SearchRequest,
    SearchResponse,
    diagnostic_of,
    record_data,
)
from protocols.z3950.charneg import charset_proposal, find_response, negotiation_result
from protocols.z3950.connection import CONNECTION_CLOSED, NEED_DATA, ClientConnection, ClientState
from protocols.z3950.oids import syntax_name, syntax_oid
from protocols.z3950.opac import decode_opac, to_holdings
from protocols.z3950.rpn import (
    AttributesPlusTerm,
    RPNNode,
    RPNOperator,
    RPNQuery,
    parse_attribute_list,
    parse_pqf,
)

__all__ = [
    "KEPT_RESULT_SETS",
    "InitInfo",
    "Z3950Connector",
    "Z3950Session",
    "default_pool",
    "open_session",
]

_READ_SIZE = 256 * 1024
# how long a polite Close may take before we just drop the connection
_CLOSE_TIMEOUT = 2.0
_RESULT_SET = "default"
#: named result sets an association keeps for ``fetch``; the least recently used name is
#: reused after that (the target then replaces that set)
KEPT_RESULT_SETS = 16
_associations = itertools.count(1)
# piggy-backing as ZOOM does it: a set of 1 comes whole, anything bigger as a medium set
_LARGE_SET = 2_000_000_000
#: the Init options we ask for; ``negotiation`` is added when a charset is proposed
_OPTIONS = frozenset({"search", "present", "scan", "namedResultSets"})

T = TypeVar("T")


def _version() -> str:
    try:
        return metadata.version("svod")
    except metadata.PackageNotFoundError:
        return "dev"


@dataclass(frozen=True, slots=True)
class InitInfo:
    """What a target agreed to in its InitResponse.

    ``charset`` is the character set accepted in negotiation (``UTF-8``; empty when there
    was no negotiation or the target declined); ``records_in_charset`` says records come
    in it too, so the record's own charset marks (MARC21 leader/09) are not to be trusted.
    """

    version: int
    options: frozenset[str]
    preferred_message_size: int
    max_record_size: int
    implementation_id: str = ""
    implementation_name: str = ""
    implementation_version: str = ""
    charset: str = ""
    records_in_charset: bool = False
    language: str = ""

    @property
    def codec(self) -> str:
        """The negotiated charset as a Python codec name ("" if none, or not one we know)."""
        try:
            return codecs.lookup(self.charset).name if self.charset else ""
        except LookupError:
            return ""

    @property
    def record_charset(self) -> str:
        """Charset to decode records with (a Python codec name), or "" to trust the record."""
        return self.codec if self.records_in_charset else ""

    @property
    def summary(self) -> str:
        """One line: ``Z39.50 v3 — GFS/YAZ 5.34.0; options: ...; charset UTF-8 (records)``."""
        who = " ".join(filter(None, [self.implementation_name, self.implementation_version]))
        line = f"Z39.50 v{self.version} — {who or 'unnamed server'}"
        line += "; options: " + " ".join(sorted(self.options))
        if self.charset:
            line += f"; charset {self.charset}" + (
                " (records too)" if self.records_in_charset else ""
            )
        return line


@dataclass(frozen=True, slots=True)
class _SetHandle:
    """Which association holds a search's result set, under which name; ``serial`` tells
    that search's set from a later one that reused the name."""

    association: int
    name: str
    serial: int


@asynccontextmanager
async def _phase(name: str, seconds: float) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise TargetTimeout(name, seconds) from None


class Z3950Session:
    """One open association: TCP connection, client state, and what Init agreed.

    Exchanges one APDU at a time. A pool keeps sessions between searches; ``reusable``
    says whether this one can serve another request.
    """

    def __init__(
        self,
        target: Target,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection: ClientConnection,
    ) -> None:
        self.target = target
        self.reader = reader
        self.writer = writer
        self.connection = connection
        self.address = target.address
        self.init: InitInfo | None = None
        #: exchanges since the session was (re)leased, and whether the peer went away
        self.exchanges = 0
        self.peer_gone = False
        self._failed = False
        #: tells this association from others (result set handles name it)
        self.number = next(_associations)
        # result set name -> serial of the search that made it, least recently used first
        self._result_sets: OrderedDict[str, int] = OrderedDict()
        self._searches = 0

    def new_result_set(self) -> _SetHandle:
        """A result set name for the next search (see the module docstring)."""
        self._searches += 1
        if self.init is None or "namedResultSets" not in self.init.options:
            name = _RESULT_SET
        elif len(self._result_sets) < KEPT_RESULT_SETS:
            name = f"S{self._searches}"
        else:
            name = next(iter(self._result_sets))
        self._result_sets.pop(name, None)
        self._result_sets[name] = self._searches
        return _SetHandle(self.number, name, self._searches)

    def keeps(self, handle: _SetHandle) -> bool:
        """Whether the target still holds ``handle``'s result set on this association."""
        return (
            handle.association == self.number
            and self._result_sets.get(handle.name) == handle.serial
        )

    def used(self, handle: _SetHandle) -> None:
        """The set served a fetch: reuse its name last."""
        if self.keeps(handle):
            self._result_sets.move_to_end(handle.name)

    def forget(self, handle: _SetHandle) -> None:
        """The target no longer has the set (a failed search, a Present that found nothing)."""
        if self.keeps(handle):
            del self._result_sets[handle.name]

    @property
    def reusable(self) -> bool:
        """Idle, healthy, and the peer still there."""
        return (
            self.connection.state == ClientState.READY
            and not self._failed
            and not self.peer_gone
            and not self.writer.transport.is_closing()
        )

    @property
    def stale(self) -> bool:
        """The peer had gone before the first exchange of this lease could complete."""
        return self.peer_gone and self.exchanges <= 1

    def begin_lease(self) -> None:
        """Reset the per-lease counters (the pool lends the session to a new operation)."""
        self.exchanges = 0

    async def exchange(self, apdu: APDU, phase: str) -> APDU:
        """Send ``apdu`` and wait for the target's answer.

        A Close from the target is answered with a Close and raised as a ``TargetError``.
        """
        self.exchanges += 1
        try:
            self.writer.write(self.connection.send(apdu))
            await self.writer.drain()
            while (event := self.connection.next_event()) is NEED_DATA:
                data = await self.reader.read(_READ_SIZE)
                if not data:
                    self.peer_gone = True
                self.connection.receive_data(data)
        except RemoteProtocolError as exc:
            self._failed = True
            raise RemoteProtocolError(f"{self.address} during {phase}: {exc}") from exc
        except TimeoutError:
            self._failed = True
            raise  # the caller's phase timeout, not a socket error
        except asyncio.CancelledError:
            self._failed = True
            raise
        except OSError as exc:
            self._failed = self.peer_gone = True
            reason = exc.strerror or type(exc).__name__
            raise TargetUnreachable(
                f"connection to {self.address} lost during {phase}: {reason}"
            ) from exc
        if event is CONNECTION_CLOSED:
            self.peer_gone = True
            raise RemoteProtocolError(
                f"{self.address} closed the connection during {phase} without a Close"
            )
        if isinstance(event, Close) and not isinstance(apdu, Close):
            self.peer_gone = True
            self._answer_close()
            raise TargetError(
                f"{self.address} ended the association during {phase}: {event.reason_text}"
            )
        return event

    def _answer_close(self) -> None:
        """The target closed the association: answer with a Close, as the standard asks."""
        if self.connection.state == ClientState.CLOSE_RECEIVED:
            with suppress(LocalProtocolError, OSError, RuntimeError):
                self.writer.write(self.connection.send(Close(CloseReason.FINISHED)))
        self.writer.close()

    async def watch(self) -> None:
        """Wait while idle in a pool; return when the target speaks or hangs up."""
        try:
            data = await self.reader.read(_READ_SIZE)
        except OSError:
            data = b""
        self.peer_gone = True
        try:
            self.connection.receive_data(data)
            self.connection.next_event()  # a Close moves the state to "close received"
        except (RemoteProtocolError, LocalProtocolError):
            pass  # anything else unasked for while idle: just drop the connection
        self._answer_close()

    async def aclose(self) -> None:
        """Close politely if the association is idle, then drop the connection."""
        try:
            if self.connection.state == ClientState.READY and not self.peer_gone:
                with suppress(TargetError, TimeoutError):
                    async with asyncio.timeout(_CLOSE_TIMEOUT):
                        await self.exchange(Close(CloseReason.FINISHED), "close")
            if self.connection.state == ClientState.CLOSED or self.peer_gone:
                self.writer.close()
                with suppress(OSError, TimeoutError):
                    async with asyncio.timeout(_CLOSE_TIMEOUT):
                        await self.writer.wait_closed()
            else:
                # a request is still outstanding or the stream is broken: nothing to wait for
                self.abort()
        except BaseException:
            self.abort()
            raise

    def shutdown(self) -> None:
        """Say Close if idle, without waiting for the answer, and close the connection."""
        if self.connection.state == ClientState.READY and not self.peer_gone:
            with suppress(LocalProtocolError, OSError, RuntimeError):
                self.writer.write(self.connection.send(Close(CloseReason.FINISHED)))
            with suppress(RuntimeError):
                self.writer.close()
        else:
            self.abort()

    def abort(self) -> None:
        """Drop the connection at once."""
        self._failed = True
        with suppress(RuntimeError):  # the event loop may already be closed
            self.writer.transport.abort()


def _credentials(target: Target) -> str | IdPass | None:
    """The Init idAuthentication, read from the environment variables the target names."""
    auth = target.auth
    if auth is None:
        return None
    values: dict[str, str] = {}
    for key in ("user_env", "password_env", "group_env"):
        name = getattr(auth, key)
        if not name:
            continue
        value = os.environ.get(name)
        if value is None:
            raise TargetError(
                f"target {target.id}: environment variable {name} (auth.{key}) is not set"
            )
        values[key] = value
    user, password = values.get("user_env", ""), values.get("password_env")
    if auth.method == "open":
        return user if password is None else f"{user}/{password}"
    return IdPass(user_id=user, password=password, group_id=values.get("group_env"))


def _init_request(target: Target) -> InitRequest:
    options = set(_OPTIONS)
    other: tuple[OtherInfoUnit, ...] = ()
    if target.negotiate_charset:
        options.add("negotiation")
        other = (OtherInfoUnit(external=charset_proposal([target.negotiate_charset])),)
    return InitRequest(
        protocol_versions=frozenset({1, 2, 3}),
        options=frozenset(options),
        preferred_message_size=target.preferred_message_size,
        exceptional_record_size=target.max_record_size,
        id_authentication=_credentials(target),
        implementation_id="Svod",
        implementation_name="Svod",
        implementation_version=_version(),
        other_info=other,
    )


def _init_info(response: InitResponse, address: str) -> InitInfo:
    try:
        negotiated = find_response(response.other_info)
    except RemoteProtocolError as exc:
        raise RemoteProtocolError(f"{address}: character-set negotiation: {exc}") from exc
    result = negotiation_result(negotiated) if negotiated is not None else None
    return InitInfo(
        version=response.version,
        options=response.options,
        preferred_message_size=response.preferred_message_size,
        max_record_size=response.exceptional_record_size,
        implementation_id=response.implementation_id or "",
        implementation_name=response.implementation_name or "",
        implementation_version=response.implementation_version or "",
        charset=(result.charset or "") if result else "",
        records_in_charset=result.records_in_charset if result else False,
        language=(result.language or "") if result else "",
    )


def _pdu_cap(target: Target, max_pdu_size: int) -> int:
    # a target may send what it agreed to: leave room for the APDU around the records
    return max(max_pdu_size, 2 * max(target.preferred_message_size, target.max_record_size))


async def open_session(target: Target, *, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE) -> Z3950Session:
    """Connect and Init; raise a ``TargetError`` (never anything else) if that fails."""
    seconds = target.timeouts.connect
    request = _init_request(target)  # a missing credential fails before we connect
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
    connection = ClientConnection(max_pdu_size=_pdu_cap(target, max_pdu_size))
    session = Z3950Session(target, reader, writer, connection)
    try:
        async with _phase("init", seconds):
            response = await session.exchange(request, "init")
        if not isinstance(response, InitResponse):  # the state machine rules this out
            raise RemoteProtocolError(f"{target.address} answered Init with {response}")
        if not response.result:
            diagnostics = response.diagnostics
            if diagnostics:
                raise TargetDiagnostic(diagnostics[0])
            who = " ".join(
                filter(None, [response.implementation_name, response.implementation_version])
            )
            raise TargetError(f"Init refused by {target.address}" + (f" ({who})" if who else ""))
        session.init = _init_info(response, target.address)
    except asyncio.CancelledError:
        session.abort()
        raise
    except BaseException:
        await session.aclose()
        raise
    return session


_default_pool: ConnectionPool[Z3950Session] = ConnectionPool(size=2, idle=60.0)


def default_pool() -> ConnectionPool[Z3950Session]:
    """The process-wide pool of Z39.50 associations the engine's connectors share."""
    return _default_pool


def _ignore(state: TargetState) -> None:
    pass


def _recode(node: RPNNode, codec: str) -> RPNNode:
    """Terms re-encoded for a target that negotiated a charset other than UTF-8.

    The APDU codec writes terms as UTF-8 with surrogate escapes, so a term whose bytes are
    smuggled in as escapes goes out as exactly those bytes.
    """
    if isinstance(node, RPNOperator):
        return replace(node, left=_recode(node.left, codec), right=_recode(node.right, codec))
    if isinstance(node, AttributesPlusTerm):
        raw = node.term.encode(codec, "replace")
        return replace(node, term=raw.decode("utf-8", "surrogateescape"))
    return node


def _decode_term(term: str, codec: str) -> str:
    if not codec or codec == "utf-8":
        return term
    raw = term.encode("utf-8", "surrogateescape")
    try:
        # Zebra sends scan terms as its index holds them (UTF-8), whatever was negotiated;
        # a term in a single-byte charset is almost never valid UTF-8 by accident
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode(codec, "replace")


class Z3950Connector(Connector):
    """Searches one Z39.50 target (``target.host``, ``port``, ``database``, ``syntax``, ...).

    ``pool`` keeps associations between operations (None: one association per operation).
    ``batch_size`` and ``element_set_name`` override the target's ``batch_size`` and
    ``element_set``; ``max_pdu_size`` caps what the target may send in one APDU (raised to
    twice the message sizes agreed at Init). A ``str`` query is read as PQF. After each
    operation ``init`` holds what the target agreed to at Init.
    """

    def __init__(
        self,
        target: Target,
        *,
        batch_size: int | None = None,
        max_pdu_size: int = DEFAULT_MAX_PDU_SIZE,
        element_set_name: str | None = None,
        pool: ConnectionPool[Z3950Session] | None = None,
    ) -> None:
        super().__init__(target)
        self.batch_size = max(1, batch_size if batch_size is not None else target.batch_size)
        self.max_pdu_size = max_pdu_size
        self.element_set_name = element_set_name or target.element_set or None
        self.pool = pool
        self.init: InitInfo | None = None

    def _syntax_oid(self) -> str:
        try:
            return syntax_oid(self.target.syntax)
        except LocalProtocolError as exc:
            raise TargetError(f"target {self.target.id}: {exc}") from None

    async def _open(self) -> Z3950Session:
        return await open_session(self.target, max_pdu_size=self.max_pdu_size)

    async def _run(
        self,
        operation: Callable[[Z3950Session], Awaitable[T]],
        prefer: Callable[[Z3950Session], bool] | None = None,
    ) -> T:
        """Run ``operation`` on an association: pooled (replaced once if dead) or our own.

        ``prefer`` picks the idle pooled association to use if there is one it likes.
        """
        target = self.target
        if self.pool is None:
            session = await self._open()
            self.init = session.init
            try:
                result = await operation(session)
            except asyncio.CancelledError:
                session.abort()  # whoever cancelled us wants us gone now, not after a Close
                raise
            except BaseException:
                await session.aclose()
                raise
            await session.aclose()
            return result
        wait = target.timeouts.connect
        for attempt in (1, 2):
            async with AsyncExitStack() as stack:
                lease_cm = self.pool.lease(
                    target,
                    self._open,
                    size=target.pool_size,
                    idle=target.pool_idle,
                    wait=wait,
                    prefer=prefer,
                )
                try:
                    lease = await stack.enter_async_context(lease_cm)
                except TimeoutError:  # every connection of the target stayed busy
                    raise TargetTimeout("connect", wait) from None
                session = lease.connection
                session.begin_lease()
                self.init = session.init
                try:
                    return await operation(session)
                except TargetError:
                    if not (attempt == 1 and lease.reused and session.stale):
                        raise
                    lease.discard()  # dead while pooled: open a fresh one, once
        raise AssertionError("unreachable")  # the second attempt returns or raises

    def _rpn(self, query: TargetQuery) -> RPNQuery:
        try:
            return query if isinstance(query, RPNQuery) else parse_pqf(query)
        except QueryError as exc:
            raise TargetError(f"target {self.target.id}: {exc}") from None

    async def search(
        self, query: TargetQuery, limit: int, progress: Progress | None = None
    ) -> SearchResult:
        """Search ``target.database`` and fetch records 1..``limit`` in ``target.syntax``."""
        rpn = self._rpn(query)
        oid = self._syntax_oid()
        report = progress or _ignore
        report(TargetState.CONNECTING)
        return await self._run(lambda session: self._search(session, rpn, oid, 1, limit, report))

    async def fetch(
        self, result_set: ResultSet, start: int, count: int, progress: Progress | None = None
    ) -> SearchResult:
        """Records ``start`` .. ``start + count - 1`` of an earlier search's result set.

        A Present on the association that holds the set, if it is idle in the pool and the
        set is still there; else the search runs again (without piggy-backed records) and
        only those records are presented. Nothing is asked past ``result_set.hits``.
        """
        start = self._check_fetch(result_set, start)
        if count <= 0 or start > result_set.hits:
            return SearchResult(result_set.hits, result_set=result_set)
        rpn = self._rpn(result_set.query)
        oid = self._syntax_oid()
        report = progress or _ignore
        report(TargetState.CONNECTING)
        handle = result_set.handle if isinstance(result_set.handle, _SetHandle) else None
        last = start + count - 1

        async def operation(session: Z3950Session) -> SearchResult:
            if handle is not None and session.keeps(handle):
                report(TargetState.PRESENTING)
                kept = await self._present_kept(session, result_set, handle, oid, start, last)
                if kept is not None:
                    return kept
            return await self._search(session, rpn, oid, start, last, report)

        def holder(session: Z3950Session) -> bool:
            return handle is not None and session.keeps(handle)

        return await self._run(operation, prefer=holder if handle is not None else None)

    async def _present_kept(
        self,
        session: Z3950Session,
        result_set: ResultSet,
        handle: _SetHandle,
        oid: str,
        start: int,
        last: int,
    ) -> SearchResult | None:
        """Records ``start``..``last`` from the set ``session`` keeps; None if it has gone."""
        records: list[RawRecord] = []
        diagnostics: list[Diagnostic] = []
        charset = session.init.record_charset if session.init else ""
        last = min(last, result_set.hits)
        async with _phase("present", self.target.timeouts.present):
            await self._present(
                session, handle.name, start, last, oid, records, diagnostics, charset
            )
        if not records:
            # the target no longer has the set (bib-1 30), or gave nothing: search again
            session.forget(handle)
            return None
        session.used(handle)
        return SearchResult(result_set.hits, tuple(records), tuple(diagnostics), result_set)

    async def _search(
        self,
        session: Z3950Session,
        rpn: RPNQuery,
        oid: str,
        first: int,
        last: int,
        report: Callable[[TargetState], None],
    ) -> SearchResult:
        """Search into a new result set of ``session``, then records ``first``..``last``
        (piggy-backed on the search when ``first`` is 1)."""
        target = self.target
        query = rpn
        codec = session.init.codec if session.init else ""
        if codec and codec != "utf-8":
            rpn = replace(rpn, root=_recode(rpn.root, codec))
        report(TargetState.SEARCHING)
        wanted = max(last, 0)
        piggyback = target.piggyback and first == 1 and wanted > 0
        handle = session.new_result_set()
        request = SearchRequest(
            query=rpn,
            database_names=(target.database,),
            result_set_name=handle.name,
            small_set_upper_bound=1 if piggyback else 0,
            large_set_lower_bound=_LARGE_SET if piggyback else 1,
            medium_set_present_number=min(self.batch_size, wanted) if piggyback else 0,
            small_set_element_set_name=self.element_set_name if piggyback else None,
            medium_set_element_set_name=self.element_set_name if piggyback else None,
            preferred_record_syntax=oid,
        )
        async with _phase("search", target.timeouts.search):
            response = await session.exchange(request, "search")
        if not isinstance(response, SearchResponse):  # the state machine rules this out
            raise RemoteProtocolError(f"{target.address} answered Search with {response}")
        if not response.search_status:
            session.forget(handle)
            if response.diagnostics:
                raise TargetDiagnostic(response.diagnostics[0])
            raise TargetError(f"{target.address}: search failed without a diagnostic")
        hits = response.result_count
        diagnostics = list(response.diagnostics)
        records: list[RawRecord] = []
        charset = session.init.record_charset if session.init else ""
        piggybacked = response.name_plus_records if first == 1 else ()
        self._collect(piggybacked, 1, records, diagnostics, charset)
        position = max(first, 1) + len(piggybacked)
        wanted = min(wanted, hits)
        if position <= wanted:
            report(TargetState.PRESENTING)
            async with _phase("present", target.timeouts.present):
                await self._present(
                    session, handle.name, position, wanted, oid, records, diagnostics, charset
                )
        result_set = ResultSet(target.id, query, hits, handle)
        return SearchResult(hits, tuple(records), tuple(diagnostics), result_set)

    async def _present(
        self,
        session: Z3950Session,
        name: str,
        position: int,
        last: int,
        oid: str,
        records: list[RawRecord],
        diagnostics: list[Diagnostic],
        charset: str,
    ) -> None:
        """Present records ``position``..``last`` of result set ``name``, a batch at a time."""
        while position <= last:
            present = PresentRequest(
                result_set_id=name,
                result_set_start_point=position,
                number_of_records_requested=min(self.batch_size, last - position + 1),
                element_set_name=self.element_set_name,
                preferred_record_syntax=oid,
            )
            answer = await session.exchange(present, "present")
            if not isinstance(answer, PresentResponse):  # ruled out by the state machine
                raise RemoteProtocolError(f"{self.target.address} answered Present with {answer}")
            diagnostics.extend(answer.diagnostics)
            got = answer.name_plus_records
            if not got:
                break  # the target failed or gave nothing: do not ask forever
            self._collect(got, position, records, diagnostics, charset)
            position += len(got)

    def _collect(
        self,
        entries: tuple[NamePlusRecord, ...],
        first: int,
        records: list[RawRecord],
        diagnostics: list[Diagnostic],
        charset: str,
    ) -> None:
        for offset, entry in enumerate(entries):
            position = first + offset
            if entry.record is None:
                if entry.diagnostic is not None:
                    diagnostics.append(diagnostic_of(entry.diagnostic))
                continue
            syntax = entry.syntax or self.target.syntax
            try:
                data = record_data(entry.record)
            except RemoteProtocolError as exc:
                raise RemoteProtocolError(
                    f"{self.target.address}: record {position}: {exc}"
                ) from exc
            raw = RawRecord(self.target.id, position, syntax, data, charset)
            if syntax == "opac":
                raw = self._opac(raw)
            records.append(raw)

    def _opac(self, raw: RawRecord) -> RawRecord:
        """The bibliographic record inside an OPAC record, with its holdings attached.

        An OPAC record we cannot read stays as it is: the normalizer then counts it as a
        record that could not be decoded, and the other records still count.
        """
        try:
            opac = decode_opac(raw.data)
        except RemoteProtocolError:
            return raw
        bib = opac.bibliographic_record
        if bib is None or bib.encoding != "octet-aligned" or bib.direct_reference is None:
            return raw
        return replace(
            raw,
            syntax=syntax_name(bib.direct_reference),
            data=bib.data,
            holdings=to_holdings(opac),
        )

    async def scan(self, index: str, term: str, count: int = 20) -> list[ScanTerm]:
        """Browse the index that Bib-1 attributes ``index`` (``"1=4"``) select, from ``term``.

        Entries that are surrogate diagnostics are left out; a failed scan raises
        ``TargetDiagnostic`` with the target's reason.
        """
        try:
            attributes = parse_attribute_list(index)
        except QueryError as exc:
            raise TargetError(f"target {self.target.id}: scan index: {exc}") from None
        if not attributes:
            raise TargetError(f"target {self.target.id}: scan needs an index like 1=4")
        return await self._run(lambda session: self._scan(session, attributes, term, count))

    async def _scan(
        self,
        session: Z3950Session,
        attributes: tuple[tuple[int, int | str], ...],
        term: str,
        count: int,
    ) -> list[ScanTerm]:
        target = self.target
        if session.init is not None and "scan" not in session.init.options:
            raise TargetError(f"{target.address} does not offer Scan (not in its Init options)")
        codec = session.init.codec if session.init else ""
        start = AttributesPlusTerm(attributes, term)
        if codec and codec != "utf-8":
            recoded = _recode(start, codec)
            assert isinstance(recoded, AttributesPlusTerm)
            start = recoded
        request = ScanRequest(start, max(1, count), database_names=(target.database,))
        async with _phase("scan", target.timeouts.search):
            response = await session.exchange(request, "scan")
        if not isinstance(response, ScanResponse):  # the state machine rules this out
            raise RemoteProtocolError(f"{target.address} answered Scan with {response}")
        if response.scan_status == ScanStatus.FAILURE or not response.entries:
            if response.diagnostics:
                raise TargetDiagnostic(response.diagnostics[0])
            if response.scan_status == ScanStatus.FAILURE:
                raise TargetError(f"{target.address}: scan failed without a diagnostic")
        return [
            ScanTerm(
                _decode_term(t.term, codec),
                t.global_occurrences or 0,
                _decode_term(t.display_term, codec) if t.display_term else "",
            )
            for t in response.terms
        ]

    async def ping(self) -> str:
        """Init (and Close, unless pooled); what the target agreed to, on one line.

        ``Z39.50 v3 — GFS/YAZ 5.34.0; options: namedResultSets present scan search``
        """

        async def nothing(session: Z3950Session) -> InitInfo | None:
            return session.init

        init = await self._run(nothing)
        return init.summary if init is not None else "Z39.50"
