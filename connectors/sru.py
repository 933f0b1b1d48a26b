"""SRU connector: aiohttp GET requests around the sans-IO codec in ``protocols.sru``.

One ``aiohttp.ClientSession`` per connector (so HTTP keep-alive serves the follow-up pages),
created on first use and closed by ``close()``. Every failure leaves as a ``TargetError``:

    connection refused / reset / unknown host   TargetUnreachable
    no connection within timeouts.connect        TargetTimeout("connect", s)
    first page slower than timeouts.search       TargetTimeout("search", s)
    a follow-up page slower than .present        TargetTimeout("present", s)
    HTTP 4xx / 5xx                               TargetError("HTTP 404 Not Found ...")
    a query or version SRU cannot send           TargetError
    body that is not an SRU response             RemoteProtocolError
    fatal SRU diagnostic                         TargetDiagnostic(diagnostic)
"""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import aiohttp
from yarl import URL

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
from protocols.sru import (
    MAX_BODY_BYTES,
    SRUResponse,
    explain_params,
    parse_explain,
    parse_searchretrieve,
    searchretrieve_params,
)

__all__ = ["SRUConnector"]

_CONNECT_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(aiohttp, "ConnectionTimeoutError", None),) if isinstance(t, type)
)
_USER_AGENT = "Svod/0.1 (federated library search)"


class SRUConnector(Connector):
    """Searches one SRU target with CQL.

    ``packing`` is the record packing asked for (``xml`` or ``string``); both arrive as the
    same standalone MARCXML bytes. ``page_size`` caps ``maximumRecords`` per request.

    >>> SRUConnector(Target("loc", "LoC", "sru", url="http://127.0.0.1:8080/db")).target.id
    'loc'
    """

    def __init__(self, target: Target, *, packing: str = "xml", page_size: int = 100) -> None:
        super().__init__(target)
        self.packing = packing
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

    async def _get(self, params: dict[str, str], phase: str, seconds: float) -> bytes:
        """GET the target URL with ``params``; the whole exchange must fit in ``seconds``."""
        try:
            url = URL(self.target.url).extend_query(params)
        except (ValueError, TypeError) as exc:
            raise TargetError(f"invalid SRU URL {self.target.url!r}: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise TargetError(f"invalid SRU URL {self.target.url!r}")
        session = self._client()
        try:
            async with asyncio.timeout(seconds):
                async with session.get(url, allow_redirects=True) as resp:
                    if resp.status >= 400:
                        raise TargetError(_http_error(resp.status, resp.reason, self.target.url))
                    return await _read_capped(resp)
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

    async def _page(self, query: str, start: int, maximum: int, phase: str) -> SRUResponse:
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
        seconds = self.target.timeouts.search if phase == "search" else self.target.timeouts.present
        body = await self._get(params, phase, seconds)
        return parse_searchretrieve(body, start=start)

    async def search(
        self, query: TargetQuery, limit: int, progress: Progress | None = None
    ) -> SearchResult:
        """Run a CQL query; fetch records 1..``limit``, following pages the server cuts short."""
        if not isinstance(query, str):
            raise TargetError("an SRU target takes a CQL string, not an RPN query")
        limit = max(0, limit)
        report = progress or _ignore
        report(TargetState.CONNECTING)
        report(TargetState.SEARCHING)
        first = await self._page(query, 1, min(limit, self.page_size), "search")
        if first.number_of_records is None or (first.diagnostics and not first.records):
            raise TargetDiagnostic(_fatal(first))
        hits = first.number_of_records
        records = list(first.records)
        diagnostics = list(first.diagnostics)
        page = first
        while len(records) < limit and page.records:
            last = records[-1].position
            start = page.next_record_position or last + 1
            if start <= last or start > hits:
                break
            report(TargetState.PRESENTING)
            maximum = min(limit - len(records), self.page_size)
            page = await self._page(query, start, maximum, "present")
            diagnostics.extend(page.diagnostics)
            records.extend(r for r in page.records if r.position > last)
        syntax = self._syntax()
        raw = tuple(RawRecord(self.target.id, r.position, syntax, r.data) for r in records[:limit])
        return SearchResult(hits=hits, records=raw, diagnostics=tuple(diagnostics))

    def _syntax(self) -> str:
        schema = self.target.schema.lower()
        return "marcxml" if schema in ("", "marcxml") or "marcxml" in schema else "xml"

    async def ping(self) -> str:
        """SRU explain: ``"Library title (url): SRU 1.2, 13 indexes"``."""
        try:
            params = explain_params(self.target.version)
        except LocalProtocolError as exc:
            raise TargetError(f"cannot build the SRU request: {exc}") from None
        body = await self._get(params, "connect", self.target.timeouts.connect)
        explain = parse_explain(body)
        if explain.diagnostics and not explain.title and not explain.indexes:
            raise TargetDiagnostic(explain.diagnostics[0])
        name = explain.title or explain.database or self.target.name
        version = explain.version or self.target.version
        return f"{name} ({self.target.url}): SRU {version}, {len(explain.indexes)} indexes"


def _ignore(state: TargetState) -> None:
    pass


def _fatal(response: SRUResponse) -> Diagnostic:
    if response.diagnostics:
        return response.diagnostics[0]
    return Diagnostic.of("sru", 1, "the response has no numberOfRecords")


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


def _http_error(status: int, reason: str | None, url: str) -> str:
    return f"HTTP {status} {reason or ''} from {url}".replace("  ", " ")


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
