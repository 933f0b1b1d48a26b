"""Building local collection indexes: bad records skipped with their offsets, rebuilt only
when the files change, MARCXML and ISO2709 told apart, searches during a rebuild."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from connectors.local import LocalConnector, read_manifest
from core import Target, TargetUnreachable
from demo.collections import DATA
from federator.collection import (
    BadRecord,
    ensure_collection,
    expand_files,
    local_target,
    read_records,
)

OBLSCI = DATA / "oblsci-rusmarc-cp1251.iso"
UNILIB = DATA / "unilib-marc21.xml"


def _count(target: Target, query: str = "dc.date>0") -> int:
    async def go() -> int:
        async with LocalConnector(target) as conn:
            return (await conn.search(query, 0)).hits

    return asyncio.run(go())


def _records(path: Path) -> list[bytes]:
    """The ISO2709 records of a file, split on the terminator (independently of the code)."""
    return [chunk + b"\x1d" for chunk in path.read_bytes().split(b"\x1d") if chunk]


def test_bad_records_are_reported_with_offsets_and_the_rest_indexed(tmp_path: Path) -> None:
    good = _records(OBLSCI)
    broken_leader = b"99999" + good[3][5:]  # claims more bytes than the file has
    junk = b"this is not a MARC record at all\x1d"
    no_directory = b"00030nam  2200025 i 450 \x1e\x1e\x1d"
    parts = [good[0], good[1], junk, good[2], broken_leader, good[4], no_directory, *good[5:]]
    data = b"".join(parts)
    path = tmp_path / "mixed.iso"
    path.write_bytes(data)
    target = local_target(
        "mixed", [path], index_dir=tmp_path / "ix", flavour="rusmarc", charset="cp1251"
    )
    report = ensure_collection(target)
    offsets = {b.offset for b in report.bad}
    expected = {data.index(junk), data.index(no_directory)}
    assert expected <= offsets
    assert all(isinstance(b, BadRecord) and b.path == str(path) for b in report.bad)
    # the record with a lying length is either re-read up to its terminator or skipped
    indexed_good = len(good) - (1 if data.index(broken_leader) in offsets else 0)
    assert report.records == indexed_good >= len(good) - 1
    assert _count(target) == report.records
    assert "mixed.iso: offset" in str(report.bad[0])


def test_rebuilt_only_when_the_files_change(tmp_path: Path) -> None:
    path = tmp_path / "export.iso"
    shutil.copy(OBLSCI, path)
    target = local_target(
        "ob", [path], index_dir=tmp_path / "ix", flavour="rusmarc", charset="cp1251"
    )
    first = ensure_collection(target)
    assert first.rebuilt and first.records == len(_records(OBLSCI))
    generation = read_manifest(tmp_path / "ix")["generation"]  # type: ignore[index]
    again = ensure_collection(target)
    assert not again.rebuilt and again.records == first.records
    # touched, same bytes: no rebuild, the new mtime is remembered
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    touched = ensure_collection(target)
    manifest = read_manifest(tmp_path / "ix")
    assert manifest is not None and not touched.rebuilt
    assert manifest["generation"] == generation and manifest["files"][0]["mtime_ns"] == 10**9
    # fewer records: rebuilt, and searches see the new generation
    path.write_bytes(b"".join(_records(OBLSCI)[:10]))
    changed = ensure_collection(target)
    assert changed.rebuilt and changed.records == 10 and _count(target) == 10
    # a different charset is a different index
    from dataclasses import replace

    assert ensure_collection(replace(target, charset="utf-8")).rebuilt
    assert ensure_collection(target, force=True).rebuilt


def test_old_generations_are_pruned(tmp_path: Path) -> None:
    path = tmp_path / "export.iso"
    records = _records(OBLSCI)
    target = local_target(
        "ob", [path], index_dir=tmp_path / "ix", flavour="rusmarc", charset="cp1251"
    )
    for n in (3, 4, 5, 6):
        path.write_bytes(b"".join(records[:n]))
        assert ensure_collection(target).records == n
    generations = [p for p in (tmp_path / "ix").iterdir() if p.name.startswith("g-")]
    assert len(generations) == 2  # the current one and the one before it


def test_marcxml_and_iso2709_are_told_apart_and_offsets_are_lines(tmp_path: Path) -> None:
    items = list(read_records(str(UNILIB), flavour="marc21"))
    assert items and all(not isinstance(i, BadRecord) for i in items)
    assert {i[1].syntax for i in items if not isinstance(i, BadRecord)} == {"marcxml"}
    text = UNILIB.read_text("utf-8")
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith("<record")]
    assert [i[0] for i in items if not isinstance(i, BadRecord)] == lines
    # an empty <record/> is reported at its line, the others indexed
    broken = text.replace("</record>\n", "</record>\n<record/>\n", 1)
    path = tmp_path / "u.xml"
    path.write_text(broken, "utf-8")
    target = local_target("u", [path], index_dir=tmp_path / "ix")
    report = ensure_collection(target)
    assert report.records == len(lines)
    assert [(b.unit, b.offset) for b in report.bad] == [("line", lines[1])]
    # not well-formed at all: one bad entry for the file, nothing indexed
    (tmp_path / "bad.xml").write_text("<collection><record>", "utf-8")
    bad = ensure_collection(local_target("b", [tmp_path / "bad.xml"], index_dir=tmp_path / "b"))
    assert bad.records == 0 and len(bad.bad) == 1 and "not XML" in bad.bad[0].message


def test_several_files_globs_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    shutil.copy(DATA / "childlib-rusmarc-cp1251.iso", tmp_path / "a" / "1.iso")
    shutil.copy(OBLSCI, tmp_path / "a" / "2.iso")
    files = expand_files([str(tmp_path / "a" / "*.iso")])
    assert [Path(f).name for f in files] == ["1.iso", "2.iso"]
    target = local_target(
        "two",
        [str(tmp_path / "a" / "*.iso")],
        index_dir=tmp_path / "ix",
        flavour="rusmarc",
        charset="cp1251",
    )
    total = len(_records(OBLSCI)) + len(_records(DATA / "childlib-rusmarc-cp1251.iso"))
    assert ensure_collection(target).records == total
    with pytest.raises(TargetUnreachable, match="not found"):
        ensure_collection(local_target("x", [tmp_path / "nope.iso"], index_dir=tmp_path / "x"))
    with pytest.raises(TargetUnreachable, match="no collection file matches"):
        expand_files([str(tmp_path / "*.mrc")])


def test_progress_reaches_the_total(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    target = local_target(
        "ob", [OBLSCI], index_dir=tmp_path / "ix", flavour="rusmarc", charset="cp1251"
    )
    ensure_collection(target, progress=lambda done, total: seen.append((done, total)))
    size = OBLSCI.stat().st_size
    assert seen and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_default_index_dir_is_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.local import collection_dir

    monkeypatch.setenv("SVOD_CACHE_DIR", str(tmp_path / "cache"))
    target = local_target("ob", [OBLSCI], flavour="rusmarc", charset="cp1251")
    other = local_target("ob", [UNILIB])
    assert collection_dir(target).parent == tmp_path / "cache" / "collections"
    assert collection_dir(target) != collection_dir(other)
    assert ensure_collection(target).index_dir == collection_dir(target)
    assert _count(target) == len(_records(OBLSCI))
