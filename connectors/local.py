"""A local collection: records from files, searched in an on-disk whoosh index, no network.

The index lives in one directory (``collection_dir``)::

    manifest.json   which files it was built from (size, mtime, SHA-256), the generation
                    in use, record counts; replaced atomically when a build finishes
    g-<n>-<hash>/   the whoosh index of one build; older generations are removed later
    .lock           held while a build runs

``federator/collection.py`` writes it (it alone may call the normalizers); this connector
only reads it. It takes CQL text, like an SRU server, and answers with the records' own
bytes (``RawRecord``) so the engine normalizes them as it does everyone else's. An index
that is missing or unreadable is this target's failure (``TargetUnreachable`` /
``RemoteProtocolError``), a query it cannot answer a ``TargetDiagnostic`` with the SRU
diagnostic (16 for an unsupported index).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index  # type: ignore[import-untyped]

from connectors.base import (
    Connector,
    Progress,
    ResultSet,
    ScanTerm,
    SearchResult,
    TargetQuery,
)
from core import (
    CQLSyntaxError,
    Diagnostic,
    QueryError,
    RawRecord,
    RemoteProtocolError,
    Target,
    TargetDiagnostic,
    TargetError,
    TargetState,
    TargetTimeout,
    TargetUnreachable,
)
from protocols.cql import parse
from protocols.local import FORMAT_VERSION, HEADING_FIELDS, fold, index_field, to_whoosh

__all__ = [
    "MANIFEST",
    "LocalConnector",
    "cache_root",
    "collection_dir",
    "open_index",
    "read_manifest",
]

MANIFEST = "manifest.json"

_open_lock = threading.Lock()
_open_indexes: dict[Path, Any] = {}


def cache_root() -> Path:
    """Where Svod keeps built indexes: ``$SVOD_CACHE_DIR``, else ``$XDG_CACHE_HOME/svod``."""
    explicit = os.environ.get("SVOD_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "svod"


def collection_dir(target: Target) -> Path:
    """The index directory of a local target: its ``index_dir``, else one in the cache.

    The cache name carries a hash of the file list, so two targets files that reuse an id
    for different files do not overwrite each other's index.
    """
    if target.index_dir:
        return Path(target.index_dir)
    digest = hashlib.sha256("\n".join(target.files).encode()).hexdigest()[:10]
    return cache_root() / "collections" / f"{target.id}-{digest}"


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The manifest of the index in ``index_dir``; None if there is none or it is unreadable."""
    try:
        doc = json.loads((index_dir / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def open_index(index_dir: Path) -> tuple[Any, dict[str, Any]]:
    """The whoosh index currently in use in ``index_dir`` and its manifest.

    Raises ``TargetUnreachable`` when nothing has been built there, ``RemoteProtocolError``
    when what is there cannot be read.
    """
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise TargetUnreachable(f"no collection index in {index_dir} (run `svod collection index`)")
    if manifest.get("format") != FORMAT_VERSION:
        raise RemoteProtocolError(
            f"index in {index_dir} has format {manifest.get('format')!r}, "
            f"this Svod reads {FORMAT_VERSION}: rebuild it"
        )
    generation = index_dir / str(manifest.get("generation", ""))
    with _open_lock:
        ix = _open_indexes.get(generation)
        if ix is None:
            try:
                ix = whoosh_index.open_dir(str(generation))
            except Exception as exc:  # whoosh raises many kinds; all mean "unreadable"
                raise RemoteProtocolError(f"cannot open index {generation}: {exc}") from None
            for stale in [p for p in _open_indexes if p.parent == index_dir]:
                del _open_indexes[stale]
            _open_indexes[generation] = ix
    return ix, manifest


class LocalConnector(Connector):
    """Searches a local collection index with CQL.

    ``prepare`` runs (in a worker thread) before each search: the federator passes a
    function that builds or refreshes the index when the files changed.

    >>> async with LocalConnector(target) as conn:  # doctest: +SKIP
    ...     result = await conn.search("dc.title=мир", limit=10)
    """

    def __init__(
        self,
        target: Target,
        *,
        prepare: Callable[[], object] | None = None,
        index_dir: Path | None = None,
    ) -> None:
        super().__init__(target)
        self.index_dir = index_dir if index_dir is not None else collection_dir(target)
        self._prepare = prepare

    async def _ready(self, progress: Progress | None) -> None:
        if progress is not None:
            progress(TargetState.CONNECTING)
        if self._prepare is not None:
            try:
                await asyncio.to_thread(self._prepare)
            except TargetError:
                raise
            except OSError as exc:
                raise TargetUnreachable(f"cannot read the collection: {exc}") from None

    def _query(self, text: TargetQuery) -> Any:
        if not isinstance(text, str):
            raise RemoteProtocolError("a local collection takes a CQL query, not RPN")
        try:
            return to_whoosh(parse(text), self.target.index_map, target_id=self.target.id)
        except CQLSyntaxError as exc:
            raise TargetDiagnostic(exc.diagnostic or Diagnostic.of("sru", 10, text)) from None
        except QueryError as exc:
            diag = exc.diagnostic or Diagnostic.of("sru", 47, str(exc))
            raise TargetDiagnostic(diag) from None

    def _run(self, q: Any, limit: int, skip: int = 0) -> tuple[int, list[tuple[str, bytes]]]:
        """The hit count and the hits ``skip + 1`` .. ``limit`` of the ranking."""
        ix, _ = open_index(self.index_dir)
        try:
            with ix.searcher() as searcher:
                results = searcher.search(q, limit=max(limit, 1))
                total = len(results)
                return total, [(hit["syntax"], hit["raw"]) for hit in results[skip:limit]]
        except TargetError:
            raise
        except Exception as exc:  # a damaged segment file, a vanished generation
            raise RemoteProtocolError(f"cannot search index {self.index_dir}: {exc}") from None

    async def search(
        self, query: TargetQuery, limit: int, progress: Progress | None = None
    ) -> SearchResult:
        """Run the CQL ``query`` and return up to ``limit`` records, best first."""
        return await self._ranked(query, 1, limit, progress)

    async def fetch(
        self, result_set: ResultSet, start: int, count: int, progress: Progress | None = None
    ) -> SearchResult:
        """Records ``start`` .. ``start + count - 1`` of the query's ranking (the index ranks
        a query the same way every time, until it is rebuilt)."""
        start = self._check_fetch(result_set, start)
        if count <= 0 or start > result_set.hits:
            return SearchResult(result_set.hits, result_set=result_set)
        return await self._ranked(result_set.query, start, count, progress)

    async def _ranked(
        self, query: TargetQuery, start: int, count: int, progress: Progress | None
    ) -> SearchResult:
        q = self._query(query)
        await self._ready(progress)
        if progress is not None:
            progress(TargetState.SEARCHING)
        seconds = self.target.timeouts.search + self.target.timeouts.present
        try:
            async with asyncio.timeout(seconds):
                total, found = await asyncio.to_thread(
                    self._run, q, start - 1 + max(count, 0), start - 1
                )
        except TimeoutError:
            raise TargetTimeout("search", seconds) from None
        records = tuple(
            RawRecord(self.target.id, pos, syntax, data)
            for pos, (syntax, data) in enumerate(found, start)
        )
        return SearchResult(
            hits=total, records=records, result_set=ResultSet(self.target.id, query, total)
        )

    async def ping(self) -> str:
        """Say how many records the index holds and when it was built."""
        await self._ready(None)
        ix, manifest = await asyncio.to_thread(open_index, self.index_dir)
        count = await asyncio.to_thread(ix.doc_count)
        files = len(manifest.get("files", []))
        built = manifest.get("built", "?")
        return f"local collection: {count} records from {files} file(s), built {built}"

    def _scan(self, field: str, term: str, count: int) -> list[ScanTerm]:
        ix, _ = open_index(self.index_dir)
        out: list[ScanTerm] = []
        with ix.reader() as reader:
            if " " not in term:
                return _scan_words(reader, field, term, count)
            for text, info in reader.iter_field(field, term):
                out.append(ScanTerm(_text(text), int(info.doc_frequency())))
                if len(out) >= count:
                    break
        return out

    async def scan(self, index: str, term: str, count: int = 20) -> list[ScanTerm]:
        """Browse a CQL index from ``term``: its words, or its whole headings (title, author,
        subject) when ``term`` has more than one word; counts are records."""
        try:
            field = index_field(index, self.target.index_map, self.target.id)
        except QueryError as exc:
            raise TargetDiagnostic(exc.diagnostic or Diagnostic.of("sru", 16, index)) from None
        if field == "year":
            raise TargetDiagnostic(Diagnostic.of("sru", 16, f"{index} (scan)"))
        field = HEADING_FIELDS.get(field, field)
        start = fold(term).strip()
        await self._ready(None)
        return await asyncio.to_thread(self._scan, field, start, count)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _scan_words(reader: Any, field: str, start: str, count: int) -> list[ScanTerm]:
    """Words of a heading field from ``start`` on: the words as written, not their stems,
    each with the number of records (not headings) holding it."""
    docs: dict[str, set[int]] = {}
    for text, _ in reader.iter_field(field):
        heading = _text(text)
        for word in set(re.findall(r"\w+", heading)):
            if word >= start:
                docs.setdefault(word, set()).update(reader.postings(field, heading).all_ids())
    return [ScanTerm(w, len(docs[w])) for w in sorted(docs)[:count]]
