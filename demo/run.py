"""The demo federation: three real Zebra libraries built from Debian's sample records.

Two are searched over Z39.50 and one over SRU, like ``config/targets.yaml``; the records are
split so that some books are held by one library, some by two, some by all three.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from core import Target, Timeouts
from demo.servers import stop_all, wait_port
from demo.zebra import ZebraLibrary, corpus_records, plan_split, split_corpus, start_zebra

__all__ = ["DEMO_LIBRARIES", "demo_targets", "run_demo"]

#: id, display name, protocol, the port ``config/targets.yaml`` expects
DEMO_LIBRARIES = (
    ("lib1", "Central City Library", "z3950", 9901),
    ("lib2", "Regional Research Library", "z3950", 9902),
    ("lib3", "University Library", "sru", 9903),
)


def demo_targets(ports: dict[str, int]) -> list[Target]:
    """Targets for the demo libraries listening on ``ports``."""
    quick = Timeouts(connect=3.0, search=10.0, present=10.0)
    targets = []
    for tid, name, protocol, _ in DEMO_LIBRARIES:
        if protocol == "sru":
            url = f"http://127.0.0.1:{ports[tid]}/{tid}"
            targets.append(Target(tid, name, "sru", url=url, timeouts=quick))
        else:
            targets.append(
                Target(
                    tid,
                    name,
                    "z3950",
                    host="127.0.0.1",
                    port=ports[tid],
                    database=tid,
                    timeouts=quick,
                )
            )
    return targets


def run_demo(
    workdir: Path | None = None, *, fixed_ports: bool = False
) -> tuple[list[Target], Callable[[], None]]:
    """Build and start the demo libraries; return their targets and a function that stops them.

    With ``fixed_ports`` the libraries listen on 9901-9903 (the ports of
    ``config/targets.yaml``); otherwise on free ports.
    """
    own_dir = workdir is None
    root = Path(tempfile.mkdtemp(prefix="svod-demo-")) if workdir is None else workdir
    records = corpus_records()
    names = [tid for tid, *_ in DEMO_LIBRARIES]
    manifest = plan_split(records, len(names), names=names)
    shares = split_corpus(records, len(names), names=names)
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(manifest.to_json(), "utf-8")
    started: list[ZebraLibrary] = []

    def stop() -> None:
        stop_all(started)
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)

    try:
        for (tid, _, _, port), share in zip(DEMO_LIBRARIES, shares, strict=True):
            if fixed_ports and wait_port(port, timeout=0.2):
                raise RuntimeError(f"port {port} for {tid} is already in use")
            started.append(start_zebra(root / tid, tid, share, port if fixed_ports else None))
    except BaseException:
        stop()
        raise
    return demo_targets({lib.name: lib.port for lib in started}), stop
