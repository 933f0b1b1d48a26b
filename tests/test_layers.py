"""Imports run one way: core <- protocols <- connectors <- federator <- servers, cli.

normalizers and dedup import only core (and their own package); nothing imports servers or
cli; demo (the server fixtures and the demo command) sits beside the front ends.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = [
    "core",
    "protocols",
    "connectors",
    "normalizers",
    "dedup",
    "federator",
    "servers",
    "demo",
]

# what each layer may import from the project (itself always allowed)
ALLOWED = {
    "core": set(),
    "protocols": {"core"},
    "connectors": {"core", "protocols"},
    "normalizers": {"core"},
    "dedup": {"core"},
    "federator": {"core", "protocols", "connectors", "normalizers", "dedup"},
    "servers": {"core", "protocols", "connectors", "normalizers", "dedup", "federator"},
    "demo": {"core", "federator"},
}
PROJECT = {*PACKAGES, "cli"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & PROJECT


@pytest.mark.parametrize("package", PACKAGES)
def test_layer_imports_only_lower_layers(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package} has no modules"
    for path in files:
        wrong = _imports(path) - ALLOWED[package] - {package}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_pymarc_lives_only_in_normalizers() -> None:
    for package in PACKAGES:
        if package == "normalizers":
            continue
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text("utf-8")
            assert "import pymarc" not in text and "from pymarc" not in text, path
