"""The contract every connector keeps, checked against real servers on 127.0.0.1.

One suite, parametrized over connectors and servers:

    z3950-zebra   Z3950Connector -> zebrasrv (``zebra_libraries``, library lib1)
    z3950-pooled  the same, its associations kept in a pool (as the engine runs it)
    z3950-ztest   Z3950Connector -> yaz-ztest (``ztest``)
    sru-zebra     SRUConnector   -> the same zebrasrv, SRU on the same port

Init/ping, search, present in batches (positions 1..N, no gaps, the same records as one big
batch), fetching more of a search later (records N..M, from a fresh connector too), scan,
close, and diagnostics: an unsupported use attribute ends as the target's
status with bib-1 114 (Z39.50) or SRU 16. Expected values come from the servers themselves:
``yaz-client`` on the same server for hit counts, the server's own configuration for names.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from connectors.base import Connector, TargetQuery
from connectors.pool import ConnectionPool
from connectors.sru import SRUConnector
from connectors.z3950 import Z3950Connector, Z3950Session
from core import TargetDiagnostic, TargetError, TargetState
from core.target import Target, Timeouts
from demo.servers import ServerProcess
from demo.zebra import Federation
from federator.engine import Engine
from federator.query import parse_query
from protocols.z3950.rpn import parse_pqf

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(shutil.which("yaz-client") is None, reason="yaz-client not installed"),
]

FAST = Timeouts(connect=3.0, search=5.0, present=5.0)
WORDS = Path(__file__).parent / "data" / "z3950" / "dummy-words"


@dataclass
class Flavour:
    """One connector against one server, and how to ask it the contract's questions."""

    name: str
    target: Target
    make: Callable[[Target], Connector]
    zurl: str  # the same server for yaz-client
    title_query: TargetQuery  # title word "computer"
    scan_index: str
    implementation: str  # what ping must name
    unsupported_cql: str | None  # a CQL query whose index the server does not support
    diagnostic: tuple[str, int] = ("bib-1", 114)

    def connector(self, **changes: object) -> Connector:
        return self.make(replace(self.target, **changes))  # type: ignore[arg-type]


def yaz_client(zurl: str, *commands: str) -> str:
    script = "\n".join([f"open tcp:{zurl}", *commands, "quit"]) + "\n"
    return subprocess.run(
        ["yaz-client"], input=script, capture_output=True, text=True, timeout=20, check=True
    ).stdout


def yaz_client_hits(zurl: str, pqf: str) -> int:
    found = re.search(r"Number of hits: (\d+)", yaz_client(zurl, f"find {pqf}"))
    assert found, f"yaz-client found no hit count for {pqf}"
    return int(found.group(1))


def yaz_implementation_name(zurl: str) -> str:
    found = re.search(r"^Name\s*: (.+)$", yaz_client(zurl), re.MULTILINE)
    assert found
    return found.group(1).strip()


def explain_title(library_dir: Path) -> str:
    """The <title> of the server's own explain configuration (what SRU explain serves)."""
    found = re.search(r"<title>([^<]+)</title>", (library_dir / "yazgfs.xml").read_text("utf-8"))
    assert found
    return found.group(1)


def z3950_pooled(pool: ConnectionPool[Z3950Session]) -> Callable[[Target], Connector]:
    def make(target: Target) -> Connector:
        return Z3950Connector(target, pool=pool)

    return make


def z3950(target: Target) -> Connector:
    return Z3950Connector(target)


def sru(target: Target) -> Connector:
    return SRUConnector(target, page_size=target.batch_size)


