"""CQL ``prox`` translated to a Z39.50 proximity operator, checked against YAZ on zebrasrv.

zebrasrv answers SRU and Z39.50 on one port: over SRU it turns the CQL into RPN with YAZ's
own translator, over Z39.50 it gets ours. The same CQL must find the same records both
ways, and the PQF we would send must find as many with yaz-client.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from connectors.sru import SRUConnector
from connectors.z3950 import Z3950Connector
from core.target import Target
from demo.zebra import Federation
from federator.query import parse_query, to_rpn
from protocols.z3950.rpn import ProximityOperator, RPNOperator, to_pqf

pytestmark = pytest.mark.servers

QUERIES = [
    "dc.title=program prox/distance<=2/ordered dc.title=computer",
    "dc.title=computer prox/distance<=2/ordered dc.title=program",  # wrong order: none
    "dc.title=computer prox/distance<=2 dc.title=program",
    "dc.title=computer prox dc.title=program",
    "dc.title=program prox/distance=2 dc.title=computer",
]


def test_prox_defaults_are_yaz_s() -> None:
    node = to_rpn(parse_query("a prox b")).root
    assert isinstance(node, RPNOperator)
    assert node.proximity == ProximityOperator(distance=1, ordered=False, relation=2, unit=2)
    ordered = to_rpn(parse_query("a prox/distance>3/ordered b")).root
    assert isinstance(ordered, RPNOperator) and ordered.proximity is not None
    assert (ordered.proximity.distance, ordered.proximity.relation) == (3, 5)
    assert ordered.proximity.ordered


@pytest.mark.parametrize("cql", QUERIES)
async def test_prox_finds_what_yaz_finds(zebra_libraries: Federation, cql: str) -> None:
    lib = zebra_libraries.library("lib1")
    rpn = to_rpn(parse_query(cql))
    z3950 = Target("z", "z", "z3950", host="127.0.0.1", port=lib.port, database=lib.database)
    sru = Target("s", "s", "sru", url=lib.sru_url)
    ours = await Z3950Connector(z3950).search(rpn, 0)
    async with SRUConnector(sru) as connector:
        yaz_translation = await connector.search(cql, 0)
    assert ours.hits == yaz_translation.hits
    if shutil.which("yaz-client"):
        script = f"open tcp:{lib.zurl}\nfind {to_pqf(rpn)}\nquit\n"
        printed = subprocess.run(
            ["yaz-client"], input=script, capture_output=True, text=True, timeout=20, check=True
        ).stdout
        found = re.search(r"Number of hits: (\d+)", printed)
        assert found and int(found.group(1)) == ours.hits


async def test_prox_hits_depend_on_order_and_distance(zebra_libraries: Federation) -> None:
    lib = zebra_libraries.library("lib1")
    target = Target("z", "z", "z3950", host="127.0.0.1", port=lib.port, database=lib.database)
    hits = [
        (await Z3950Connector(target).search(to_rpn(parse_query(cql)), 0)).hits
        for cql in QUERIES[:2]
    ]
    # "How to program a computer": "computer" two words after "program", never before it
    assert hits[0] > 0 and hits[1] == 0
