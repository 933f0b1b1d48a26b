"""End to end: the real `svod` command over three real zebrasrv libraries (two over Z39.50,
one over SRU), plus a refusing and a silent library, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dedup.keys import normalize_text
from demo.servers import refusing_port, start_silent_server
from demo.zebra import Federation


def svod(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a child process, as a user would."""
    cmd = [sys.executable, "-m", "cli"]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60)


def _zebra_yaml(federation: Federation) -> str:
    lines = ["targets:"]
    for lib in federation:
        if lib.name == "lib3":
            lines += [f"  - {{id: lib3, protocol: sru, url: '{lib.sru_url}'}}"]
        else:
            lines += [
                f"  - {{id: {lib.name}, protocol: z3950, host: 127.0.0.1, port: {lib.port},",
                f"      database: {lib.database}, syntax: usmarc}}",
            ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def config(zebra_libraries: Federation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "targets.yaml"
    path.write_text(_zebra_yaml(zebra_libraries), "utf-8")
    return path


def _holders(federation: Federation) -> dict[str, set[str]]:
    """Which libraries hold each title (245 $a), from the split's manifest. Debian's sample
    has one book twice under different 001s: their holders are united."""
    out: dict[str, set[str]] = {}
    for e in federation.manifest.entries:
        out.setdefault(normalize_text(e.title), set()).update(e.libraries)
    return out


def test_federated_search_lists_the_libraries_that_really_hold_each_book(
    zebra_libraries: Federation, config: Path
) -> None:
    result = svod("search", "dc.title=computer", "--format", "json", config=config)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["query"] == "dc.title=computer"
    statuses = {t["id"]: t for t in doc["targets"]}
    assert {s["status"] for s in statuses.values()} == {"done"}
    holders = _holders(zebra_libraries)
    expected_hits = {key for key, libs in holders.items() if "computer" in key.split()}
    assert expected_hits, "the corpus has computer books"
    seen = []
    for hit in doc["hits"]:
        # our title is 245 $a $b...; the manifest's is $a
        full = normalize_text(hit["title"])
        key = max((k for k in holders if full.startswith(k)), key=len, default="")
        assert key, hit["title"]
        assert set(hit["libraries"]) == holders[key], hit["title"]
        seen.append(key)
    assert len(seen) == len(set(seen)), "a book must come back once"
    # every book with "computer" in 245 $a is found (Zebra's title index also covers $b etc.)
    assert expected_hits <= set(seen)
    assert any(len(h["libraries"]) >= 2 for h in doc["hits"])
    # every record each library reported is accounted for in exactly one hit
    for lib in ("lib1", "lib2", "lib3"):
        fetched = [r for h in doc["hits"] for r in h["records"] if r["target"] == lib]
        assert len(fetched) == statuses[lib]["hits"] == statuses[lib]["records"]


def test_book_in_two_libraries_comes_back_once(zebra_libraries: Federation, config: Path) -> None:
    two = [e for e in zebra_libraries.manifest.with_copies(2) if e.isbns]
    assert two, "the split puts some ISBN books in exactly two libraries"
    entry = two[0]
    result = svod("search", f"bath.isbn={entry.isbns[0]}", "--format", "json", config=config)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]
    assert len(hits) == 1
    assert sorted(hits[0]["libraries"]) == sorted(entry.libraries)
    assert len(hits[0]["records"]) == 2


@pytest.fixture
def faulty_config(config: Path, tmp_path: Path) -> Iterator[Path]:
    with refusing_port() as refused, start_silent_server() as silent:
        path = tmp_path / "targets.yaml"
        path.write_text(
            config.read_text("utf-8")
            + f"  - {{id: refused, protocol: z3950, host: 127.0.0.1, port: {refused}}}\n"
            + f"  - {{id: silent, protocol: z3950, host: 127.0.0.1, port: {silent.port},"
            + " timeout: 1}\n",
            "utf-8",
        )
        yield path


def test_refusing_and_silent_libraries_end_as_statuses(faulty_config: Path) -> None:
    result = svod("search", "computer", "--format", "json", config=faulty_config)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    statuses = {t["id"]: t for t in doc["targets"]}
    assert statuses["refused"]["status"] == "error"
    assert "connection refused" in statuses["refused"]["message"]
    assert statuses["silent"]["status"] == "timeout"
    assert statuses["silent"]["message"].startswith("timeout after 1 s")
    assert all(statuses[lib]["status"] == "done" for lib in ("lib1", "lib2", "lib3"))
    assert doc["hits"]
    # one live status line per state change on stderr, naming each target
    assert "refused" in result.stderr and "timeout after 1 s" in result.stderr


def test_table_output_and_every_target_failing(faulty_config: Path) -> None:
    table = svod("search", "computer", "--targets", "lib1,lib3", config=faulty_config)
    assert table.returncode == 0, table.stderr
    assert "held by" in table.stdout and "lib1" in table.stderr and "lib2" not in table.stderr
    failed = svod("search", "computer", "--targets", "refused", config=faulty_config)
    assert failed.returncode == 1
    assert "No hits." in failed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "dc.title=(war"], "svod: bad query: "),
        (["search", "war", "--targets", "nope"], "unknown target id 'nope'"),
    ],
)
def test_bad_input_is_one_line_exit_2(config: Path, args: list[str], message: str) -> None:
    result = svod(*args, config=config)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_bad_targets_file_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "targets.yaml"
    bad.write_text("targets:\n  - {id: kemrsl, protocol: z3950, host: h, port: abc}\n")
    result = svod("search", "war", config=bad)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "svod: targets.yaml: target 'kemrsl': 'port' must be an integer, got 'abc'"
    )


def test_targets_list_and_check(config: Path, faulty_config: Path) -> None:
    listed = svod("targets", "list", config=config)
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["lib1", "lib2", "lib3"]
    checked = svod("targets", "check", config=faulty_config)
    assert checked.returncode == 1
    lines = {line.split()[0]: line for line in checked.stdout.splitlines()}
    assert " ok " in lines["lib1"] and "Z39.50" in lines["lib1"]
    assert " ok " in lines["lib3"] and "SRU" in lines["lib3"]
    assert " error " in lines["refused"]
    assert "ok" not in lines["silent"].split()[1]
