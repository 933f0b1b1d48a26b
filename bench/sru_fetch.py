"""Fetch 1,000 MARCXML records over SRU with Svod's connector and with YAZ's ``zoomsh``.

One zebrasrv on 127.0.0.1 serves Debian's sample MARC21 records repeated (each copy with its
own 001) up to ``--records``; both clients fetch all of them with ``cql.allRecords=1``, in
pages of ``--page`` records (zoomsh: ``presentChunk``), SRU 1.2 over HTTP GET, and the
script prints records/s for each and their ratio. zoomsh is the reference: C, libxml2, and
a first request that only counts; our side parses each page with hardened lxml and cuts
every record out as standalone MARCXML bytes.

    .venv/bin/python bench/sru_fetch.py --records 1000 --page 100 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.sru import SRUConnector
from core.target import Target, Timeouts

# _build and _fields are demo.zebra's ISO 2709 helpers: the copies only need a fresh 001 each
from demo.zebra import ZebraLibrary, _build, _fields, corpus_records, start_zebra


def repeated_corpus(count: int) -> list[bytes]:
    """``count`` records: the corpus over and over, copy k of record i with 001 ``k-i``."""
    corpus = corpus_records()
    out = []
    for n in range(count):
        record = corpus[n % len(corpus)]
        fields = [(t, v) for t, v in _fields(record) if t != "001"]
        control = f"bench{n // len(corpus)}-{n % len(corpus)}".encode()
        out.append(_build(record[:24], [("001", control), *fields]))
    return out


async def svod_fetch(url: str, count: int, page: int) -> int:
    target = Target("bench", "bench", "sru", url=url, timeouts=Timeouts(5, 120, 120))
    async with SRUConnector(target, page_size=page) as connector:
        result = await connector.search("cql.allRecords=1", count)
    if result.diagnostics:
        raise SystemExit(f"svod: {result.diagnostics[0]}")
    return len(result.records)


def zoomsh_fetch(url: str, count: int, page: int) -> int:
    out = subprocess.run(
        [
            "zoomsh",
            "set sru get",
            "set sru_version 1.2",
            "set schema marcxml",
            f"set presentChunk {page}",
            f"connect {url}",
            "search cql:cql.allRecords=1",
            f"show 0 {count}",
            "quit",
        ],
        capture_output=True,
        check=True,
        timeout=300,
    ).stdout
    return out.count(b" syntax=XML ")


def best(run: Callable[[], int], rounds: int) -> tuple[float, int]:
    times, got = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        got = run()
        times.append(time.perf_counter() - started)
    return min(times), got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--page", type=int, default=100, help="records per request (both)")
    parser.add_argument("--rounds", type=int, default=5, help="best of N runs")
    args = parser.parse_args()
    if shutil.which("zebrasrv") is None or shutil.which("zoomsh") is None:
        sys.exit("needs zebrasrv (idzebra-2.0) and zoomsh (yaz)")
    with tempfile.TemporaryDirectory(prefix="svod-bench-") as tmp:
        print(f"indexing {args.records} records...", file=sys.stderr)
        server: ZebraLibrary = start_zebra(Path(tmp), "bench", repeated_corpus(args.records))
        url = server.sru_url
        try:
            ours, n_ours = best(
                lambda: asyncio.run(svod_fetch(url, args.records, args.page)), args.rounds
            )
            ref, n_ref = best(lambda: zoomsh_fetch(url, args.records, args.page), args.rounds)
        finally:
            server.stop()
    print(f"records requested  {args.records} in pages of {args.page}, best of {args.rounds}")
    print(f"svod connector     {n_ours:6d} records  {ours:7.3f} s  {n_ours / ours:9.0f} records/s")
    print(f"zoomsh (YAZ, C)    {n_ref:6d} records  {ref:7.3f} s  {n_ref / ref:9.0f} records/s")
    print(f"ratio svod/zoomsh  {(n_ours / ours) / (n_ref / ref):.2f}")


if __name__ == "__main__":
    main()
