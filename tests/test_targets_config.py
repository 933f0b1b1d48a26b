"""targets.yaml: the minimal form loads; every mistake names file, target and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import ConfigError
from federator.targets import load_targets, load_targets_text, select_targets

MINIMAL = """
targets:
  - id: lib1
    name: Central City Library
    protocol: z3950
    host: 127.0.0.1
    port: 9901
    database: lib1
    syntax: usmarc          # or unimarc, rusmarc, xml, opac
  - id: lib3
    name: University Library
    protocol: sru
    url: http://127.0.0.1:9903/lib3
    version: "1.2"
"""


def test_minimal_form_loads_into_frozen_targets() -> None:
    lib1, lib3 = load_targets_text(MINIMAL)
    assert (lib1.protocol, lib1.host, lib1.port, lib1.database, lib1.syntax) == (
        "z3950",
        "127.0.0.1",
        9901,
        "lib1",
        "usmarc",
    )
    assert (lib3.protocol, lib3.url, lib3.version) == ("sru", "http://127.0.0.1:9903/lib3", "1.2")
    assert lib1.flavour == "marc21" and lib1.timeouts.connect > 0
    with pytest.raises(AttributeError):
        lib1.port = 1  # type: ignore[misc]


def test_shipped_config_is_valid() -> None:
    targets = load_targets(Path(__file__).parents[1] / "config" / "targets.yaml")
    assert {t.protocol for t in targets} == {"z3950", "sru"}


def test_options_are_read() -> None:
    (t,) = load_targets_text(
        """
targets:
  - id: kemrsl
    protocol: z3950
    host: z.example.org
    syntax: rusmarc
    charset: windows-1251
    timeouts: {connect: 2, search: 7.5}
    index_map: {dc.title: "1=4 4=1"}
"""
    )
    assert t.flavour == "rusmarc" and t.charset == "cp1251"
    assert (t.timeouts.connect, t.timeouts.search) == (2.0, 7.5)
    assert t.index_map == {"dc.title": "1=4 4=1"} and t.port == 210


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{id: kemrsl, protocol: z3950, host: h, port: abc}",
            "targets.yaml: target 'kemrsl': 'port' must be an integer, got 'abc'",
        ),
        (
            "{id: kemrsl, protocol: z3950, host: h, port: 70000}",
            "target 'kemrsl': 'port' must be between 1 and 65535, got 70000",
        ),
        (
            "{id: kemrsl, protocol: gopher, host: h}",
            "target 'kemrsl': 'protocol' must be one of z3950, sru, got 'gopher'",
        ),
        ("{id: kemrsl, protocol: z3950}", "target 'kemrsl': 'host' is required"),
        (
            "{id: kemrsl, protocol: z3950, host: h, prot: 1}",
            "target 'kemrsl': unknown key 'prot' for a z3950 target (did you mean 'port'?)",
        ),
        ("{id: x, protocol: sru, url: 'ftp://h/x'}", "target 'x': 'url' must be an http://"),
        ("{id: x, protocol: sru, url: 'http://h/x', version: '3.0'}", "'version' must be one of"),
        ("{id: x, protocol: z3950, host: h, syntax: grs1}", "'syntax' must be one of"),
        (
            "{id: x, protocol: z3950, host: h, charset: klingon}",
            "'charset' 'klingon' is not a known character set",
        ),
        (
            "{id: x, protocol: z3950, host: h, timeouts: {search: -1}}",
            "'timeouts.search' must be a positive number",
        ),
        ("{id: 'bad id', protocol: z3950, host: h}", "target 'bad id': 'id' must be letters"),
        ("[1, 2]", "targets.yaml: target #1 must be a mapping"),
        (
            "{id: x, protocol: z3950, host: h, index_map: {dc.title: '1=four'}}",
            "target 'x': 'index_map' entry 'dc.title': ",
        ),
    ],
)
def test_errors_name_file_target_and_key(entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_targets_text(f"targets:\n  - {entry}\n")
    assert message in str(info.value)
    assert str(info.value).startswith("targets.yaml: ")


def test_duplicate_ids_and_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    twice = "targets:\n  - {id: a, protocol: sru, url: 'http://h/'}\n"
    twice += "  - {id: a, protocol: sru, url: 'http://h/'}\n"
    with pytest.raises(ConfigError, match="target 'a': 'id' is used twice"):
        load_targets_text(twice)
    with pytest.raises(ConfigError, match=r"targets.yaml: line 3: not valid YAML"):
        load_targets_text("targets:\n  - {id: [\n")
    with pytest.raises(ConfigError, match="expected a mapping with a 'targets' list"):
        load_targets_text("- 1\n")
    with pytest.raises(ConfigError, match="no such targets file"):
        load_targets(tmp_path / "nope.yaml")


def test_select_targets_by_id() -> None:
    targets = load_targets_text(MINIMAL)
    assert [t.id for t in select_targets(targets, ["lib3"])] == ["lib3"]
    assert select_targets(targets, None) == targets
    with pytest.raises(ConfigError, match="unknown target id 'nope' \\(known: lib1, lib3\\)"):
        select_targets(targets, ["nope"])
