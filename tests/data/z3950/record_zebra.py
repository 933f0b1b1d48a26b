"""Record yaz-client talking to a zebrasrv through tests/faultproxy.py (how zebra-*.bin were made).

    .venv/bin/python tests/data/z3950/record_zebra.py PORT [DATABASE]

PORT is a running zebrasrv (``demo.zebra.start_zebra`` with ``corpus_records()``). Writes
``zebra-client.bin``, ``zebra-server.bin`` and ``zebra-client.txt`` (yaz-client's output)
next to this file.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[3]), str(Path(__file__).resolve().parents[2])]

from faultproxy import FaultProxy  # noqa: E402

HERE = Path(__file__).parent
COMMANDS = """charset UTF-8
open tcp:127.0.0.1:{port}/{database}
find @prox 0 2 1 2 k 2 @attr 1=4 program @attr 1=4 computer
find @attr 1=_ALLRECORDS @attr 2=103 ""
scan @attr 1=4 comp
close
quit
"""


async def main(port: int, database: str) -> None:
    async with FaultProxy(port, record=HERE / "zebra-capture") as proxy:
        process = await asyncio.create_subprocess_exec(
            "yaz-client",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate(
            COMMANDS.format(port=proxy.port, database=database).encode()
        )
    capture = HERE / "zebra-capture"
    for side in ("client", "server"):
        (HERE / f"zebra-{side}.bin").write_bytes((capture / f"{side}.bin").read_bytes())
        (capture / f"{side}.bin").unlink()
    capture.rmdir()
    (HERE / "zebra-client.txt").write_text(out.decode("utf-8").replace(str(proxy.port), "PORT"))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "lib1"))