@pytest.fixture(
    params=["z3950-zebra", "z3950-pooled", "z3950-ztest", "sru-zebra", "local-zebra-records"]
)
def flavour(request: pytest.FixtureRequest) -> Flavour:
    computer = parse_pqf("@attr 1=4 computer")
    if request.param == "z3950-ztest":
        ztest: ServerProcess = request.getfixturevalue("ztest")
        zurl = f"127.0.0.1:{ztest.port}/Default"
        # yaz-ztest scans the file "dummy-words" in its working directory
        shutil.copyfile(WORDS, ztest.log.parent / "dummy-words")
        return Flavour(
            request.param,
            Target("ztest", "yaz-ztest", "z3950", host="127.0.0.1", port=ztest.port, timeouts=FAST),
            z3950,
            zurl,
            computer,
            "1=4",
            yaz_implementation_name(zurl),
            None,  # yaz-ztest accepts every use attribute
        )
    federation: Federation = request.getfixturevalue("zebra_libraries")
    lib = federation.library("lib1")
    if request.param == "local-zebra-records":
        # lib1's own records as a local collection: zebrasrv on them is the reference
        from connectors.local import LocalConnector
        from federator.collection import ensure_collection, local_target

        tmp = request.getfixturevalue("tmp_path_factory").mktemp("local")
        target = local_target("lib1", [lib.workdir / "records.mrc"], index_dir=tmp / "ix")
        ensure_collection(target)
        return Flavour(
            request.param, replace(target, timeouts=FAST), LocalConnector, lib.zurl,
            "dc.title=computer", "dc.title", "local collection", "dc.editor=smith", ("sru", 16),
        )  # fmt: skip
    if request.param in ("z3950-zebra", "z3950-pooled"):
        # a pool of this test's own: its associations end with the test's event loop
        pool: ConnectionPool[Z3950Session] = ConnectionPool()
        return Flavour(
            request.param,
            Target(
                "lib1",
                "lib1",
                "z3950",
                host="127.0.0.1",
                port=lib.port,
                database="lib1",
                timeouts=FAST,
            ),
            z3950 if request.param == "z3950-zebra" else z3950_pooled(pool),
            lib.zurl,
            computer,
            "1=4",
            yaz_implementation_name(lib.zurl),
            "dc.editor=smith",  # 1=1020: no library has editors (the lab README, pitfall 14)
        )
    return Flavour(
        request.param,
        Target("lib1", "lib1", "sru", url=lib.sru_url, timeouts=FAST),
        sru,
        lib.zurl,
        "dc.title=computer",
        "dc.title",
        explain_title(lib.workdir),
        "dc.editor=smith",
        ("sru", 16),
    )


async def test_ping_names_the_server(flavour: Flavour) -> None:
    async with flavour.connector() as connector:
        summary = await connector.ping()
    assert flavour.implementation in summary


async def test_search_hit_count_agrees_with_yaz_client(flavour: Flavour) -> None:
    async with flavour.connector() as connector:
        result = await connector.search(flavour.title_query, 0)
    assert result.hits == yaz_client_hits(flavour.zurl, "@attr 1=4 computer")
    assert result.records == ()


async def test_present_in_batches_has_no_gaps(flavour: Flavour) -> None:
    async with flavour.connector() as connector:
        total = (await connector.search(flavour.title_query, 0)).hits
    want = min(total, 8)
    assert want >= 5, "the contract needs a few hits to page through"
    async with flavour.connector(batch_size=3) as connector:
        states: list[TargetState] = []
        paged = await connector.search(flavour.title_query, want, states.append)
    async with flavour.connector(batch_size=100) as connector:
        whole = await connector.search(flavour.title_query, want)
    assert [r.position for r in paged.records] == list(range(1, want + 1))
    assert [r.data for r in paged.records] == [r.data for r in whole.records]
    assert paged.diagnostics == ()
    assert states[0] == TargetState.CONNECTING and TargetState.SEARCHING in states


async def test_limit_beyond_the_hits_stops_at_the_hits(flavour: Flavour) -> None:
    async with flavour.connector(batch_size=4) as connector:
        total = (await connector.search(flavour.title_query, 0)).hits
        result = await connector.search(flavour.title_query, total + 5)
    assert [r.position for r in result.records] == list(range(1, total + 1))


async def test_scan_from_a_term(flavour: Flavour) -> None:
    async with flavour.connector() as connector:
        terms = await connector.scan(flavour.scan_index, "comp", 5)
        assert 1 <= len(terms) <= 5
        folded = [t.term.casefold() for t in terms]
        assert folded == sorted(folded)
        assert folded[0] >= "comp"
        assert all(t.count > 0 for t in terms)
        if flavour.name == "z3950-ztest":
            # yaz-ztest upper-cases the term and lists "dummy-words" from there on
            listed = [line.split(":") for line in WORDS.read_text().split()]
            start = next(i for i, (word, _) in enumerate(listed) if word >= "COMP")
            expected = [(w, int(n)) for w, n in listed[start : start + len(terms)]]
            assert [(t.term, t.count) for t in terms] == expected
        else:
            computer = next(t for t in terms if t.term.casefold() == "computer")
            hits = (await connector.search(flavour.title_query, 0)).hits
            assert computer.count == hits


