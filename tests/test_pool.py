"""connectors.pool: the rules with in-memory connections, then Z39.50 associations kept across
searches against a real zebrasrv (counted by ``tests/faultproxy.py``), a pooled association the
server closed or dropped being replaced transparently, and the engine's default connector
sharing the pool."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from faultproxy import Fault, FaultProxy

from connectors.pool import ConnectionPool
from connectors.z3950 import KEPT_RESULT_SETS, InitInfo, Z3950Connector, Z3950Session
from core.target import Target, Timeouts
from demo.zebra import Federation
from federator.engine import Engine
from protocols.z3950.connection import ClientConnection
from protocols.z3950.rpn import parse_pqf


class Fake:
    """A connection in memory: the peer 'speaks' when ``peer`` is set."""

    numbers = itertools.count(1)

    def __init__(self) -> None:
        self.number = next(self.numbers)
        self.healthy = True
        self.closed = False
        self.shut = False
        self.peer = asyncio.Event()

    @property
    def reusable(self) -> bool:
        return self.healthy and not self.closed and not self.shut

    async def watch(self) -> None:
        await self.peer.wait()
        self.healthy = False

    async def aclose(self) -> None:
        self.closed = True

    def shutdown(self) -> None:
        self.shut = True


def opener(made: list[Fake]) -> Callable[[], Awaitable[Fake]]:
    async def make() -> Fake:
        fake = Fake()
        made.append(fake)
        return fake

    return make


async def test_a_connection_is_reused() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool(size=2, idle=60)
    made: list[Fake] = []
    async with pool.lease("t", opener(made)) as first:
        assert not first.reused
    async with pool.lease("t", opener(made)) as second:
        assert second.reused and second.connection is first.connection
    assert len(made) == 1
    assert (pool.open_count("t"), pool.idle_count("t")) == (1, 1)
    await pool.close()
    assert made[0].closed and pool.open_count("t") == 0


async def test_keys_are_separate() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool()
    made: list[Fake] = []
    async with pool.lease("a", opener(made)), pool.lease("b", opener(made)):
        pass
    assert len(made) == 2 and pool.idle_count("a") == pool.idle_count("b") == 1
    await pool.close()


async def test_the_cap_makes_a_third_lease_wait() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool(size=2)
    made: list[Fake] = []
    release = asyncio.Event()
    order: list[str] = []

    async def hold(name: str) -> None:
        async with pool.lease("t", opener(made)) as lease:
            order.append(f"{name} got {lease.connection.number}")
            await release.wait()

    holders = [asyncio.create_task(hold(n)) for n in ("a", "b")]
    await asyncio.sleep(0.01)
    third = asyncio.create_task(hold("c"))
    await asyncio.sleep(0.05)
    assert len(order) == 2 and pool.open_count("t") == 2  # c waits for a free slot
    release.set()
    await asyncio.gather(*holders, third)
    assert len(made) == 2 and len(order) == 3  # c got a connection a or b gave back
    await pool.close()


async def test_waiting_for_a_slot_times_out() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool(size=1)
    made: list[Fake] = []
    async with pool.lease("t", opener(made)):
        with pytest.raises(TimeoutError):
            async with pool.lease("t", opener(made), wait=0.05):
                pass
    assert pool.open_count("t") == 1
    await pool.close()


async def test_unusable_and_discarded_connections_are_closed() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool()
    made: list[Fake] = []
    async with pool.lease("t", opener(made)) as lease:
        lease.connection.healthy = False  # e.g. a request timed out on it
    async with pool.lease("t", opener(made)) as lease:
        lease.discard()
    assert [f.closed for f in made] == [True, True]
    assert pool.open_count("t") == 0


async def test_an_error_in_the_block_still_returns_a_healthy_connection() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool()
    made: list[Fake] = []
    with pytest.raises(LookupError):
        async with pool.lease("t", opener(made)):
            raise LookupError("a diagnostic, say: the association is fine")
    assert pool.idle_count("t") == 1
    await pool.close()


async def test_cancelling_a_lease_shuts_its_connection() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool()
    made: list[Fake] = []

    async def hang() -> None:
        async with pool.lease("t", opener(made)):
            await asyncio.sleep(3600)

    task = asyncio.create_task(hang())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert made[0].shut and pool.open_count("t") == 0


async def test_idle_connections_expire() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool(idle=0.05)
    made: list[Fake] = []
    async with pool.lease("t", opener(made)):
        pass
    await asyncio.sleep(0.15)
    assert made[0].closed and pool.open_count("t") == 0


async def test_a_peer_speaking_while_idle_removes_the_connection() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool()
    made: list[Fake] = []
    async with pool.lease("t", opener(made)):
        pass
    made[0].peer.set()
    await asyncio.sleep(0.01)
    assert pool.open_count("t") == 0
    async with pool.lease("t", opener(made)) as lease:
        assert not lease.reused and lease.connection is made[1]
    await pool.close()


async def test_size_zero_means_no_pooling() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool()
    made: list[Fake] = []
    for _ in range(2):
        async with pool.lease("t", opener(made), size=0) as lease:
            assert not lease.reused
    assert [f.closed for f in made] == [True, True]


def test_connections_of_a_finished_event_loop_are_shut() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool()
    made: list[Fake] = []

    async def one_search() -> None:
        async with pool.lease("t", opener(made)):
            pass

    asyncio.run(one_search())  # asyncio.run cancels the idle watcher on its way out
    asyncio.run(one_search())  # a new loop: a new connection, not the dead loop's
    assert len(made) == 2 and all(f.shut for f in made)


# --------------------------------------------------------------------------- real zebrasrv

COMPUTER = parse_pqf("@attr 1=4 computer")


def zebra(proxy: FaultProxy, database: str, **changes: object) -> Target:
    fields: dict[str, object] = {
        "id": f"pooled-{proxy.port}",
        "name": "pooled",
        "protocol": "z3950",
        "host": "127.0.0.1",
        "port": proxy.port,
        "database": database,
        "timeouts": Timeouts(3.0, 5.0, 5.0),
    }
    fields.update(changes)
    return Target(**fields)  # type: ignore[arg-type]


@pytest.mark.servers
async def test_searches_share_one_association(zebra_libraries: Federation) -> None:
    lib = zebra_libraries.library("lib1")
    pool: ConnectionPool[Z3950Session] = ConnectionPool()
    async with FaultProxy(lib.port) as proxy:
        target = zebra(proxy, lib.database)
        results = [await Z3950Connector(target, pool=pool).search(COMPUTER, 2) for _ in range(3)]
        assert await Z3950Connector(target, pool=pool).scan("1=4", "computer", 1)
        await pool.close()
    assert proxy.connections == 1
    # one Init, three searches, a scan, and the Close when the pool was closed
    assert proxy.client_tags == [[20, 22, 22, 22, 35, 48]]
    assert len({tuple(r.data for r in result.records) for result in results}) == 1


@pytest.mark.servers
async def test_a_close_from_the_server_while_idle_is_answered(
    zebra_libraries: Federation,
) -> None:
    lib = zebra_libraries.library("lib1")
    pool: ConnectionPool[Z3950Session] = ConnectionPool()
    async with FaultProxy(lib.port) as proxy:
        target = zebra(proxy, lib.database)
        first = await Z3950Connector(target, pool=pool).search(COMPUTER, 1)
        await proxy.send_close()  # as a server ending an idle association would
        await asyncio.sleep(0.1)
        assert pool.open_count(target) == 0
        second = await Z3950Connector(target, pool=pool).search(COMPUTER, 1)
        await pool.close()
    assert proxy.connections == 2
    assert proxy.client_tags[0] == [20, 22, 48]  # our Close answered the server's
    assert first.records[0].data == second.records[0].data


@pytest.mark.servers
async def test_a_dead_pooled_association_is_replaced_once(zebra_libraries: Federation) -> None:
    lib = zebra_libraries.library("lib1")
    pool: ConnectionPool[Z3950Session] = ConnectionPool()
    async with FaultProxy(lib.port, Fault.DROP_REUSED) as proxy:
        target = zebra(proxy, lib.database)
        first = await Z3950Connector(target, pool=pool).search(COMPUTER, 1)
        # the pooled association dies only when used: the search retries on a fresh one
        second = await Z3950Connector(target, pool=pool).search(COMPUTER, 1)
        await pool.close()
    assert proxy.connections == 2
    assert first.hits == second.hits and first.records[0].data == second.records[0].data


@pytest.mark.servers
async def test_the_engine_reuses_associations(zebra_libraries: Federation) -> None:
    lib = zebra_libraries.library("lib2")
    async with FaultProxy(lib.port) as proxy:
        engine = Engine([zebra(proxy, lib.database)])
        outcomes = [await engine.search("dc.title=computer", limit=3) for _ in range(2)]
    assert proxy.connections == 1
    assert [o.statuses[0].hits for o in outcomes] == [outcomes[0].statuses[0].hits] * 2
    assert outcomes[0].statuses[0].hits > 0


async def test_prefer_lends_the_idle_connection_it_names() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool(size=3)
    made: list[Fake] = []
    async with pool.lease("t", opener(made)), pool.lease("t", opener(made)):
        pass  # two idle now; without a preference the most recently returned is lent
    first = made[0]
    async with pool.lease("t", opener(made), prefer=lambda c: c is first) as lease:
        assert lease.reused and lease.connection is first
    async with pool.lease("t", opener(made), prefer=lambda c: False) as lease:
        assert lease.reused  # nothing preferred: any idle one
    assert len(made) == 2
    await pool.close()


async def test_prefer_takes_another_when_the_preferred_one_is_busy() -> None:
    pool: ConnectionPool[Fake] = ConnectionPool(size=2)
    made: list[Fake] = []
    async with pool.lease("t", opener(made)) as busy:
        lease_cm = pool.lease("t", opener(made), prefer=lambda c: c is busy.connection)
        async with lease_cm as lease:
            assert lease.connection is not busy.connection and not lease.reused
    await pool.close()


# --------------------------------------------------------------------------- fetch more


async def fetch_tags(
    lib_port: int, database: str, work: Callable[[Target, ConnectionPool[Z3950Session]], Any]
) -> tuple[list[list[int | None]], Any]:
    pool: ConnectionPool[Z3950Session] = ConnectionPool()
    async with FaultProxy(lib_port) as proxy:
        target = zebra(proxy, database, batch_size=2)
        out = await work(target, pool)
        await pool.close()
    return proxy.client_tags, out


@pytest.mark.servers
async def test_fetch_presents_from_the_kept_result_set(zebra_libraries: Federation) -> None:
    lib = zebra_libraries.library("lib1")
    direct = Target("direct", "direct", "z3950", host="127.0.0.1", port=lib.port, database="lib1")
    whole = await Z3950Connector(direct).search(COMPUTER, 6)

    async def work(target: Target, pool: ConnectionPool[Z3950Session]) -> Any:
        first = await Z3950Connector(target, pool=pool).search(COMPUTER, 2)
        other = await Z3950Connector(target, pool=pool).search(parse_pqf("@attr 1=4 book"), 1)
        assert other.hits != first.hits  # the second search must not have replaced the first
        return await Z3950Connector(target, pool=pool).fetch(first.result_set, 3, 4)

    tags, more = await fetch_tags(lib.port, lib.database, work)
    # Init, two searches, then two Presents of 2 (batch_size) on the first search's set
    assert tags == [[20, 22, 22, 24, 24, 48]]
    assert [(r.position, r.data) for r in more.records] == [
        (r.position, r.data) for r in whole.records[2:6]
    ]


@pytest.mark.servers
async def test_fetch_searches_again_when_the_association_is_gone(
    zebra_libraries: Federation,
) -> None:
    lib = zebra_libraries.library("lib1")

    async def work(target: Target, pool: ConnectionPool[Z3950Session]) -> Any:
        first = await Z3950Connector(target, pool=pool).search(COMPUTER, 4)
        await pool.close()  # the association that kept the set is closed
        more = await Z3950Connector(target, pool=pool).fetch(first.result_set, 3, 2)
        return first, more

    tags, (first, more) = await fetch_tags(lib.port, lib.database, work)
    # the search again brings no records with it: only records 3 and 4 are presented
    assert tags == [[20, 22, 24, 48], [20, 22, 24, 48]]
    assert [(r.position, r.data) for r in more.records] == [
        (r.position, r.data) for r in first.records[2:]
    ]
    assert more.result_set is not None and more.result_set != first.result_set


@pytest.mark.servers
async def test_the_least_recently_used_result_set_name_is_reused(
    zebra_libraries: Federation,
) -> None:
    lib = zebra_libraries.library("lib1")

    async def work(target: Target, pool: ConnectionPool[Z3950Session]) -> Any:
        connector = Z3950Connector(target, pool=pool)
        kept = [await connector.search(COMPUTER, 1) for _ in range(KEPT_RESULT_SETS)]
        await connector.fetch(kept[0].result_set, 2, 1)  # set 1 used: set 2 is now the oldest
        await connector.search(COMPUTER, 1)  # takes set 2's name
        await connector.fetch(kept[0].result_set, 3, 1)  # still kept: a Present
        await connector.fetch(kept[1].result_set, 2, 1)  # replaced: Search, then Present

    tags, _ = await fetch_tags(lib.port, lib.database, work)
    assert tags == [[20, *[22] * KEPT_RESULT_SETS, 24, 22, 24, 22, 24, 48]]


def test_one_result_set_name_without_named_result_sets() -> None:
    target = Target("t", "t", "z3950", host="127.0.0.1", port=210)
    session = Z3950Session(target, None, None, ClientConnection())  # type: ignore[arg-type]
    session.init = InitInfo(3, frozenset({"search", "present"}), 1, 1)
    first, second = session.new_result_set(), session.new_result_set()
    assert first.name == second.name == "default"
    assert not session.keeps(first) and session.keeps(second)
    session.init = replace(session.init, options=frozenset({"namedResultSets"}))
    third = session.new_result_set()
    assert third.name != "default" and session.keeps(second) and session.keeps(third)
    session.forget(third)
    assert not session.keeps(third)
