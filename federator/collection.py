"""Local collections: ISO2709 / MARCXML files -> normalizers -> an on-disk whoosh index.

A library with no Z39.50 or SRU server exports its catalog to a file; Svod indexes the file
and ``connectors.local.LocalConnector`` searches it like any other target.

    files --split--> RawRecord --normalize--> Record --protocols.local.document--> index

The index is rebuilt only when the files (or the flavour / charset they are read with)
change: ``manifest.json`` keeps each file's size, mtime and SHA-256; a file whose mtime
moved but whose bytes did not is not re-indexed. A build writes a new generation directory
and then replaces the manifest atomically, so a search running meanwhile reads the old one.
A record that cannot be decoded is reported with its file and offset and left out; the rest
are indexed.

>>> report = ensure_collection(local_target("kemrsl", ["export.iso"], flavour="rusmarc"))
... # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree
from whoosh import index as whoosh_index  # type: ignore[import-untyped]

from connectors.local import MANIFEST, collection_dir, read_manifest
from core import RawRecord, RecordError, Target, TargetUnreachable, Timeouts
from core.xmlsafe import parse_untrusted
from normalizers import normalize
from protocols.local import FORMAT_VERSION, document, schema

__all__ = [
    "BadRecord",
    "IndexProgress",
    "IndexReport",
    "ensure_collection",
    "expand_files",
    "local_target",
    "read_records",
]

#: Called with (bytes read so far, bytes in all files) while a build runs.
IndexProgress = Callable[[int, int], None]

#: ISO2709 record syntax per MARC flavour (the normalizers read the flavour from it).
_SYNTAX = {"marc21": "usmarc", "unimarc": "unimarc", "rusmarc": "rusmarc"}
_RT = 0x1D  # ISO2709 record terminator
_XML_LIMIT = 1 << 31
_MARCXML_NS = "http://www.loc.gov/MARC21/slim"


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record left out of the index: its file, where it starts, and why."""

    path: str
    offset: int
    message: str
    unit: str = "byte"  # "byte" offset in ISO2709, "line" in MARCXML

    def __str__(self) -> str:
        where = f"offset {self.offset}" if self.unit == "byte" else f"line {self.offset}"
        return f"{Path(self.path).name}: {where}: {self.message}"


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What ``ensure_collection`` did: how many records the index holds, which were left out."""

    target_id: str
    index_dir: Path
    records: int
    bad: tuple[BadRecord, ...]
    rebuilt: bool
    seconds: float
    files: tuple[str, ...]


def local_target(
    name: str,
    files: Sequence[str | Path],
    *,
    index_dir: str | Path = "",
    flavour: str = "marc21",
    charset: str = "",
    display_name: str = "",
    max_records: int = 20,
) -> Target:
    """A ``protocol: local`` target for ``files`` (made absolute), as targets.yaml would give."""
    return Target(
        id=name,
        name=display_name or name,
        protocol="local",
        files=tuple(str(Path(f).resolve()) for f in files),
        index_dir=str(Path(index_dir).resolve()) if index_dir else "",
        flavour=flavour,
        charset=charset,
        max_records=max_records,
        timeouts=Timeouts(connect=5.0, search=10.0, present=10.0),
    )


def expand_files(patterns: Sequence[str]) -> list[str]:
    """The files a target names, globs expanded (sorted); a missing one: ``TargetUnreachable``."""
    out: list[str] = []
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            matched = sorted(glob.glob(pattern))
            if not matched:
                raise TargetUnreachable(f"no collection file matches {pattern}")
            out += matched
        elif not os.path.isfile(pattern):
            raise TargetUnreachable(f"collection file not found: {pattern}")
        else:
            out.append(pattern)
    return list(dict.fromkeys(out))


# --- reading files ----------------------------------------------------------------------


def _is_xml(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _split_iso2709(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) of each record; resynchronises on the terminator after a bad length."""
    pos, n = 0, len(data)
    while pos < n:
        while pos < n and data[pos] in b" \t\r\n\x00":
            pos += 1
        if pos >= n:
            return
        head = data[pos : pos + 5]
        length = int(head) if head.isdigit() else 0
        if length >= 24 and pos + length <= n and data[pos + length - 1] == _RT:
            yield pos, data[pos : pos + length]
            pos += length
            continue
        end = data.find(bytes([_RT]), pos)
        end = n - 1 if end < 0 else end
        yield pos, data[pos : end + 1]
        pos = end + 1


def _marcxml_records(path: str, data: bytes) -> Iterator[tuple[int, bytes] | BadRecord]:
    try:
        root = parse_untrusted(data, what=Path(path).name, limit=_XML_LIMIT, error=RecordError)
    except RecordError as exc:
        yield BadRecord(path, 1, str(exc), "line")
        return
    records = [root] if etree.QName(root).localname == "record" else list(root.iter())
    for el in records:
        if not isinstance(el.tag, str) or etree.QName(el).localname != "record":
            continue
        if etree.QName(el).namespace not in (None, _MARCXML_NS):
            continue
        line = el.sourceline
        yield (line if isinstance(line, int) else 0), etree.tostring(el)


