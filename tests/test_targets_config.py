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
    assert lib1.flavour == "" and lib1.timeouts.connect > 0
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
            "target 'kemrsl': 'protocol' must be one of z3950, sru, local, got 'gopher'",
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


def test_sru_http_method_packing_and_index_map_auto() -> None:
    plain, tuned = load_targets_text(
        """
targets:
  - {id: a, protocol: sru, url: 'http://h/a'}
  - id: b
    protocol: sru
    url: http://h/b
    method: POST
    packing: string
    index_map: auto
"""
    )
    assert (plain.method, plain.packing, plain.index_map_auto, plain.index_map) == (
        "get",
        "xml",
        False,
        {},
    )
    assert (tuned.method, tuned.packing, tuned.index_map_auto, tuned.index_map) == (
        "post",
        "string",
        True,
        {},
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{id: x, protocol: sru, url: 'http://h/x', method: put}",
            "target 'x': 'method' must be one of get, post, got 'put'",
        ),
        (
            "{id: x, protocol: sru, url: 'http://h/x', packing: json}",
            "target 'x': 'packing' must be one of xml, string, got 'json'",
        ),
        (
            "{id: x, protocol: sru, url: 'http://h/x', index_map: automatic}",
            "target 'x': 'index_map' must be a mapping of CQL index to target index or 'auto', "
            "got 'automatic'",
        ),
        (
            "{id: x, protocol: z3950, host: h, index_map: auto}",
            "target 'x': 'index_map: auto' needs SRU explain",
        ),
        (
            "{id: x, protocol: z3950, host: h, method: post}",
            "target 'x': unknown key 'method' for a z3950 target",
        ),
    ],
)
def test_sru_key_errors_name_file_target_and_key(entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_targets_text(f"targets:\n  - {entry}\n")
    assert message in str(info.value)
    assert str(info.value).startswith("targets.yaml: ")


def test_local_collection_paths_are_relative_to_the_targets_file(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    path = tmp_path / "targets.yaml"
    path.write_text(
        """
targets:
  - id: kemrsl
    name: Regional Library
    protocol: local
    files: [exports/main.iso, "exports/extra-*.iso"]
    flavour: rusmarc
    charset: windows-1251
    index_dir: cache/kemrsl
  - {id: one, protocol: local, files: /abs/one.mrc}
""",
        "utf-8",
    )
    kemrsl, one = load_targets(path)
    assert kemrsl.protocol == "local" and (kemrsl.flavour, kemrsl.charset) == ("rusmarc", "cp1251")
    assert kemrsl.files == (
        str(tmp_path / "exports" / "main.iso"),
        str(tmp_path / "exports" / "extra-*.iso"),
    )
    assert kemrsl.index_dir == str(tmp_path / "cache" / "kemrsl")
    assert kemrsl.address == f"file:{tmp_path / 'exports' / 'main.iso'} (+1)"
    assert (one.files, one.index_dir, one.flavour) == (("/abs/one.mrc",), "", "")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{id: x, protocol: local}", "target 'x': 'files' is required for a local collection"),
        (
            "{id: x, protocol: local, files: []}",
            "target 'x': 'files' must be a path or a non-empty list of paths, got []",
        ),
        (
            "{id: x, protocol: local, files: [a.iso, 3]}",
            "target 'x': 'files' entries must be paths",
        ),
        (
            "{id: x, protocol: local, files: a.iso, host: h}",
            "target 'x': unknown key 'host' for a local target",
        ),
        (
            "{id: x, protocol: local, files: a.iso, flavour: danmarc}",
            "target 'x': 'flavour' must be one of marc21, unimarc, rusmarc, got 'danmarc'",
        ),
        (
            "{id: x, protocol: local, files: a.iso, charset: klingon}",
            "target 'x': 'charset' 'klingon' is not a known character set",
        ),
        ("{id: x, protocol: lokal, files: a.iso}", "'protocol' must be one of z3950, sru, local"),
    ],
)
def test_local_key_errors_name_file_target_and_key(entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_targets_text(f"targets:\n  - {entry}\n")
    assert message in str(info.value)
    assert str(info.value).startswith("targets.yaml: ")


def test_z3950_session_keys() -> None:
    from core.target import Auth

    plain, tuned = load_targets_text(
        """
targets:
  - {id: plain, protocol: z3950, host: h}
  - id: kemrsl
    protocol: z3950
    host: z.example.org
    auth: {user_env: KEMRSL_USER, password_env: KEMRSL_PASS, method: open}
    negotiate_charset: true
    element_set: F
    piggyback: false
    batch_size: 10
    preferred_message_size: 1048576
    max_record_size: 524288
    pool_size: 0
    pool_idle: 5
"""
    )
    assert (plain.auth, plain.negotiate_charset, plain.element_set, plain.piggyback) == (
        None,
        "",
        "",
        True,
    )
    assert (plain.pool_size, plain.pool_idle) == (2, 60.0)
    assert tuned.auth == Auth("KEMRSL_USER", "KEMRSL_PASS", "", "open")
    assert (tuned.negotiate_charset, tuned.element_set, tuned.piggyback) == ("UTF-8", "F", False)
    assert (tuned.batch_size, tuned.preferred_message_size, tuned.max_record_size) == (
        10,
        1048576,
        524288,
    )
    assert (tuned.pool_size, tuned.pool_idle) == (0, 5.0)
    (cyrillic,) = load_targets_text(
        "targets: [{id: r, protocol: z3950, host: h, negotiate_charset: windows-1251}]"
    )
    assert cyrillic.negotiate_charset == "WINDOWS-1251"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("auth: KEMRSL", "target 'k': 'auth' must be a mapping"),
        ("auth: {password_env: P}", "target 'k': 'user_env' is required"),
        ("auth: {user_env: 'my user'}", "'auth.user_env' must name an environment variable"),
        ("auth: {user_env: U, token_env: T}", "'auth' has unknown key 'token_env'"),
        ("auth: {user_env: U, method: kerberos}", "'method' must be one of open, idpass"),
        ("auth: {user_env: U, group_env: G, method: open}", "'auth.group_env' needs"),
        ("negotiate_charset: klingon", "'negotiate_charset' 'klingon' is not a known"),
        ("negotiate_charset: 1", "'negotiate_charset' must be true, false or a charset"),
        ("element_set: 'F B'", "'element_set' must be a short name"),
        ("piggyback: sometimes", "'piggyback' must be true or false"),
        ("batch_size: 0", "'batch_size' must be between 1 and 1000"),
        ("max_record_size: 10", "'max_record_size' must be between 4096"),
        ("pool_size: 99", "'pool_size' must be between 0 and 16"),
        ("pool_idle: -1", "'pool_idle' must be a positive number of seconds"),
        ("pool_sise: 3", "unknown key 'pool_sise' for a z3950 target (did you mean 'pool_size'?)"),
    ],
)
def test_z3950_session_key_errors_name_file_target_and_key(entry: str, message: str) -> None:
    text = f"targets:\n  - id: k\n    protocol: z3950\n    host: h\n    {entry}\n"
    with pytest.raises(ConfigError) as info:
        load_targets_text(text, "targets.yaml")
    assert str(info.value).startswith("targets.yaml: target 'k': ")
    assert message in str(info.value)
