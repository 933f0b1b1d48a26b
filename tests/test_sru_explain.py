"""SRU explain: ``index_map: auto`` renames derived from ZeeRex records, ``svod targets
explain``, and one federated search where one library lacks an index the query uses.

The live half runs "kaliningrad": a zebrasrv serving a copy of lib3 with a CQL map and an
explain record of its own, where titles are ``local.ti`` and there is no date index at all.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main
from connectors.base import Connector, Progress, SearchResult, TargetQuery
from connectors.sru import SRUConnector
from core import (
    QueryError,
    Target,
    TargetDiagnostic,
    TargetState,
    Timeouts,
    UnsupportedIndex,
)
from demo.servers import ServerProcess, free_port, wait_port
from demo.zebra import Federation
from federator.engine import Engine
from federator.explain import (
    COMMON_INDEXES,
    derive_index_map,
    explain_lines,
    explain_query,
    translate,
)
from federator.query import parse_query, query_indexes, to_sru_cql
from protocols.sru import Explain, ExplainIndex, parse_explain

DATA = Path(__file__).parent / "data" / "sru"
LOCAL_SET = "info:svod/test/local-context-set"


def captured() -> Explain:
    return parse_explain((DATA / "explain-1.2.xml").read_bytes())


def derive(explain: Explain, query: str) -> dict[str, str]:
    return derive_index_map(explain, query_indexes(parse_query(query)))


# -- deriving renames from explain records ---------------------------------------------------


def test_a_server_that_has_every_index_needs_no_renames() -> None:
    explain = captured()
    query = "dc.title=a and title=b and dc.creator=c and bath.isbn=1 and rec.id=x and d"
    assert derive(explain, query) == {}
    assert derive(explain, "cql.allRecords=1") == {}  # CQL's own set is always sent


def test_synonyms_and_missing_indexes_on_the_captured_server() -> None:
    explain = captured()
    # bath.title and bath.author are not listed, but our table gives them the use attributes
    # of dc.title and dc.creator, which are
    assert derive(explain, "bath.title=a and bath.author=b and dc.nosuch=c") == {
        "bath.title": "dc.title",
        "bath.author": "dc.creator",
        "dc.nosuch": "",
    }
    with pytest.raises(UnsupportedIndex, match=r"^index dc.nosuch not supported by 'x'$"):
        to_sru_cql(parse_query("dc.nosuch=c"), derive(explain, "dc.nosuch=c"), target_id="x")


def test_a_server_with_its_own_prefix_for_a_known_context_set() -> None:
    # the same record, with Dublin Core called "dublin" there
    raw = (DATA / "explain-1.2.xml").read_bytes().replace(b'set="dc"', b'set="dublin"')
    raw = raw.replace(
        b'name="dc" identifier="info:srw/cql-context-set',
        b'name="dublin" identifier="info:srw/cql-context-set',
    )
    explain = parse_explain(raw)
    assert ("dublin", "info:srw/cql-context-set/1/dc-v1.1") in explain.sets
    renames = derive(explain, "dc.title=war and tolstoy and bath.isbn=1")
    assert renames == {"dc.title": "dublin.title"}
    node = parse_query("dc.title=war and tolstoy and bath.isbn=1")
    assert to_sru_cql(node, renames) == "dublin.title=war and tolstoy and bath.isbn=1"


def test_bare_names_attribute_maps_titles_and_flags() -> None:
    explain = Explain(
        index_info=(
            ExplainIndex("title", ("title",)),
            ExplainIndex("Verfasser", ("x.verf",), attributes=((1, 1003),)),
            ExplainIndex("subject", ("x.sw",)),
            ExplainIndex("date", ("x.date",), search=False),
        )
    )
    assert derive(explain, "dc.title=a and dc.creator=b and dc.subject=c and dc.date=1") == {
        "dc.title": "title",  # the same name without a set
        "dc.creator": "x.verf",  # the Bib-1 use attribute in its ZeeRex map
        "dc.subject": "x.sw",  # the index's title
        "dc.date": "",  # listed, but not searchable
    }
    assert derive_index_map(Explain(), ["dc.title", "dc.nosuch"]) == {}


def test_explain_lines_show_the_record_and_what_auto_would_send() -> None:
    lines = explain_lines(captured())
    assert lines[0] == "title        Zebra lab library lib2 (marc21)"
    assert "server       SRU 1.2 server 127.0.0.1:23842 database lib2" in lines
    assert any(re.match(r"  author +dc.creator, dc.author$", line) for line in lines)
    assert "setting      maximumRecords=1000" in lines
    start = lines.index("index_map: auto would send")
    assert len(lines) - start - 1 == len(COMMON_INDEXES)
    assert all(line.split()[0] == line.split()[1] for line in lines[start + 1 :])


async def test_translate_asks_only_auto_targets_for_explain() -> None:
    class NoExplain(SRUConnector):
        async def explain(self, *, refresh: bool = False) -> Explain:
            raise AssertionError("a target without index_map: auto fetched explain")

    plain = Target("p", "P", "sru", url="http://127.0.0.1:1/p", index_map={"dc.title": "ti"})
    node = parse_query("dc.title=war")
    assert await translate(node, plain, NoExplain(plain)) == "ti=war"
    auto = Target("a", "A", "sru", url="http://127.0.0.1:1/a", index_map_auto=True)
    with pytest.raises(QueryError, match="needs a connector with explain"):
        await translate(node, auto, _Silent(auto))


class _Silent(Connector):
    """A connector of some other kind: it cannot fetch an explain record."""

    async def search(
        self, query: TargetQuery, limit: int, progress: Progress | None = None
    ) -> SearchResult:
        raise AssertionError("not searched")

    async def ping(self) -> str:
        return "silent"


# -- kaliningrad: a live server with other index names ---------------------------------------


def _kaliningrad_files(lib_dir: Path, work: Path, port: int) -> Path:
    """A copy of a library's directory (zebrasrv locks its own), re-pointed and re-mapped."""
    shutil.copytree(lib_dir, work, ignore=shutil.ignore_patterns("lock", "tmp", "*.log"))
    for sub in ("lock", "tmp"):
        (work / sub).mkdir()
    for name in ("zebra.cfg", "yazgfs.xml"):
        text = (work / name).read_text("utf-8")
        (work / name).write_text(text.replace(str(lib_dir), str(work)), "utf-8")
    properties = (work / "svod-cql.properties").read_text("utf-8")
    dropped = ("index.dc.title", "index.dc.date", "index.bath.title", "index.bib1.")
    kept = [line for line in properties.splitlines() if not line.startswith(dropped)]
    kept += [f"set.local = {LOCAL_SET}", "index.local.ti = 1=4"]
    (work / "svod-cql.properties").write_text("\n".join(kept) + "\n", "utf-8")
    config = (work / "yazgfs.xml").read_text("utf-8")
    old_port = re.search(r"tcp:127\.0\.0\.1:(\d+)", config)
    assert old_port is not None
    config = config.replace(f"tcp:127.0.0.1:{old_port.group(1)}", f"tcp:127.0.0.1:{port}")
    config = config.replace(f"<port>{old_port.group(1)}</port>", f"<port>{port}</port>")
    title = '<index><title>title</title><map><name set="dc">title</name></map></index>'
    date = '<index><title>date</title><map><name set="dc">date</name></map></index>'
    assert title in config and date in config
    local_title = '<index><title>title</title><map><name set="local">ti</name></map></index>'
    config = config.replace(title, local_title).replace(date, "")
    local_set = f'<set name="local" identifier="{LOCAL_SET}"/>'
    config = config.replace("<indexInfo>", f"<indexInfo>\n{local_set}")
    path = work / "yazgfs.xml"
    path.write_text(config, "utf-8")
    return path