async def test_close_then_use_again(flavour: Flavour) -> None:
    connector = flavour.connector()
    first = await connector.search(flavour.title_query, 1)
    await connector.close()
    await connector.close()  # closing twice is harmless
    again = await connector.search(flavour.title_query, 1)
    await connector.close()
    assert again.hits == first.hits
    assert [r.data for r in again.records] == [r.data for r in first.records]


async def test_unsupported_use_attribute_is_the_target_status(flavour: Flavour) -> None:
    if flavour.unsupported_cql is None:
        pytest.skip("yaz-ztest accepts every use attribute: nothing to refuse")
    engine = Engine([flavour.target], lambda target: flavour.make(target))
    outcome = await engine.search(flavour.unsupported_cql, limit=5)
    (status,) = outcome.statuses
    assert status.state == TargetState.ERROR
    assert status.diagnostic is not None
    assert (status.diagnostic.diagset, status.diagnostic.code) == flavour.diagnostic
    # the connector raised it as the server's diagnostic, not as a local translation error
    query = engine.translate(parse_query(flavour.unsupported_cql), flavour.target)
    async with flavour.connector() as connector:
        with pytest.raises(TargetDiagnostic):
            await connector.search(query, 5)


async def test_fetch_goes_on_where_the_search_stopped(flavour: Flavour) -> None:
    async with flavour.connector() as connector:
        total = (await connector.search(flavour.title_query, 0)).hits
    want = min(total, 8)
    assert want >= 5, "the contract needs a few hits to page through"
    async with flavour.connector(batch_size=2) as connector:
        first = await connector.search(flavour.title_query, 3)
        assert first.result_set is not None
        assert (first.result_set.target_id, first.result_set.hits) == (flavour.target.id, total)
        states: list[TargetState] = []
        more = await connector.fetch(first.result_set, 4, want - 3, states.append)
    async with flavour.connector(batch_size=100) as connector:
        whole = await connector.search(flavour.title_query, want)
    assert [r.position for r in more.records] == list(range(4, want + 1))
    assert [r.data for r in more.records] == [r.data for r in whole.records[3:]]
    assert (more.hits, more.diagnostics) == (total, ())
    assert more.result_set is not None and more.result_set.hits == total
    assert states and states[0] == TargetState.CONNECTING


async def test_fetch_from_a_fresh_connector_of_the_same_target(flavour: Flavour) -> None:
    async with flavour.connector() as connector:
        first = await connector.search(flavour.title_query, 2)
    assert first.result_set is not None
    async with flavour.connector() as connector:
        again = await connector.fetch(first.result_set, 1, 2)
    assert [(r.position, r.data) for r in again.records] == [
        (r.position, r.data) for r in first.records
    ]


async def test_fetch_stops_at_the_end_of_the_result_set(flavour: Flavour) -> None:
    async with flavour.connector(batch_size=4) as connector:
        first = await connector.search(flavour.title_query, 1)
        assert first.result_set is not None
        hits = first.result_set.hits
        tail = await connector.fetch(first.result_set, hits - 1, 10)
        beyond = await connector.fetch(first.result_set, hits + 1, 5)
        nothing = await connector.fetch(first.result_set, 2, 0)
    assert [r.position for r in tail.records] == [hits - 1, hits]
    assert beyond.records == () and beyond.hits == hits
    assert nothing.records == ()


async def test_a_result_set_belongs_to_its_target(flavour: Flavour) -> None:
    async with flavour.connector() as connector:
        first = await connector.search(flavour.title_query, 1)
    assert first.result_set is not None
    other = replace(first.result_set, target_id="someone-else")
    async with flavour.connector() as connector:
        with pytest.raises(TargetError, match="someone-else"):
            await connector.fetch(other, 2, 1)
