"""SRU connector: aiohttp GET or POST requests around the sans-IO codec in ``protocols.sru``.

One ``aiohttp.ClientSession`` per connector (so HTTP keep-alive serves the follow-up pages),
created on first use and closed by ``close()``. Every failure leaves as a ``TargetError``:

    connection refused / reset / unknown host   TargetUnreachable
    no connection within timeouts.connect        TargetTimeout("connect", s)
    first page slower than timeouts.search       TargetTimeout("search", s)
    HTTP 4xx / 5xx with an SRU diagnostic body   TargetDiagnostic(diagnostic)   (SRU 2.0 does so)
    HTTP 4xx / 5xx otherwise                     TargetError("HTTP 404 Not Found ...")
    a query or version SRU cannot send           TargetError
    body that is not an SRU response             RemoteProtocolError
    fatal SRU diagnostic                         TargetDiagnostic(diagnostic)

Only the first page decides the search. A follow-up page that fails (timeout, reset, garbage,
a diagnostic) ends the paging: the records already fetched are returned with a non-fatal
diagnostic saying which positions are missing and why. ``timeouts.present`` is the budget of
all follow-up pages together, so the whole search fits in connect + search + present.

Explain records are cached per base URL, version and method for ``EXPLAIN_TTL`` seconds:
``index_map: auto`` consults them on every search.
"""

from __future__ import annotations

import asyncio
import errno
import time
from typing import Any, ClassVar

import aiohttp
from yarl import URL

from connectors.base import (
    Connector,
    Progress,
    ResultSet,
    ScanTerm,
    SearchResult,
    TargetQuery,
)
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
from protocols.cql import SearchClause, to_cql
from protocols.sru import (
    MAX_BODY_BYTES,
    Explain,
    SRUResponse,
    explain_params,
    parse_diagnostics,
    parse_explain,
    parse_scan,
    parse_searchretrieve,
    scan_params,
    searchretrieve_params,
)

__all__ = ["EXPLAIN_TTL", "SRUConnector"]

#: Seconds an explain record is reused before it is fetched again.
EXPLAIN_TTL = 600.0

_CONNECT_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(aiohttp, "ConnectionTimeoutError", None),) if isinstance(t, type)
)
_USER_AGENT = "Svod/0.1 (federated library search)"

_ExplainKey = tuple[str, str, str]


