"""Faults between the connector and a real zebrasrv, injected by ``tests/faultproxy.py``: a reset in
the middle of a present, garbage, broken BER, an oversized PDU, a stall after Init. Each ends
as that target's status; the search still completes for the other targets (through
``federator.engine.Engine``, the facade every front end calls)."""

from __future__ import annotations

import re
import time

import pytest
from faultproxy import Fault, FaultProxy

from connectors.z3950 import Z3950Connector
from core import TargetState
from core.target import Target, Timeouts
from demo.zebra import Federation
from federator.engine import Engine

pytestmark = pytest.mark.servers

QUERY = "dc.title=computer"


def z3950(name: str, port: int, database: str, **changes: object) -> Target:
    fields: dict[str, object] = {
        "id": name,
        "name": name,
        "protocol": "z3950",
        "host": "127.0.0.1",
        "port": port,
        "database": database,
        "timeouts": Timeouts(connect=2.0, search=1.0, present=1.0),
    }
    fields.update(changes)
    return Target(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fault", "state", "message"),
    [
        (Fault.RESET_IN_PRESENT, TargetState.ERROR, r"lost during present: .*reset"),
        (Fault.GARBAGE, TargetState.ERROR, r"during search: .*not an APDU"),
        (Fault.BROKEN_BER, TargetState.ERROR, r"during search: BER: value truncated"),
        (Fault.OVERSIZED, TargetState.ERROR, r"during search: BER: PDU of \d+ bytes exceeds"),
        (Fault.STALL_AFTER_INIT, TargetState.TIMEOUT, r"timeout after 1 s \(search\)"),
    ],
)
async def test_a_fault_is_one_targets_status(
    zebra_libraries: Federation, fault: Fault, state: TargetState, message: str
) -> None:
    healthy = [zebra_libraries.library(n) for n in ("lib1", "lib3")]
    broken = zebra_libraries.library("lib2")
    async with FaultProxy(broken.port, fault) as proxy:
        targets = [
            z3950("lib1", healthy[0].port, "lib1"),
            # small batches, so that records are presented after the search
            z3950("lib2", proxy.port, "lib2", batch_size=2),
            z3950("lib3", healthy[1].port, "lib3"),
        ]
        # without a pool: every run starts from a fresh association through the proxy
        engine = Engine(targets, Z3950Connector)
        started = time.monotonic()
        outcome = await engine.search(QUERY, limit=6)
        elapsed = time.monotonic() - started
    statuses = {s.target_id: s for s in outcome.statuses}
    assert statuses["lib2"].state == state, statuses["lib2"]
    assert re.search(message, statuses["lib2"].message), statuses["lib2"].message
    for name in ("lib1", "lib3"):
        assert statuses[name].state == TargetState.DONE, statuses[name]
        assert statuses[name].hits > 0
    assert {r.target_id for h in outcome.hits for r in h.records} == {"lib1", "lib3"}
    assert proxy.connections == 1
    assert elapsed < 4.0  # the broken library did not hold the others up
