"""Normalize 10,000+ real MARC records (ISO 2709 -> canonical ``core.Record``) and compare the
rate with ``yaz-marcdump -o marcxml`` on the same file, in the same run.

The records are the Library of Congress "Books All 2016" part 1 file (MARC21, UTF-8) that the
pymarc 5.4.0 source distribution carries; the first run downloads it with pip (76 MB) and
caches it outside the repository (``$SVOD_BENCH_CACHE``, default ``~/.cache/svod-bench``).

    .venv/bin/python bench/normalize.py --records 20000 --rounds 5
    .venv/bin/python bench/normalize.py --file some.mrc     # any ISO 2709 file instead
    .venv/bin/python bench/normalize.py --file rusmarc.iso --syntax rusmarc --charset cp1251

A file with fewer records than ``--records`` is read again until the count is reached (the
first line says so): the memo tables of values that recur then favour us, so such a figure
is on the optimistic side.

``--charset`` is what a target's ``charset:`` in targets.yaml gives the normalizer: without
it the charset is read from the record and checked against its bytes (for an 8-bit Cyrillic
record, letter statistics over three code pages: ~20 µs). ``--syntax`` is the record syntax
a server would announce (``usmarc``, ``unimarc``, ``rusmarc``).

Both sides are timed as wall-clock time of one process on one core, best of the rounds.
yaz-marcdump reads, decodes and writes MARCXML in C; our side reads the file, frames each
record, decodes it (charset detection included) and maps it to the canonical record. The
split into "read" (framing + decoding into ``MarcRecord``) and "map" (field maps ->
``Record``) shows where the time goes; each step is timed the way ``normalize`` runs it, one
record after another, each result dropped before the next (holding 20,000 decoded records
at once would time the allocator and the cyclic collector instead: page faults cost
microseconds each on a VM, and the split would not add up to the whole).

The first line says whether the C reader (``normalizers._marcread``, built by
``pip install -e .``) ran, or the pure-Python code (``SVOD_PURE_PYTHON=1``, or not built);
and whether the map engine ran compiled by mypyc (``normalizers.COMPILED``) or as Python.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import RawRecord
from normalizers import COMPILED, normalize
from normalizers.iso2709 import NATIVE, split_stream
from normalizers.mapping import to_record
from normalizers.marc import MarcRecord, read_iso2709

MEMBER = "pymarc-5.4.0/BooksAll.2016.part01.utf8"


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "svod-bench"
    return Path(os.environ.get("SVOD_BENCH_CACHE", default))


def books_all() -> Path:
    """The LoC file, fetched and unpacked once."""
    target = cache_dir() / "BooksAll.2016.part01.utf8"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    sdist = target.parent / "pymarc-5.4.0.tar.gz"
    if not sdist.exists():
        print("downloading the pymarc 5.4.0 sdist (76 MB) with pip...", file=sys.stderr)
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*pip, "pymarc==5.4.0", "-d", str(target.parent)], check=True)
    with tarfile.open(sdist) as tar:
        member = tar.getmember(MEMBER)
        source = tar.extractfile(member)
        assert source is not None
        with open(target.with_suffix(".part"), "wb") as out:
            shutil.copyfileobj(source, out)
    target.with_suffix(".part").rename(target)
    return target


def first_records(path: Path, count: int) -> list[bytes]:
    out: list[bytes] = []
    with open(path, "rb") as f:
        data = f.read(count * 2000)
    for _, chunk in split_stream(data):
        if not chunk.endswith(b"\x1d"):
            break  # the last one may be cut by the read above
        out.append(chunk)
        if len(out) == count:
            break
    return out


def each(step: Callable[[Any], object], items: list[Any]) -> Callable[[], None]:
    """``step`` over ``items`` one at a time, keeping no result (as the pipeline does)."""

    def run() -> None:
        for item in items:
            step(item)

    return run


def best_of(rounds: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--file", type=Path, help="an ISO 2709 file (default: LoC BooksAll)")
    parser.add_argument("--charset", default="", help="the target's charset (default: detect)")
    parser.add_argument("--syntax", default="usmarc", help="record syntax (default: usmarc)")
    args = parser.parse_args()
    if shutil.which("yaz-marcdump") is None:
        sys.exit("yaz-marcdump not found (Debian package 'yaz'): nothing to compare with")
    source = args.file or books_all()
    records = first_records(source, args.records)
    distinct = len(records)
    if 0 < distinct < args.records:  # a small file: its records again, up to the count
        records = (records * (args.records // distinct + 1))[: args.records]
    charset, syntax = args.charset, args.syntax
    n = len(records)
    with tempfile.NamedTemporaryFile(suffix=".mrc") as sample:
        sample.write(b"".join(records))
        sample.flush()

        def yaz() -> None:
            subprocess.run(
                ["yaz-marcdump", "-o", "marcxml", sample.name],
                stdout=subprocess.DEVNULL,
                check=True,
            )

        yaz_time = best_of(args.rounds, yaz)

        def svod() -> None:
            with open(sample.name, "rb") as f:
                data = f.read()
            for position, (_, chunk) in enumerate(split_stream(data), 1):
                normalize(RawRecord("bench", position, syntax, chunk), charset=charset)

        svod_time = best_of(args.rounds, svod)

    def read(data: bytes) -> MarcRecord:
        return read_iso2709(data, charset, hint=syntax)

    decoded = [read(r) for r in records]
    read_time = best_of(args.rounds, each(read, records))
    map_time = best_of(args.rounds, each(to_record, decoded))

    reader = "C (normalizers._marcread)" if NATIVE else "pure Python"
    engine = "compiled (mypyc)" if "normalizers.mapping" in COMPILED else "Python"
    repeated = f" ({distinct} distinct, repeated)" if distinct < n else ""
    print(f"{n} records from {source.name}{repeated}, best of {args.rounds} rounds")
    print(f"  reader: {reader}; map: {engine}; charset: {charset or 'detected'}")
    print(f"  yaz-marcdump -o marcxml : {n / yaz_time:10,.0f} records/s")
    print(f"  svod normalize          : {n / svod_time:10,.0f} records/s")
    print(
        f"    read (frame + decode) : {n / read_time:10,.0f} records/s"
        f"  ({read_time / n * 1e6:5.1f} µs/record)"
    )
    print(
        f"    map (field maps)      : {n / map_time:10,.0f} records/s"
        f"  ({map_time / n * 1e6:5.1f} µs/record)"
    )
    print(f"  ratio svod / yaz        : {yaz_time / svod_time:10.2f}  (goal: 0.50)")


if __name__ == "__main__":
    main()
