"""The mypyc-compiled field-map engine (``normalizers.COMPILED``) and its staleness guard.

setup.py compiles ``normalizers.mapping``, ``clean`` and ``holdings`` when it can; a compiled
file shadows its ``.py``, so one older than its ``.py`` must not run silently. The whole
suite runs against whichever implementation is loaded; these tests pin which one that is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import normalizers
from normalizers import clean, holdings, mapping

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "normalizers"
NAMES = ("clean", "holdings", "mapping")
#: prints the compiled modules and where ``normalizers.mapping`` came from
WHICH = (
    "import normalizers, normalizers.mapping as m; print(sorted(normalizers.COMPILED), m.__file__)"
)


def _built(directory: Path, name: str) -> Path | None:
    for suffix in EXTENSION_SUFFIXES:
        if (directory / f"{name}{suffix}").exists():
            return directory / f"{name}{suffix}"
    return None


needs_compiled = pytest.mark.skipif(
    not all(_built(PACKAGE, n) for n in NAMES), reason="the map engine is not compiled"
)


def _run(code: str, *args: str, path: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SVOD_PURE_PYTHON"} | env
    environ["PYTHONPATH"] = os.pathsep.join([str(path), str(ROOT)])
    return subprocess.run(
        [sys.executable, *args, "-c", code], cwd=path, env=environ, capture_output=True, text=True
    )


def test_compiled_names_the_modules_loaded_from_compiled_files() -> None:
    for module in (clean, holdings, mapping):
        assert module.__file__ is not None
        from_extension = module.__file__.endswith(tuple(EXTENSION_SUFFIXES))
        assert (module.__name__ in normalizers.COMPILED) == from_extension


def test_the_compiled_modules_run_when_built_and_current() -> None:
    built = {f"normalizers.{n}" for n in NAMES if _built(PACKAGE, n)}
    if os.environ.get("SVOD_PURE_PYTHON") or normalizers.stale_compiled(PACKAGE, NAMES):
        built = set()
    assert built == normalizers.COMPILED


def test_svod_pure_python_runs_the_py_files() -> None:
    done = _run(WHICH, SVOD_PURE_PYTHON="1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", str(PACKAGE / "mapping.py")]


def test_stale_compiled_compares_each_compiled_file_with_its_source(tmp_path: Path) -> None:
    suffix = EXTENSION_SUFFIXES[0]
    for name in ("fresh", "old", "alone"):
        (tmp_path / f"{name}.py").write_text("")
    for name in ("fresh", "old"):
        (tmp_path / f"{name}{suffix}").write_bytes(b"")
    os.utime(tmp_path / f"old{suffix}", (1_000_000, 1_000_000))
    os.utime(tmp_path / "fresh.py", (1_000_000, 1_000_000))
    assert normalizers.stale_compiled(tmp_path, ["fresh", "old", "alone", "missing"]) == ["old"]


@needs_compiled
def test_an_edited_source_is_not_shadowed_by_its_old_compiled_file(tmp_path: Path) -> None:
    copy = tmp_path / "normalizers"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    built = _built(copy, "mapping")
    assert built is not None
    later = built.stat().st_mtime + 60
    os.utime(copy / "mapping.py", (later, later))

    failed = _run(WHICH, "-W", "error", path=tmp_path)
    assert failed.returncode != 0
    assert (
        "normalizers.mapping is compiled from an older mapping.py: run scripts/setup"
        in failed.stderr
    )

    warned = _run(WHICH, "-W", "default", path=tmp_path)
    assert warned.returncode == 0, warned.stderr
    assert "RuntimeWarning" in warned.stderr
    assert warned.stdout.split() == ["[]", str(copy / "mapping.py")]

    os.utime(copy / "mapping.py", (later - 120, later - 120))
    current = _run(WHICH, "-W", "error", path=tmp_path)
    assert current.returncode == 0, current.stderr
    assert current.stdout.split()[-1] == str(built)


@pytest.mark.skipif(
    shutil.which("gcc") is None and shutil.which("cc") is None, reason="no C compiler here"
)
def test_native_parts_are_built_where_a_compiler_is() -> None:
    # every part is optional at install time; where a compiler is, a missing one is a
    # broken build (say, mypyc failing on a type error in its isolated environment)
    import importlib.util

    assert importlib.util.find_spec("core._slots") is not None, "core._slots not built"
    assert importlib.util.find_spec("normalizers._marcread") is not None, "C reader not built"
    missing = [n for n in NAMES if _built(PACKAGE, n) is None]
    assert not missing, f"not compiled by mypyc: {missing} (pip install -e . -v shows why)"
