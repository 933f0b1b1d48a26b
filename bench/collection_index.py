"""Index a 10,000-record collection with Svod (whoosh) and with Zebra, then query both.

The records are the first N of the Library of Congress "Books All 2016" part 1 file that the
pymarc 5.4.0 source distribution carries (UTF-8 MARC21); it is fetched once with pip and
cached outside the repository (``$SVOD_CACHE_DIR/bench``, else ``~/.cache/svod/bench``).
In the same run, on the same records:

    svod   federator.collection.ensure_collection (normalizers + whoosh), then
           connectors.local.LocalConnector.search for each query
    zebra  demo.zebra.start_zebra (zebraidx init + update, then zebrasrv starts), then
           connectors.z3950.Z3950Connector.search with the same queries as RPN

Both searches fetch up to 20 records; the Z39.50 one opens a connection per search, as the
engine does without a pool. It prints build seconds, median latency per query, and ratios.

    .venv/bin/python bench/collection_index.py --records 10000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.local import LocalConnector, cache_root
from connectors.z3950 import Z3950Connector
from core import Target, Timeouts
from demo.zebra import start_zebra
from federator.collection import ensure_collection, local_target
from federator.query import parse_query, to_rpn

MEMBER = "pymarc-5.4.0/BooksAll.2016.part01.utf8"
QUERIES = [
    "dc.title=history",
    "dc.creator=smith",
    'dc.subject="united states"',
    "dc.title=comput*",
    "dc.date>=2000",
    "dc.title=war and dc.date<1950",
    "dc.title=love or dc.title=poems",
    "dc.title=america not dc.subject=history",
]


def books_all(limit: int) -> list[bytes]:
    """The first ``limit`` records of LoC Books All 2016 part 1, downloaded once."""
    cache = cache_root() / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    part = cache / f"booksall-{limit}.mrc"
    if not part.exists():
        sdist = cache / "pymarc-5.4.0.tar.gz"
        if not sdist.exists():
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                 "pymarc==5.4.0", "-d", str(cache)],
                check=True,
                capture_output=True,
            )  # fmt: skip
        with tarfile.open(sdist) as tar:
            member = tar.extractfile(MEMBER)
            assert member is not None, MEMBER
            records: list[bytes] = []
            buf = b""
            while len(records) < limit:
                block = member.read(1 << 20)
                if not block:
                    break
                buf += block
                *whole, buf = buf.split(b"\x1d")
                records += [r + b"\x1d" for r in whole if r.strip()]
        part.write_bytes(b"".join(records[:limit]))
    data = part.read_bytes()
    return [r + b"\x1d" for r in data.split(b"\x1d") if r.strip()][:limit]


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def svod_queries(target: Target, rounds: int) -> dict[str, tuple[int, float]]:
    out = {}
    for q in QUERIES:
        times, hits = [], 0
        for _ in range(rounds):
            started = time.perf_counter()
            async with LocalConnector(target) as conn:
                hits = (await conn.search(q, 20)).hits
            times.append(time.perf_counter() - started)
        out[q] = (hits, median_ms(times))
    return out


async def zebra_queries(target: Target, rounds: int) -> dict[str, tuple[int, float]]:
    out = {}
    for q in QUERIES:
        rpn = to_rpn(parse_query(q), target.index_map, target_id=target.id)
        times, hits = [], 0
        for _ in range(rounds):
            started = time.perf_counter()
            async with Z3950Connector(target) as conn:
                hits = (await conn.search(rpn, 20)).hits
            times.append(time.perf_counter() - started)
        out[q] = (hits, median_ms(times))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    records = books_all(args.records)
    print(f"{len(records)} records of LoC Books All 2016 ({sum(map(len, records))} bytes)")
    with tempfile.TemporaryDirectory(prefix="svod-bench-") as tmp:
        root = Path(tmp)
        export = root / "books.mrc"
        export.write_bytes(b"".join(records))
        target = local_target("books", [export], index_dir=root / "svod")
        started = time.perf_counter()
        report = ensure_collection(target)
        svod_build = time.perf_counter() - started
        size = sum(f.stat().st_size for f in (root / "svod").rglob("*") if f.is_file())
        print(f"svod : indexed {report.records} records ({len(report.bad)} skipped) "
              f"in {svod_build:.2f} s, index {size / 1e6:.1f} MB")  # fmt: skip
        # zebraidx insists on indexing every record given; give it the ones Svod could read
        started = time.perf_counter()
        library = start_zebra(root / "zebra", "books", records)
        zebra_build = time.perf_counter() - started
        try:
            zsize = sum(f.stat().st_size for f in (root / "zebra" / "reg").rglob("*"))
            print(f"zebra: indexed {library.record_count} records in {zebra_build:.2f} s "
                  f"(zebraidx + zebrasrv start), register {zsize / 1e6:.1f} MB")  # fmt: skip
            zt = Target("books", "zebra", "z3950", host="127.0.0.1", port=library.port,
                        database="books", timeouts=Timeouts(5, 60, 60))  # fmt: skip
            ours = asyncio.run(svod_queries(target, args.rounds))
            theirs = asyncio.run(zebra_queries(zt, args.rounds))
        finally:
            library.stop()
    print(f"\nbuild: svod {svod_build:.2f} s, zebra {zebra_build:.2f} s, "
          f"svod/zebra = {svod_build / zebra_build:.2f}")  # fmt: skip
    print(f"\n{'query':<42} {'svod hits':>9} {'ms':>7}   {'zebra hits':>10} {'ms':>7}  ratio")
    for q in QUERIES:
        (sh, sms), (zh, zms) = ours[q], theirs[q]
        print(f"{q:<42} {sh:>9} {sms:>7.1f}   {zh:>10} {zms:>7.1f}  {sms / zms:5.2f}")
    s_mean = statistics.mean(v[1] for v in ours.values())
    z_mean = statistics.mean(v[1] for v in theirs.values())
    print(f"\nmedian latency, mean over queries: svod {s_mean:.1f} ms, zebra {z_mean:.1f} ms, "
          f"svod/zebra = {s_mean / z_mean:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