class SRUConnector(Connector):
    """Searches one SRU target with CQL.

    ``packing`` is the record packing asked for (``xml`` or ``string``; default: the
    target's); both arrive as the same standalone MARCXML bytes. ``page_size`` caps
    ``maximumRecords`` per request. The target's ``method`` picks HTTP GET or POST.

    >>> SRUConnector(Target("loc", "LoC", "sru", url="http://127.0.0.1:8080/db")).target.id
    'loc'
    """

    _explain_cache: ClassVar[dict[_ExplainKey, tuple[float, Explain]]] = {}

    def __init__(self, target: Target, *, packing: str | None = None, page_size: int = 100) -> None:
        super().__init__(target)
        self.packing = packing or target.packing
        self.page_size = max(1, page_size)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connect = self.target.timeouts.connect
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect),
                headers={"User-Agent": _USER_AGENT},
            )
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (and its keep-alive connections)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- HTTP ----------------------------------------------------------------------------

    def _url(self) -> URL:
        try:
            url = URL(self.target.url)
        except (ValueError, TypeError) as exc:
            raise TargetError(f"invalid SRU URL {self.target.url!r}: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise TargetError(f"invalid SRU URL {self.target.url!r}")
        return url

    async def _request(self, params: dict[str, str], phase: str, seconds: float) -> bytes:
        """Send ``params`` (query string for GET, form body for POST); the whole exchange
        must fit in ``seconds``."""
        url = self._url()
        session = self._client()
        try:
            async with asyncio.timeout(seconds):
                if self.target.method == "post":
                    # SRU over POST: the same parameters, form-encoded (UTF-8) in the body
                    request = session.post(url, data=params, allow_redirects=True)
                else:
                    request = session.get(url.extend_query(params), allow_redirects=True)
                async with request as resp:
                    body = await _read_capped(resp)
                    if resp.status >= 400:
                        raise _http_failure(resp.status, resp.reason, self.target.url, body)
                    return body
        except TimeoutError as exc:
            if _CONNECT_TIMEOUT and isinstance(exc, _CONNECT_TIMEOUT):
                raise TargetTimeout("connect", self.target.timeouts.connect) from None
            raise TargetTimeout(phase, seconds) from None
        except aiohttp.ClientConnectorError as exc:
            raise TargetUnreachable(_connect_failure(exc)) from None
        except aiohttp.ServerDisconnectedError:
            raise TargetUnreachable("connection closed by the server") from None
        except aiohttp.ClientOSError as exc:
            raise TargetUnreachable(f"connection lost: {exc.strerror or exc}") from None
        except aiohttp.ClientPayloadError as exc:
            raise RemoteProtocolError(f"broken HTTP body: {exc}") from None
        except aiohttp.ClientResponseError as exc:
            raise RemoteProtocolError(f"bad HTTP response: {exc.message}") from None
        except aiohttp.InvalidURL as exc:
            raise TargetError(f"invalid SRU URL {exc}") from None
        except aiohttp.ClientError as exc:
            raise TargetUnreachable(f"HTTP client error: {exc}") from None

    # -- searchRetrieve ------------------------------------------------------------------

    async def _page(
        self, query: str, start: int, maximum: int, phase: str, seconds: float
    ) -> SRUResponse:
        try:
            params = searchretrieve_params(
                query,
                version=self.target.version,
                start=start,
                maximum=maximum,
                schema=self.target.schema,
                packing=self.packing,
            )
        except LocalProtocolError as exc:
            # a target configured with what SRU cannot say is that target's failure
            raise TargetError(f"cannot build the SRU request: {exc}") from None
        body = await self._request(params, phase, seconds)
        return parse_searchretrieve(body, start=start)

    async def search(
        self, query: TargetQuery, limit: int, progress: Progress | None = None
    ) -> SearchResult:
        """Run a CQL query; fetch records 1..``limit``, following pages the server cuts short."""
        if not isinstance(query, str):
            raise TargetError("an SRU target takes a CQL string, not an RPN query")
        report = progress or _ignore
        report(TargetState.CONNECTING)
        report(TargetState.SEARCHING)
        return await self._retrieve(query, 1, max(0, limit), "search", report)

    async def fetch(
        self, result_set: ResultSet, start: int, count: int, progress: Progress | None = None
    ) -> SearchResult:
        """Records ``start`` .. ``start + count - 1`` of the query's results: the same
        searchRetrieve from ``startRecord`` ``start``, pages followed as in ``search``.

        The first request has ``timeouts.present``; nothing is asked past ``result_set.hits``.
        """
        start = self._check_fetch(result_set, start)
        query = result_set.query
        if not isinstance(query, str):
            raise TargetError("an SRU target takes a CQL string, not an RPN query")
        if count <= 0 or start > result_set.hits:
            return SearchResult(result_set.hits, result_set=result_set)
        report = progress or _ignore
        report(TargetState.CONNECTING)
        report(TargetState.PRESENTING)
        return await self._retrieve(query, start, count, "present", report)

    async def _retrieve(
        self, query: str, start: int, count: int, phase: str, report: Progress
    ) -> SearchResult:
        """Records ``start``..``start + count - 1``: the first page decides (its failure is
        raised), follow-up pages that fail end the paging with a non-fatal diagnostic."""
        timeouts = self.target.timeouts
        seconds = timeouts.search if phase == "search" else timeouts.present
        first = await self._page(query, start, min(count, self.page_size), phase, seconds)
        if first.number_of_records is None or (first.diagnostics and not first.records):
            raise TargetDiagnostic(_fatal(first))
        hits = first.number_of_records
        records = list(first.records)
        diagnostics = list(first.diagnostics)
        page = first
        end = start + count - 1
        deadline = time.monotonic() + timeouts.present
        while len(records) < count and page.records:
            last = records[-1].position
            following = page.next_record_position or last + 1
            if following <= last or following > hits:
                break
            report(TargetState.PRESENTING)
            maximum = min(end - last, self.page_size)
            try:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TargetTimeout("present", timeouts.present)
                page = await self._page(query, following, maximum, "present", left)
            except TargetError as exc:
                if isinstance(exc, TargetTimeout):
                    exc = TargetTimeout("present", timeouts.present)
                diagnostics.append(_incomplete(following, min(end, hits), str(exc)))
                break
            if page.number_of_records is None or (page.diagnostics and not page.records):
                diagnostics.append(_incomplete(following, min(end, hits), str(_fatal(page))))
                break
            diagnostics.extend(page.diagnostics)
            records.extend(r for r in page.records if r.position > last)
        syntax = self._syntax()
        raw = tuple(RawRecord(self.target.id, r.position, syntax, r.data) for r in records[:count])
        result_set = ResultSet(self.target.id, query, hits)
        return SearchResult(
            hits=hits, records=raw, diagnostics=tuple(diagnostics), result_set=result_set
        )

    def _syntax(self) -> str:
        schema = self.target.schema.lower()
        return "marcxml" if schema in ("", "marcxml") or "marcxml" in schema else "xml"

    # -- scan ----------------------------------------------------------------------------

    async def scan(self, index: str, term: str, count: int = 20) -> list[ScanTerm]:
        """SRU scan: the ``count`` entries of CQL ``index`` from ``term`` on."""
        try:
            params = scan_params(
                to_cql(SearchClause(index, "=", term)), version=self.target.version, maximum=count
            )
        except LocalProtocolError as exc:
            raise TargetError(f"cannot build the SRU request: {exc}") from None
        response = parse_scan(await self._request(params, "search", self.target.timeouts.search))
        if response.diagnostics and not response.terms:
            raise TargetDiagnostic(response.diagnostics[0])
        return [ScanTerm(t.value, t.count or 0, t.display) for t in response.terms]

    # -- explain -------------------------------------------------------------------------

    def _explain_key(self) -> _ExplainKey:
        return (self.target.url, self.target.version, self.target.method)

    async def explain(self, *, refresh: bool = False) -> Explain:
        """The server's ZeeRex explain record, fetched once per ``EXPLAIN_TTL`` per target.

        Raises ``TargetDiagnostic`` when the server answers with a diagnostic and no record.
        """
        key = self._explain_key()
        cached = self._explain_cache.get(key)
        if cached is not None and not refresh and time.monotonic() - cached[0] < EXPLAIN_TTL:
            return cached[1]
        try:
            params = explain_params(self.target.version)
        except LocalProtocolError as exc:
            raise TargetError(f"cannot build the SRU request: {exc}") from None
        timeouts = self.target.timeouts
        body = await self._request(params, "connect", timeouts.connect + timeouts.search)
        explain = parse_explain(body)
        if explain.diagnostics and not (explain.title or explain.index_info or explain.host):
            raise TargetDiagnostic(explain.diagnostics[0])
        self._explain_cache[key] = (time.monotonic(), explain)
        return explain

    async def ping(self) -> str:
        """SRU explain: ``"Library title (url): SRU 1.2, 13 indexes"``."""
        explain = await self.explain(refresh=True)
        name = explain.title or explain.database or self.target.name
        version = explain.version or self.target.version
        return f"{name} ({self.target.url}): SRU {version}, {len(explain.indexes)} indexes"


def _ignore(state: TargetState) -> None:
    pass


def _fatal(response: SRUResponse) -> Diagnostic:
    if response.diagnostics:
        return response.diagnostics[0]
    return Diagnostic.of("sru", 1, "the response has no numberOfRecords")


def _incomplete(start: int, end: int, why: str) -> Diagnostic:
    """The non-fatal note for a follow-up page that failed: which records are missing."""
    span = f"record {start}" if end <= start else f"records {start}-{end}"
    return Diagnostic.of("sru", 1, f"{span} not fetched: {why}")


def _http_failure(status: int, reason: str | None, url: str, body: bytes) -> TargetError:
    """An HTTP error status; an SRU diagnostic in its body (SRU 2.0 allows that) wins."""
    try:
        diagnostics = parse_diagnostics(body)
    except RemoteProtocolError:
        diagnostics = ()
    if diagnostics:
        return TargetDiagnostic(diagnostics[0])
    return TargetError(f"HTTP {status} {reason or ''} from {url}".replace("  ", " "))


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
    length = resp.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise RemoteProtocolError(f"SRU response of {length} bytes exceeds the size limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RemoteProtocolError("SRU response exceeds the size limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _connect_failure(exc: aiohttp.ClientConnectorError) -> str:
    os_error: Any = exc.os_error
    code = getattr(os_error, "errno", None)
    if code == errno.ECONNREFUSED:
        return "connection refused"
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)
    if isinstance(dns_error, type) and isinstance(exc, dns_error):
        return f"unknown host {exc.host}"
    reason = getattr(os_error, "strerror", None) or str(os_error)
    return f"cannot connect to {exc.host}:{exc.port}: {reason}"
