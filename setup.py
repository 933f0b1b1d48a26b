"""Build the native parts of Svod; the project's metadata is in pyproject.toml.

All are optional: without a C compiler (or without mypyc, which comes with mypy) the
install still succeeds and Svod runs the Python code they are built from.

- ``core._slots``, which fills a frozen record's slots in one call (``core.fastinit.NATIVE``);
- ``normalizers._marcread``, the C reader of ISO 2709 records (``normalizers.iso2709.NATIVE``
  says whether it runs);
- the field-map engine, ``normalizers.mapping`` with ``clean`` and ``holdings``, compiled by
  mypyc into one group (``normalizers.COMPILED`` names the modules that run compiled).

``pip install -e .`` builds them in place, next to their sources. A compiled module shadows
its ``.py``: after editing one of ``MYPYC_MODULES``, rebuild (``scripts/setup`` does when they
are newer than its stamp); ``normalizers`` warns and runs the ``.py`` files until then.
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import Extension, setup

#: compiled by mypyc; keep in step with ``normalizers._COMPILABLE`` and scripts/setup
MYPYC_MODULES = ["normalizers/clean.py", "normalizers/holdings.py", "normalizers/mapping.py"]


def compiled_map() -> list[Extension]:
    """The mypyc extensions, or none when mypyc is missing or cannot compile the modules."""
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    try:
        extensions: list[Extension] = mypycify(
            MYPYC_MODULES, opt_level="3", group_name="normalizers._mapc"
        )
    except (Exception, SystemExit) as error:  # mypyc exits on a type error
        print(f"setup.py: mypyc failed ({error}): the map engine stays Python", file=sys.stderr)
        for source in MYPYC_MODULES:  # an earlier build's files would shadow the sources
            for old in Path(source).parent.glob(Path(source).stem + ".*.so"):
                old.unlink()
        return []
    for extension in extensions:
        extension.optional = True  # no compiler: the .py files run
    return extensions


setup(
    ext_modules=[
        Extension("core._slots", sources=["core/_slots.c"], optional=True),
        Extension(
            "normalizers._marcread",
            sources=["normalizers/_marcread.c"],
            optional=True,
        ),
        *compiled_map(),
    ]
)