@pytest.fixture(scope="module")
def kaliningrad(
    zebra_libraries: Federation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """lib3's records behind another CQL map: ``local.ti`` for titles, no date index."""
    exe = shutil.which("zebrasrv")
    if exe is None:
        pytest.skip("zebrasrv not installed (Debian package idzebra-2.0-utils)")
    lib = zebra_libraries.library("lib3")
    work = tmp_path_factory.mktemp("kaliningrad") / "lib3"
    port = free_port()
    config = _kaliningrad_files(lib.workdir, work, port)
    log = work / "zebrasrv.log"
    proc = subprocess.Popen(
        [exe, "-f", str(config), "-l", str(log)],
        cwd=work,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = ServerProcess("kaliningrad", port, proc, log)
    if not wait_port(port):
        server.stop()
        pytest.fail(f"kaliningrad did not start, see {log}")
    yield Target(
        "kaliningrad",
        "Kaliningrad Regional Library",
        "sru",
        url=f"http://127.0.0.1:{port}/lib3",
        index_map_auto=True,
        timeouts=Timeouts(2, 5, 5),
    )
    server.stop()


@pytest.mark.servers
async def test_auto_renames_what_the_server_calls_otherwise(
    kaliningrad: Target, zebra_libraries: Federation
) -> None:
    as_is = Target("k", "K", "sru", url=kaliningrad.url, timeouts=kaliningrad.timeouts)
    lib3 = Target("lib3", "lib3", "sru", url=zebra_libraries.library("lib3").sru_url)
    async with SRUConnector(as_is) as plain, SRUConnector(lib3) as reference:
        # without renames the server refuses dc.title (SRU 16); with them it finds lib3's books
        with pytest.raises(TargetDiagnostic, match="Unsupported index"):
            await plain.search("dc.title=computer", 0)
        expected = await reference.search("dc.title=computer", 0)
    async with SRUConnector(kaliningrad) as connector:
        query = await translate(parse_query("dc.title=computer"), kaliningrad, connector)
        assert query == "local.ti=computer"
        result = await connector.search(query, 0)
    assert result.hits == expected.hits > 0
    assert await explain_query("ti=computer and au=collins", kaliningrad) == (
        "local.ti=computer and dc.creator=collins"
    )
    with pytest.raises(UnsupportedIndex, match=r"^index dc.date not supported by 'kaliningrad'$"):
        await explain_query("dc.title=computer and dc.date>1990", kaliningrad)


@pytest.mark.servers
async def test_a_library_lacking_an_index_is_a_status_and_the_others_still_run(
    kaliningrad: Target, zebra_libraries: Federation
) -> None:
    lib1 = zebra_libraries.library("lib1")
    lib2 = zebra_libraries.library("lib2")
    lib3 = zebra_libraries.library("lib3")
    targets = [
        Target("lib1", "lib1", "z3950", host="127.0.0.1", port=lib1.port, database="lib1"),
        Target("lib2", "lib2", "sru", url=lib2.sru_url),
        kaliningrad,
        # a Z39.50 library whose targets.yaml says it has no date index
        Target(
            "nodate",
            "lib3",
            "z3950",
            host="127.0.0.1",
            port=lib3.port,
            database="lib3",
            index_map={"dc.date": ""},
        ),
    ]
    engine = Engine(targets)
    outcome = await engine.search("dc.title=computer and dc.date>1900")
    by_id = {s.target_id: s for s in outcome.statuses}
    for tid in ("kaliningrad", "nodate"):
        assert by_id[tid].state is TargetState.ERROR
        assert by_id[tid].message == f"index dc.date not supported by '{tid}'"
        diagnostic = by_id[tid].diagnostic
        assert diagnostic is not None and (diagnostic.diagset, diagnostic.code) == ("sru", 16)
    assert by_id["lib1"].state is by_id["lib2"].state is TargetState.DONE
    assert by_id["lib1"].hits > 0 and by_id["lib2"].hits > 0
    assert {lib for hit in outcome.hits for lib in hit.libraries} == {"lib1", "lib2"}
    # the same engine, a query kaliningrad can answer: its titles index is found by explain
    outcome = await engine.search("dc.title=computer", target_ids=["kaliningrad"])
    (status,) = outcome.statuses
    assert status.state is TargetState.DONE and status.hits == status.records > 0


@pytest.mark.servers
def test_svod_targets_explain(
    kaliningrad: Target, zebra_libraries: Federation, tmp_path: Path
) -> None:
    lib1 = zebra_libraries.library("lib1")
    config = tmp_path / "targets.yaml"
    config.write_text(
        "targets:\n"
        f"  - {{id: kaliningrad, protocol: sru, url: '{kaliningrad.url}', index_map: auto}}\n"
        f"  - {{id: lib1, protocol: z3950, host: 127.0.0.1, port: {lib1.port}, database: lib1}}\n",
        "utf-8",
    )

    def svod(*args: str) -> Result:
        return CliRunner().invoke(main, ["--config", str(config), *args])

    shown = svod("targets", "explain", "kaliningrad")
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == f"kaliningrad (sru {kaliningrad.url})"
    assert any(re.match(r"  title +local\.ti$", line) for line in lines)
    assert any(re.match(r"  dc\.title +local\.ti$", line) for line in lines)
    assert any(re.match(r"  dc\.date +\(not supported\)$", line) for line in lines)
    z = svod("targets", "explain", "lib1")
    assert z.exit_code == 0, z.output
    assert z.stdout.splitlines()[0] == "lib1: explain is SRU only; Z39.50 Explain not supported"
    assert z.stdout.splitlines()[1].startswith("Init: Z39.50")
    unknown = svod("targets", "explain", "nosuch")
    assert unknown.exit_code == 2 and "unknown target id 'nosuch'" in unknown.stderr
    sent = svod("query", "explain", "ti=computer and py=1990", "--target", "kaliningrad,lib1")
    assert sent.exit_code == 1
    out = dict(line.split(maxsplit=1) for line in sent.stdout.splitlines())
    assert out["kaliningrad"] == "cannot be sent: index dc.date not supported by 'kaliningrad'"
    assert (
        out["lib1"]
        == "@and @attr 1=4 @attr 2=3 @attr 4=2 computer @attr 1=30 @attr 2=3 @attr 4=2 1990"
    )
