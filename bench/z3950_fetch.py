"""Fetch records from yaz-ztest with Svod's Z39.50 connector and with YAZ's ``zoomsh``.

Both run in the same process tree against the same freshly started yaz-ztest on 127.0.0.1;
the script prints records/s for each and their ratio. zoomsh is the reference: C, YAZ's own
BER codec, records rendered as text (our side decodes the APDUs and keeps the raw bytes).

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

from connectors.z3950 import Z3950Connector
from core.target import Target, Timeouts
from demo.servers import start_ztest


async def svod_fetch(port: int, count: int, batch: int) -> int:
    target = Target(
        id="ztest",
        name="yaz-ztest",
        protocol="z3950",
        host="127.0.0.1",
        port=port,
        timeouts=Timeouts(5, 60, 60),
    )
    result = await Z3950Connector(target, batch_size=batch).search(str(count), limit=count)
    return len(result.records)


def zoomsh_fetch(port: int, count: int) -> int:
    out = subprocess.run(
        [
            "zoomsh",
            "set preferredRecordSyntax usmarc",
            f"connect tcp:127.0.0.1:{port}/Default",
            f"search {count}",
            f"show 0 {count}",
            "quit",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    return out.count(b" syntax=USmarc ")


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
    parser.add_argument("--batch", type=int, default=100, help="records per Present (Svod)")
    parser.add_argument("--rounds", type=int, default=5, help="best of N runs")
    args = parser.parse_args()
    if shutil.which("yaz-ztest") is None or shutil.which("zoomsh") is None:
        sys.exit("needs yaz-ztest and zoomsh (Debian package 'yaz')")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_ztest(Path(tmp))
        try:
            ours, n_ours = best(
                lambda: asyncio.run(svod_fetch(server.port, args.records, args.batch)), args.rounds
            )
            ref, n_ref = best(lambda: zoomsh_fetch(server.port, args.records), args.rounds)
        finally:
            server.stop()
    print(
        f"records requested  {args.records} (Svod batches of {args.batch}), best of {args.rounds}"
    )
    print(f"svod connector     {n_ours:6d} records  {ours:7.3f} s  {n_ours / ours:9.0f} records/s")
    print(f"zoomsh (YAZ, C)    {n_ref:6d} records  {ref:7.3f} s  {n_ref / ref:9.0f} records/s")
    print(f"ratio svod/zoomsh  {(n_ours / ours) / (n_ref / ref):.2f}")


if __name__ == "__main__":
    main()
