"""Federation benchmark with Pazpar2's workload: three Zebra libraries, 50 one-word queries.

    pip download --no-deps --no-binary :all: pymarc==5.4.0 -d DIR && tar xzf DIR/*.tar.gz -C DIR
    .venv/bin/python bench/federation.py DIR/pymarc-5.4.0/BooksAll.2016.part01.utf8

Set-up: the first 6,000 records of the Library of Congress file in the pymarc 5.4.0 sdist,
dealt out to three zebrasrv libraries (``demo.zebra``: each record to a non-empty subset,
so about 4,000 each, overlapping). The 50 queries are the 50 most frequent title words of
those records (stop words and words under four letters left out), each searched alone.

One cycle = one ``SearchSession``: search all three libraries, fetch up to 100 records per
library, wait until every library is done, read the first 20 clusters by relevance plus the
author and subject facets. Printed:

  (a) one cycle's time and the time to the first page (first clusters readable), medians
      over the 50 queries, each run alone
  (b) cycles per second, the 50 queries run one after another in one process
  (c) cycles per second and p50 / p99 cycle time with 20 sessions at once (200 cycles)
  then (b) again with the cache of normalized records off: every record decoded, as for
      queries never seen before (the libraries send the same records for many queries,
      and (b) and (c) reuse what earlier cycles decoded, matched and merged)

The Pazpar2 figures printed beside them are the reference numbers stated in issue 5
(Pazpar2 1.14 on such a set-up); they are NOT measured by this script.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import RawRecord, Target, Timeouts  # noqa: E402
from demo.zebra import split_corpus, start_zebra, stop_all  # noqa: E402
from federator.engine import (  # noqa: E402
    NORMALIZED_CACHE_SIZE,
    Engine,
    relax_gc,
    set_normalized_cache_size,
)
from normalizers import normalize  # noqa: E402
from normalizers.iso2709 import split_stream  # noqa: E402

RECORDS = 6000
QUERIES = 50
FETCH = 100
CONCURRENT = 20
CONCURRENT_CYCLES = 200
STOP = {
    "with", "from", "their", "this", "that", "into", "other", "under", "between", "during",
    "through", "about", "after", "before", "over", "upon", "among", "against", "toward",
    "towards", "including", "being", "which", "selected", "united", "states",
}  # fmt: skip

PAZPAR2 = {
    "a": "80-95 ms per cycle",
    "b": "about 22 cycles/s",
    "c": "about 20 cycles/s, p99 near 8 s",
}


def corpus(path: Path) -> list[bytes]:
    """The first ``RECORDS`` records that decode, as UTF-8 MARC21 ISO 2709."""
    out: list[bytes] = []
    for i, (_, chunk) in enumerate(split_stream(path.read_bytes())):
        try:
            normalize(RawRecord("x", i, "usmarc", chunk))
        except Exception:
            continue
        out.append(chunk)
        if len(out) >= RECORDS:
            break
    return out


def queries(records: list[bytes]) -> list[str]:
    words: Counter[str] = Counter()
    for i, chunk in enumerate(records):
        title = normalize(RawRecord("x", i, "usmarc", chunk)).title.lower()
        words.update(w for w in re.findall(r"[a-z]{4,}", title) if w not in STOP)
    return [w for w, _ in words.most_common(QUERIES)]


async def cycle(engine: Engine, query: str) -> tuple[float, float, int]:
    """One cycle: (seconds, seconds to the first page, clusters)."""
    start = time.perf_counter()
    session = engine.session(query, limit=FETCH)
    session.start()
    first = 0.0
    while not session.done:
        page = session.page(0, 20, fetch=False, facets=())
        if not first and page.clusters:
            first = time.perf_counter() - start
        await session.changed(since=page.version)
    page = session.page(0, 20, facets=("author", "subject"), fetch=False)
    elapsed = time.perf_counter() - start
    await session.close()
    return elapsed, first or elapsed, page.total


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def run(engine: Engine, qs: list[str]) -> None:
    await cycle(engine, qs[0])  # warm-up: imports, first connections
    alone = [await cycle(engine, q) for q in qs]
    times = [t for t, _, _ in alone]
    firsts = [f for _, f, _ in alone]
    clusters = statistics.median(c for _, _, c in alone)
    print(
        f"(a) one cycle: median {statistics.median(times) * 1e3:.0f} ms, time to first page "
        f"{statistics.median(firsts) * 1e3:.0f} ms (median {clusters:.0f} works per query)"
        f"     [Pazpar2: {PAZPAR2['a']}]"
    )
    start = time.perf_counter()
    for q in qs:
        await cycle(engine, q)
    seq = len(qs) / (time.perf_counter() - start)
    print(f"(b) sequential: {seq:.1f} cycles/s     [Pazpar2: {PAZPAR2['b']}]")
    pending = [qs[i % len(qs)] for i in range(CONCURRENT_CYCLES)]
    done: list[float] = []

    async def worker() -> None:
        while pending:
            done.append((await cycle(engine, pending.pop()))[0])

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENT)))
    rate = len(done) / (time.perf_counter() - start)
    print(
        f"(c) {CONCURRENT} sessions at once: {rate:.1f} cycles/s, p50 {pct(done, 50) * 1e3:.0f}"
        f" ms, p99 {pct(done, 99) * 1e3:.0f} ms     [Pazpar2: {PAZPAR2['c']}]"
    )
    set_normalized_cache_size(0)  # last: the caches it empties served (a), (b) and (c)
    try:
        start = time.perf_counter()
        for q in qs:
            await cycle(engine, q)
        cold = len(qs) / (time.perf_counter() - start)
    finally:
        set_normalized_cache_size(NORMALIZED_CACHE_SIZE)
    print(f"(b) again, every record decoded (no normalization cache): {cold:.1f} cycles/s")


def main(path: Path) -> None:
    relax_gc()  # as the front ends do (federator.engine.relax_gc)
    records = corpus(path)
    qs = queries(records)
    shares = split_corpus(records, 3)
    with tempfile.TemporaryDirectory(prefix="svod-bench-") as tmp:
        libs = [
            start_zebra(Path(tmp) / f"lib{i}", f"lib{i}", share)
            for i, share in enumerate(shares, 1)
        ]
        try:
            sizes = ", ".join(f"{lib.name} {lib.record_count}" for lib in libs)
            print(f"3 zebrasrv libraries ({sizes} records), {len(qs)} one-word queries")
            print("Pazpar2 figures in brackets are issue 5's reference numbers, not measured here.")
            t = Timeouts(connect=10, search=30, present=30)
            targets = [
                Target(lib.name, lib.name, "z3950", host="127.0.0.1", port=lib.port,
                       database=lib.database, timeouts=t, max_records=FETCH)
                for lib in libs
            ]  # fmt: skip
            asyncio.run(run(Engine(targets), qs))
        finally:
            stop_all(libs)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
