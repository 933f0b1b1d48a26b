"""Fetch records over Z39.50 with Svod's connector and with YAZ's C clients, in the same run.

Two servers, both started here on 127.0.0.1 and stopped at the end:

* a zebrasrv (``demo.zebra``) holding Debian's sample corpus copied over and over, so that
  one search finds more than 1,000 records: Svod's connector, ``zoomsh`` and ``yaz-client``
  each fetch the same 1,000 USMARC records;
* yaz-ztest (dummy records): Svod's connector and ``zoomsh``.

Prints records/s for each client and the ratio Svod / YAZ (goal: Svod within 1.5x, i.e. a
ratio of 0.67 or more). Both YAZ clients also render every record as text; ours decodes the
APDUs and keeps the raw bytes. The last lines compare 20 small searches on one pooled
association with 20 fresh associations (Init is the slow step on real servers), and paging
on: the next ``batch`` records after a search, fetched from the result set the pooled
association keeps (``Connector.fetch``) against searching again for all of them.

    .venv/bin/python bench/z3950_fetch.py --records 1000 --rounds 5
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

from connectors.pool import ConnectionPool
from connectors.z3950 import Z3950Connector, Z3950Session
from core.target import Target, Timeouts
from demo.servers import start_ztest
from demo.zebra import corpus_records, start_zebra
from protocols.z3950.rpn import parse_pqf

ALL_RECORDS = '@attr 1=_ALLRECORDS @attr 2=103 ""'


def target(port: int, database: str, batch: int) -> Target:
    return Target(
        id="bench",
        name="bench",
        protocol="z3950",
        host="127.0.0.1",
        port=port,
        database=database,
        timeouts=Timeouts(5, 60, 60),
        batch_size=batch,
    )


async def svod_fetch(port: int, database: str, query: str, count: int, batch: int) -> int:
    connector = Z3950Connector(target(port, database, batch))
    result = await connector.search(parse_pqf(query), limit=count)
    return len(result.records)


def zoomsh_fetch(zurl: str, query: str, count: int, batch: int) -> int:
    out = subprocess.run(
        [
            "zoomsh",
            "set preferredRecordSyntax usmarc",
            f"set presentChunk {batch}",
            f"connect tcp:{zurl}",
            f"search {query}",
            f"show 0 {count}",
            "quit",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    return out.count(b" syntax=USmarc ")


def yaz_client_fetch(zurl: str, query: str, count: int) -> int:
    commands = f"open tcp:{zurl}\nfind {query}\nshow 1+{count}\nquit\n"
    out = subprocess.run(
        ["yaz-client"], input=commands.encode(), capture_output=True, check=True, timeout=120
    ).stdout
    return out.count(b"Record type: USmarc")


def best(run: Callable[[], int], rounds: int) -> tuple[float, int]:
    times, got = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        got = run()
        times.append(time.perf_counter() - started)
    return min(times), got


def line(name: str, got: int, seconds: float) -> float:
    rate = got / seconds
    print(f"  {name:<22} {got:6d} records  {seconds:7.3f} s  {rate:9.0f} records/s")
    return rate


async def searches(port: int, database: str, n: int, pooled: bool) -> float:
    pool: ConnectionPool[Z3950Session] | None = ConnectionPool() if pooled else None
    started = time.perf_counter()
    for _ in range(n):
        await Z3950Connector(target(port, database, 10), pool=pool).search(
            parse_pqf("@attr 1=4 computer"), limit=10
        )
    elapsed = time.perf_counter() - started
    if pool is not None:
        await pool.close()
    return elapsed


async def page_on(port: int, database: str, count: int, kept: bool) -> float:
    """Seconds to get records count+1..2*count after a search of count records: a fetch from
    the kept result set, or (``kept`` False) the search again for records 1..2*count."""
    pool: ConnectionPool[Z3950Session] = ConnectionPool()
    connector = Z3950Connector(target(port, database, count), pool=pool)
    first = await connector.search(parse_pqf(ALL_RECORDS), limit=count)
    assert first.result_set is not None
    started = time.perf_counter()
    if kept:
        more = await connector.fetch(first.result_set, count + 1, count)
        got = len(more.records)
    else:
        again = await connector.search(parse_pqf(ALL_RECORDS), limit=2 * count)
        got = len(again.records) - count
    elapsed = time.perf_counter() - started
    await pool.close()
    assert got == count, got
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100, help="records per Present")
    parser.add_argument("--rounds", type=int, default=5, help="best of N runs")
    args = parser.parse_args()
    needed = ("yaz-ztest", "zoomsh", "yaz-client", "zebrasrv", "zebraidx")
    missing = [p for p in needed if shutil.which(p) is None]
    if missing:
        sys.exit(f"needs {', '.join(missing)} (Debian packages 'yaz', 'idzebra-2.0')")
    n, batch, rounds = args.records, args.batch, args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        corpus = corpus_records()
        copies = -(-n // len(corpus))  # enough copies for n hits
        zebra = start_zebra(Path(tmp) / "zebra", "bench", corpus * copies)
        ztest = start_ztest(Path(tmp) / "ztest")
        try:
            zurl = f"127.0.0.1:{zebra.port}/bench"
            print(
                f"zebrasrv, {zebra.record_count} records ({len(corpus)} x {copies}):"
                f" fetch {n} USMARC records, batches of {batch}, best of {rounds}"
            )
            t, got = best(
                lambda: asyncio.run(svod_fetch(zebra.port, "bench", ALL_RECORDS, n, batch)),
                rounds,
            )
            ours = line("svod connector", got, t)
            t, got = best(lambda: zoomsh_fetch(zurl, ALL_RECORDS, n, batch), rounds)
            zoom = line("zoomsh (YAZ, C)", got, t)
            t, got = best(lambda: yaz_client_fetch(zurl, ALL_RECORDS, n), rounds)
            client = line("yaz-client (YAZ, C)", got, t)
            print(f"  ratio svod/zoomsh      {ours / zoom:.2f}")
            print(f"  ratio svod/yaz-client  {ours / client:.2f}")

            print(f"yaz-ztest: fetch {n} dummy USMARC records, batches of {batch}")
            t, got = best(
                lambda: asyncio.run(svod_fetch(ztest.port, "Default", str(n), n, batch)), rounds
            )
            ours = line("svod connector", got, t)
            ztest_url = f"127.0.0.1:{ztest.port}/Default"
            t, got = best(lambda: zoomsh_fetch(ztest_url, str(n), n, batch), rounds)
            zoom = line("zoomsh (YAZ, C)", got, t)
            print(f"  ratio svod/zoomsh      {ours / zoom:.2f}")

            k = 20
            fresh = min(asyncio.run(searches(zebra.port, "bench", k, False)) for _ in range(3))
            pooled = min(asyncio.run(searches(zebra.port, "bench", k, True)) for _ in range(3))
            print(
                f"zebrasrv, {k} searches of 10 records: fresh associations {fresh:.3f} s,"
                f" one pooled association {pooled:.3f} s ({fresh / pooled:.1f}x)"
            )
            again = min(asyncio.run(page_on(zebra.port, "bench", batch, False)) for _ in range(3))
            fetch = min(asyncio.run(page_on(zebra.port, "bench", batch, True)) for _ in range(3))
            print(
                f"zebrasrv, the next {batch} records after a search: search again for"
                f" {2 * batch} {again * 1e3:.1f} ms, fetch from the kept result set"
                f" {fetch * 1e3:.1f} ms ({again / fetch:.1f}x)"
            )
        finally:
            zebra.stop()
            ztest.stop()


if __name__ == "__main__":
    main()