def read_records(
    path: str, *, flavour: str = "marc21", target_id: str = ""
) -> Iterator[tuple[int, RawRecord] | BadRecord]:
    """Every record of one ISO2709 or MARCXML file as (offset, RawRecord); or a ``BadRecord``.

    The format is told from the bytes (``<`` first: MARCXML); offsets are byte offsets in
    ISO2709 files and line numbers in MARCXML. Nothing is decoded here.
    """
    data = Path(path).read_bytes()
    if _is_xml(data):
        for item in _marcxml_records(path, data):
            if isinstance(item, BadRecord):
                yield item
            else:
                yield item[0], RawRecord(target_id, 0, "marcxml", item[1])
        return
    syntax = _SYNTAX.get(flavour, "usmarc")
    for offset, chunk in _split_iso2709(data):
        yield offset, RawRecord(target_id, 0, syntax, chunk)


# --- the manifest -----------------------------------------------------------------------


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _settings(target: Target) -> dict[str, Any]:
    return {"flavour": target.flavour, "charset": target.charset}


def _current(manifest: dict[str, Any] | None, files: list[str], target: Target) -> bool | None:
    """True: up to date; None: same bytes but mtimes moved (manifest to refresh); False: stale."""
    if manifest is None or manifest.get("format") != FORMAT_VERSION:
        return False
    if manifest.get("settings") != _settings(target):
        return False
    entries = manifest.get("files", [])
    if [e.get("path") for e in entries] != files:
        return False
    touched = False
    for entry, path in zip(entries, files, strict=True):
        st = os.stat(path)
        if (entry.get("size"), entry.get("mtime_ns")) == (st.st_size, st.st_mtime_ns):
            continue
        if entry.get("size") != st.st_size or entry.get("sha256") != _sha256(path):
            return False
        touched = True
    return None if touched else True


def _file_entries(files: list[str]) -> list[dict[str, Any]]:
    out = []
    for path in files:
        st = os.stat(path)
        out.append(
            {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": _sha256(path)}
        )
    return out


def _write_manifest(index_dir: Path, manifest: dict[str, Any]) -> None:
    tmp = index_dir / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    os.replace(tmp, index_dir / MANIFEST)


@contextlib.contextmanager
def _locked(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- building ---------------------------------------------------------------------------


def _build(
    target: Target, files: list[str], gen_dir: Path, progress: IndexProgress | None
) -> tuple[int, list[BadRecord]]:
    sizes = [os.path.getsize(f) for f in files]
    total, done_before = sum(sizes), 0
    gen_dir.mkdir(parents=True)
    ix = whoosh_index.create_in(str(gen_dir), schema())
    writer = ix.writer(limitmb=128)
    count, bad = 0, []
    last = time.monotonic()
    try:
        for fileno, (path, size) in enumerate(zip(files, sizes, strict=True)):
            for item in read_records(path, flavour=target.flavour, target_id=target.id):
                if isinstance(item, BadRecord):
                    bad.append(item)
                    continue
                offset, raw = item
                try:
                    record = normalize(raw, charset=target.charset, flavour=target.flavour)
                except Exception as exc:  # RecordError, or a normalizer bug: skip, go on
                    unit = "line" if raw.syntax == "marcxml" else "byte"
                    text = str(exc) if isinstance(exc, RecordError) else f"internal: {exc!r}"
                    bad.append(BadRecord(path, offset, text, unit))
                    continue
                writer.add_document(**document(record, raw, f"{fileno}:{offset}"))
                count += 1
                if progress is not None and time.monotonic() - last > 0.1:
                    last = time.monotonic()
                    within = offset if raw.syntax != "marcxml" else 0  # lines, not bytes
                    progress(done_before + min(within, size), total)
            done_before += size
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    if progress is not None:
        progress(total, total)
    return count, bad


def _prune(index_dir: Path, keep: set[str]) -> None:
    for child in index_dir.iterdir():
        if child.is_dir() and child.name.startswith("g-") and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


def ensure_collection(
    target: Target, *, progress: IndexProgress | None = None, force: bool = False
) -> IndexReport:
    """Build the index of a local target, or do nothing when it is up to date.

    Raises ``TargetUnreachable`` when a file is missing; a record that cannot be decoded is
    reported in ``IndexReport.bad`` and left out.
    """
    started = time.monotonic()
    files = expand_files(target.files)
    index_dir = collection_dir(target)
    with _locked(index_dir):
        manifest = read_manifest(index_dir)
        state = None if force else _current(manifest, files, target)
        if state is not False and manifest is not None and not force:
            if state is None:  # touched, not changed: remember the new mtimes
                manifest["files"] = _file_entries(files)
                _write_manifest(index_dir, manifest)
            return IndexReport(
                target.id,
                index_dir,
                int(manifest.get("records", 0)),
                tuple(BadRecord(**b) for b in manifest.get("bad", [])),
                False,
                time.monotonic() - started,
                tuple(files),
            )
        entries = _file_entries(files)
        digest = hashlib.sha256("".join(e["sha256"] for e in entries).encode()).hexdigest()
        generation = f"g-{time.time_ns()}-{digest[:8]}"
        try:
            count, bad = _build(target, files, index_dir / generation, progress)
        except BaseException:
            shutil.rmtree(index_dir / generation, ignore_errors=True)
            raise
        previous = str((manifest or {}).get("generation", ""))
        _write_manifest(
            index_dir,
            {
                "format": FORMAT_VERSION,
                "target": target.id,
                "generation": generation,
                "settings": _settings(target),
                "files": entries,
                "records": count,
                "bad": [
                    {"path": b.path, "offset": b.offset, "message": b.message, "unit": b.unit}
                    for b in bad
                ],
                "built": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
        # the previous generation stays one round for searches that still have it open
        _prune(index_dir, {generation, previous})
    return IndexReport(
        target.id, index_dir, count, tuple(bad), True, time.monotonic() - started, tuple(files)
    )
