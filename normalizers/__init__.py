"""RawRecord -> Record. Pure functions; pymarc is used here and nowhere else.

Every record syntax a library may send: ISO 2709 (MARC21, UNIMARC, RUSMARC in MARC-8,
ISO 5426, UTF-8, cp1251, KOI8-R...), MARCXML, Dublin Core, SUTRS, and Z39.50 OPAC records
(bibliographic record plus holdings and circulation).

>>> from core import RawRecord
>>> xml = (b'<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500'
...        b'</leader><datafield tag="245" ind1="1" ind2="0"><subfield code="a">War and peace /'
...        b'</subfield></datafield></record>')
>>> normalize(RawRecord("lib", 1, "marcxml", xml)).title
'War and peace'

The field-map engine (``mapping``, ``clean``, ``holdings``) is compiled by mypyc when the
install could (see setup.py); ``COMPILED`` names the modules that run compiled. A compiled
module older than its ``.py`` (edited since the last build) is not used: the package warns
and runs the ``.py`` files instead. ``SVOD_PURE_PYTHON=1`` in the environment runs the
``.py`` files too, and the pure-Python reader (``normalizers.iso2709.NATIVE``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from collections.abc import Iterable
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

#: the modules setup.py compiles with mypyc, in the order they import each other
_COMPILABLE = ("clean", "holdings", "mapping")
#: a wheel install may write a module's ``.py`` a moment after its compiled file
_SLACK_SECONDS = 2.0


def stale_compiled(directory: Path, names: Iterable[str]) -> list[str]:
    """The ``names`` whose compiled file in ``directory`` is older than their ``.py``."""
    stale = []
    for name in names:
        source = directory / f"{name}.py"
        for suffix in EXTENSION_SUFFIXES:
            built = directory / f"{name}{suffix}"
            if built.exists() and source.exists():
                if source.stat().st_mtime > built.stat().st_mtime + _SLACK_SECONDS:
                    stale.append(name)
                break
    return stale


def _load_source(name: str) -> None:
    """Import ``normalizers.<name>`` from its ``.py`` even where a compiled file shadows it."""
    full = f"{__name__}.{name}"
    spec = importlib.util.spec_from_file_location(full, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    spec.loader.exec_module(module)


def _choose_implementation() -> None:
    # The compiled modules call each other directly: one stale means all run from source.
    if os.environ.get("SVOD_PURE_PYTHON"):
        stale = []
    else:
        stale = stale_compiled(Path(__file__).parent, _COMPILABLE)
        if not stale:
            return
        for name in stale:
            warnings.warn(
                f"{__name__}.{name} is compiled from an older {name}.py: run scripts/setup"
                " (running the .py files meanwhile)",
                RuntimeWarning,
                stacklevel=2,
            )
    for name in _COMPILABLE:
        _load_source(name)


_choose_implementation()

from core import RawRecord, Record, RecordError  # noqa: E402
from core.xmlsafe import parse_untrusted  # noqa: E402
from normalizers import clean, dc, holdings, mapping, opac  # noqa: E402
from normalizers.mapping import to_record  # noqa: E402
from normalizers.marc import (  # noqa: E402
    MAX_RECORD_BYTES,
    MarcRecord,
    read_iso2709,
    read_marcxml,
)

__all__ = ["COMPILED", "SYNTAXES", "normalize", "read_marc", "stale_compiled"]

#: the modules of this package that run compiled by mypyc (none in a pure-Python install)
COMPILED: frozenset[str] = frozenset(
    m.__name__
    for m in (clean, holdings, mapping)
    if m.__file__ is not None and m.__file__.endswith(tuple(EXTENSION_SUFFIXES))
)

#: How each record syntax is read.
SYNTAXES: dict[str, str] = {
    "usmarc": "iso2709",
    "marc21": "iso2709",
    "unimarc": "iso2709",
    "rusmarc": "iso2709",
    "marcxml": "marcxml",
    "xml": "xml",
    "dc": "dc",
    "sutrs": "sutrs",
    "opac": "opac",
}


def read_marc(raw: RawRecord, *, charset: str = "", flavour: str = "") -> MarcRecord:
    """The decoded MARC record inside ``raw`` (ISO 2709, MARCXML, or an OPAC record's)."""
    syntax = raw.syntax.strip().lower()
    kind = SYNTAXES.get(syntax)
    if kind == "iso2709":
        return read_iso2709(raw.data, charset, flavour, hint=syntax)
    if kind in ("marcxml", "xml"):
        return read_marcxml(raw.data, flavour)
    if kind == "opac":
        return opac.read_opac(raw.data, charset=charset, flavour=flavour).marc
    raise RecordError(f"a {raw.syntax!r} record holds no MARC record")


def normalize(raw: RawRecord, *, charset: str = "", flavour: str = "") -> Record:
    """Decode ``raw`` and map it to the canonical ``Record``.

    ``charset`` (``utf-8``, ``marc-8``, ``iso-5426``, or any Python codec) and ``flavour``
    (``marc21``, ``unimarc``, ``rusmarc``) come from the target's configuration and win over
    what the record says about itself; left empty, the record's declarations and bytes
    decide. A record that cannot be read raises ``core.RecordError`` and nothing else; one
    whose text could not be decoded cleanly comes back with ``charset_suspect`` set.
    """
    syntax = raw.syntax
    kind = SYNTAXES.get(syntax)
    if kind is None:
        syntax = syntax.strip().lower()
        kind = SYNTAXES.get(syntax)
        if kind is None:
            raise RecordError(f"no normalizer for record syntax {raw.syntax!r}")
    if kind == "iso2709":
        marc = read_iso2709(raw.data, charset, flavour, hint=syntax)
    elif kind == "marcxml":
        marc = read_marcxml(raw.data, flavour)
    elif kind == "xml":
        root = parse_untrusted(
            raw.data, what="XML record", limit=MAX_RECORD_BYTES, error=RecordError
        )
        if dc.is_dc(root):
            return dc.from_dc(root, raw)
        marc = read_marcxml(raw.data, flavour)
    elif kind == "dc":
        return dc.from_dc(raw.data, raw)
    elif kind == "sutrs":
        return dc.from_sutrs(raw.data, raw, charset)
    else:
        return opac.normalize_opac(raw, charset=charset, flavour=flavour)
    return to_record(marc, raw)
