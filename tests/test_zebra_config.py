"""The Zebra configuration Svod ships (demo/data) and writes for each library."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from lxml import etree

from demo.zebra import CONFIG_FILES, DATA, YAZ_ETC, Federation

STOCK = YAZ_ETC / "pqf.properties"
OURS = DATA / "svod-cql.properties"
PROPERTY = re.compile(r"^([^#\s][^=]*?)\s*=\s*(.*?)\s*$")


def _properties(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text("utf-8").splitlines():
        if match := PROPERTY.match(line):
            found[match.group(1)] = match.group(2)
    return found


def _patched_keys(path: Path) -> set[str]:
    """Keys (also commented-out ones) directly followed by a ``# SVOD:`` comment line."""
    lines = path.read_text("utf-8").splitlines()
    keys = set()
    for line, following in itertools.pairwise(lines):
        if following.strip().startswith("# SVOD:") and (match := PROPERTY.match(line.lstrip("#"))):
            keys.add(match.group(1))
    return keys


def test_shipped_files_exist() -> None:
    for name in CONFIG_FILES:
        assert (DATA / name).is_file(), name


@pytest.mark.skipif(not STOCK.is_file(), reason="YAZ's pqf.properties not installed (Debian 'yaz')")
def test_cql_properties_are_yaz_stock_plus_marked_patches() -> None:
    stock, ours, patched = _properties(STOCK), _properties(OURS), _patched_keys(OURS)
    assert patched, "no '# SVOD:' patches found"
    for key, value in stock.items():
        if key not in patched:
            assert ours.get(key) == value, f"{key} differs from YAZ's stock file without a reason"
    # what Zebra needs: 4=108 and a trailing 6=1 silently break "=="; bib1.att lacks 1=1044
    assert ours["structure.exact"] == "4=1"
    assert ours["relation.exact"] == "2=3 6=3"
    assert "always" not in ours
    assert ours["index.bath.possessingInstitution"] == "1=56"


def test_abs_indexes_isbn_and_holding_library() -> None:
    rules = (DATA / "svod-marc21.abs").read_text("utf-8")
    assert re.search(r"^melm 020\$a\s+ISBN", rules, re.M)
    assert re.search(r"^melm 852\$a\s+Code-institution", rules, re.M)
    assert re.search(r"^encoding utf-8$", rules, re.M)


@pytest.mark.servers
def test_generated_config_of_a_running_library(zebra_libraries: Federation) -> None:
    for lib in zebra_libraries:
        cfg = (lib.workdir / "zebra.cfg").read_text("utf-8")
        assert re.search(r"^encoding: UTF-8$", cfg, re.M)
        assert re.search(rf"^database: {lib.database}$", cfg, re.M)
        module_path = re.search(r"^modulePath: (.+)$", cfg, re.M)
        assert module_path and (Path(module_path.group(1)) / "mod-grs-marc.so").is_file()
        gfs = etree.parse(str(lib.workdir / "yazgfs.xml"))
        assert gfs.findtext("listen") == f"tcp:127.0.0.1:{lib.port}"
        cql2rpn = gfs.findtext("server/cql2rpn")
        assert cql2rpn and Path(cql2rpn).read_bytes() == OURS.read_bytes()
        assert gfs.find("server/retrievalinfo/retrieval[@syntax='usmarc']") is not None
