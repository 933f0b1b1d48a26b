"""`svod demo` from nothing, offline; `svod collection index`; the bundled demo exports; and a
federation mixing local collections with real zebrasrv libraries."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from stdnum import isbn as stdisbn

from core import TargetState
from demo.collections import DATA, demo_libraries, demo_targets
from demo.zebra import Federation
from federator.collection import ensure_collection
from federator.engine import Engine

ROOT = Path(__file__).parents[1]
BOOKS: dict[str, Any] = yaml.safe_load((DATA / "books.yaml").read_text("utf-8"))


def svod(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process; no proxy and an empty cache, so nothing can be fetched."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["SVOD_CACHE_DIR"] = str((cwd or Path.cwd()) / "cache")
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def _make() -> Any:
    """demo/data/collections/make.py, the writer of the exports, as a module."""
    spec = importlib.util.spec_from_file_location("make_collections", DATA / "make.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_exports_are_what_make_py_writes() -> None:
    built: dict[str, bytes] = _make().build()
    assert set(built) == {lib.file for lib in demo_libraries()}
    for name, data in built.items():
        assert (DATA / name).read_bytes() == data, f"{name}: run demo/data/collections/make.py"


def test_the_sample_is_four_libraries_with_overlap_and_checked_isbns() -> None:
    books = BOOKS["books"]
    assert len({lib.id for lib in demo_libraries()}) == 4
    assert sum(len(b["in"]) for b in books) >= 150
    assert sum(len(b["in"]) > 1 for b in books) >= 30
    for b in books:
        if "isbn" in b:
            assert stdisbn.is_valid(b["isbn"]), b["k"]
    wp = [b for b in books if b["t"] in ("Война и мир", "War and peace")]
    assert len(wp) >= 5 and len({b["y"] for b in wp}) >= 5
    # each file really is in the charset its library says
    raw = (DATA / "oblsci-rusmarc-cp1251.iso").read_bytes()
    assert "Толстой".encode("cp1251") in raw and "Толстой".encode() not in raw
    assert "Толстой".encode() in (DATA / "citylib-rusmarc-utf8.iso").read_bytes()


def _editions(stdout: str) -> list[tuple[str, list[str]]]:
    """(edition line, its library lines) from the demo's table of works > editions."""
    out: list[tuple[str, list[str]]] = []
    for line in stdout.splitlines():
        if re.match(r"^ {7}(\d{4}|----) ", line):
            out.append((line.strip(), []))
        elif line.startswith(" " * 13) and out:
            out[-1][1].append(line.strip())
    return out


def _works(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.match(r"^\s*\d+\. ", line)]


