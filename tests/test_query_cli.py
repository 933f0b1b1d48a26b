"""``svod query explain``: what each library would be sent, without contacting any of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main
from federator.query import parse_query, to_rpn, to_sru_cql
from protocols.z3950.rpn import to_pqf

CONFIG = """\
targets:
  - {id: z, protocol: z3950, host: 127.0.0.1, port: 9, database: db}
  - id: s
    protocol: sru
    url: http://127.0.0.1:9/db
    index_map: {dc.title: title, dc.date: ""}
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "targets.yaml"
    path.write_text(CONFIG, "utf-8")
    return path


def svod(config: Path, *args: str) -> Result:
    """The CLI in-process (no library is contacted, so no event loop outlives a call)."""
    return CliRunner().invoke(main, ["--config", str(config), "query", "explain", *args])


def test_one_target_prints_just_the_query(config: Path) -> None:
    done = svod(config, "ti=war? and au=tolstoy", "--target", "z")
    assert done.exit_code == 0, done.output
    node = parse_query("dc.title=war* and dc.creator=tolstoy")
    assert done.stdout == to_pqf(to_rpn(node)) + "\n"
    done = svod(config, "ti=war? and au=tolstoy", "--target", "s")
    assert done.stdout == "title=war* and dc.creator=tolstoy\n"
    assert done.stdout.strip() == to_sru_cql(node, {"dc.title": "title"})


def test_every_target_and_one_that_cannot_take_the_query(config: Path) -> None:
    done = svod(config, "ti=war and py=1869")
    assert done.exit_code == 1
    lines = dict(line.split(maxsplit=1) for line in done.stdout.splitlines())
    assert lines["z"].startswith("@and @attr 1=4 ")
    assert lines["s"] == "cannot be sent: index dc.date not supported by 's'"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dc.title=(war", "--target", "z"], "svod: bad query: expected a search term"),
        (["ti=war and", "--target", "z"], "svod: bad query: CCL: expected a search term"),
        (["war", "--target", "nosuch"], "svod: bad input: unknown target id 'nosuch'"),
    ],
)
def test_bad_input_is_one_line_exit_2(config: Path, args: list[str], message: str) -> None:
    done = svod(config, *args)
    assert done.exit_code == 2
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1
    assert done.stdout == ""
