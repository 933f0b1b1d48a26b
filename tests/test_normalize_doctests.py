"""The examples in the normalizers' docstrings run, and say what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import normalizers

MODULES = sorted(m.name for m in pkgutil.iter_modules(normalizers.__path__, "normalizers."))


def test_every_module_is_listed() -> None:
    assert {"normalizers.charsets", "normalizers.iso2709", "normalizers.convert"} <= set(MODULES)


@pytest.mark.parametrize("name", ["normalizers", *MODULES])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