def test_svod_demo_from_nothing(tmp_path: Path) -> None:
    first = svod("demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    editions = _editions(first.stdout)
    assert editions and _works(first.stdout)
    names = {lib.id: lib.name for lib in demo_libraries()}
    # the 1983 "Война и мир" is held by three RUSMARC libraries: one edition, three libraries
    holders = next(b["in"] for b in BOOKS["books"] if b["k"] == "tolstoy-wp-hl-1983")
    letters = {k: v["id"] for k, v in BOOKS["libraries"].items()}
    expected = {names[letters[c]] for c in holders}
    hl = [libs for line, libs in editions if line.startswith("1983 Война и мир")]
    assert len(hl) == 1
    assert {line.split(":")[0] for line in hl[0]} == expected
    assert all(re.search(r"\d+ (available|on loan|status unknown|in transit)", x) for x in hl[0])
    # statuses are the copies' own: the IRBIS 910^a codes make.py wrote for this edition
    book = next(b for b in BOOKS["books"] if b["k"] == "tolstoy-wp-hl-1983")
    codes = Counter(c["irbis"] for c in _make().copies(book, "oblsci"))
    words = {"0": "available", "1": "on loan", "5": "unavailable", "8": "in transit"}
    words |= {"9": "unavailable", "4": "lost"}
    shown = next(x for x in hl[0] if x.startswith(names["oblsci"]))
    for code, n in codes.items():
        assert f"{n} {words[code]}" in shown or words[code] == "unavailable", (shown, codes)
    assert any(len(libs) > 1 for _, libs in editions)
    assert "of 4 libraries" in first.stdout
    assert "indexing" in first.stderr
    assert "Next: svod --config" in first.stderr
    # the second run finds the indexes up to date and prints the same hits
    second = svod("demo", cwd=tmp_path)
    assert second.returncode == 0 and "indexing" not in second.stderr
    # (works that tie in rank may come in either order: answers arrive concurrently)
    assert sorted(second.stdout.splitlines()) == sorted(first.stdout.splitlines())
    # the targets file it points to works with `svod search`
    config = re.search(r"svod --config (\S+) search", first.stderr)
    assert config is not None
    found = svod("--config", config.group(1), "search", "dc.creator=булгаков", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    bulgakov = [b for b in BOOKS["books"] if b["a"].startswith(("Булгаков", "Bulgakov"))]
    assert len(_works(found.stdout)) >= 2 and len(bulgakov) >= 5


def test_svod_demo_json_with_a_query(tmp_path: Path) -> None:
    import json

    result = svod("demo", "dc.title=python", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    pythons = [b for b in BOOKS["books"] if "Python" in b["t"]]
    assert doc["hits"] and len(doc["hits"]) <= len(pythons)
    assert {t["id"] for t in doc["targets"] if t["status"] == "done"} == {
        lib.id for lib in demo_libraries()
    }
    both = [h for h in doc["hits"] if len(h["libraries"]) > 1]
    assert both, "Fluent Python (1st ed.) is held by two libraries under one ISBN"


def test_svod_collection_index(tmp_path: Path) -> None:
    data = (DATA / "childlib-rusmarc-cp1251.iso").read_bytes()
    first_end = data.index(b"\x1d") + 1
    broken = data[:first_end] + b"garbage\x1d" + data[first_end:]
    export = tmp_path / "export.iso"
    export.write_bytes(broken)
    args = ["collection", "index", str(export), "--name", "kids", "--dir", str(tmp_path / "ix"),
            "--flavour", "rusmarc", "--charset", "cp1251"]  # fmt: skip
    built = svod(*args, cwd=tmp_path)
    total = data.count(b"\x1d")
    assert built.returncode == 0, built.stderr
    assert f"kids: indexed {total} records, 1 skipped" in built.stdout
    assert f"skipped record at export.iso: offset {first_end}:" in built.stderr
    again = svod(*args, cwd=tmp_path)
    assert f"kids: up to date: {total} records" in again.stdout
    missing = svod("collection", "index", str(tmp_path / "nope.iso"), "--name", "x", cwd=tmp_path)
    assert missing.returncode != 0 and "nope.iso" in missing.stderr


@pytest.mark.servers
def test_mixed_federation_local_collections_and_zebra(
    zebra_libraries: Federation, tmp_path: Path
) -> None:
    from demo.run import demo_targets as zebra_targets

    ports = {lib.name: lib.port for lib in zebra_libraries}
    # the zebra demo targets use the fixture's database names (lib1..lib3)
    remote = zebra_targets(ports)
    local = [t for t in demo_targets(tmp_path) if t.id in ("unilib", "oblsci")]
    for t in local:
        ensure_collection(t)
    outcome = asyncio.run(Engine([*remote, *local]).search("dc.title=computer*"))
    states = {s.target_id: s for s in outcome.statuses}
    assert all(s.state is TargetState.DONE for s in states.values()), states
    assert states["unilib"].hits >= 1 and sum(states[t.id].hits for t in remote) >= 1
    sources = {t for hit in outcome.hits for t in hit.libraries}
    assert "unilib" in sources and sources & {t.id for t in remote}
