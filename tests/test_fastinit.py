"""core.fastinit: the cheaper __init__ and constructors of the frozen records.

Every check runs against both implementations: core._slots (C) when built, and the
Python code an install without a compiler runs.
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import Contributor, Holding, HoldingStatus, RawRecord, Record, fastinit
from core.fastinit import constructor, fast_init, slot_descriptors
from normalizers.marc import DataField, MarcRecord

ROOT = Path(__file__).resolve().parents[1]
CLASSES = [RawRecord, Holding, Contributor, Record, MarcRecord]


def _python_constructor(cls: type) -> Callable[..., Any]:
    """What ``constructor`` makes without core._slots."""
    native, fill = fastinit._native, fastinit.fill
    fastinit._native, fastinit.fill = None, fastinit._fill_py
    try:
        return constructor(cls)
    finally:
        fastinit._native, fastinit.fill = native, fill


def _makers(cls: type) -> list[Callable[..., Any]]:
    makers: list[Callable[..., Any]] = [cls, _python_constructor(cls)]
    if fastinit.NATIVE:
        makers.append(constructor(cls))
    return makers


FILLS: list[Callable[[object, tuple[Any, ...], tuple[Any, ...]], None]] = [fastinit._fill_py]
if fastinit.NATIVE:
    FILLS.append(fastinit._native.fill)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_init_keeps_the_dataclass_signature(cls: type) -> None:
    params = list(inspect.signature(cls).parameters.values())
    expected = [
        (f.name, f.default if f.default is not dataclasses.MISSING else inspect.Parameter.empty)
        for f in dataclasses.fields(cls)
    ]
    assert [(p.name, p.default) for p in params] == expected
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)


_text = st.text(max_size=8)
_RECORD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "title": _text,
    "authors": st.tuples(_text),
    "year": st.none() | st.integers(),
    "charset_suspect": st.booleans(),
    "contributors": st.tuples(st.builds(Contributor, _text, _text)),
    "holdings": st.tuples(st.builds(Holding, _text, status=st.sampled_from(HoldingStatus))),
    "target_id": _text,
    "position": st.integers(),
    "raw": st.none() | st.builds(RawRecord, _text, st.integers(), _text, st.binary()),
}


@given(st.fixed_dictionaries({}, optional=_RECORD_VALUES))
def test_every_maker_gives_the_record_the_dataclass_would(values: dict[str, Any]) -> None:
    made = [make(**values) for make in _makers(Record)]
    for record in made:
        assert type(record) is Record
        for f in dataclasses.fields(Record):
            assert getattr(record, f.name) == values.get(f.name, f.default), f.name
    assert all(record == made[0] and hash(record) == hash(made[0]) for record in made)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_positional_and_named_arguments_mix_as_in_a_call(cls: type) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    values = [f"v{k}" for k in range(len(names))]
    for make in _makers(cls):
        record = make(*values[:2], **dict(zip(names[2:], values[2:], strict=True)))
        assert [getattr(record, n) for n in names] == values


@pytest.mark.parametrize("cls", [Contributor, RawRecord], ids=lambda c: c.__name__)
def test_bad_calls_fail_as_a_python_call_does(cls: type) -> None:
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    every = [f.name for f in dataclasses.fields(cls)]
    good = {name: "x" for name in required}
    for make in _makers(cls):
        with pytest.raises(TypeError, match="unexpected keyword argument 'nonesuch'"):
            make(**good, nonesuch=1)
        with pytest.raises(TypeError, match=f"multiple values for argument '{required[0]}'"):
            make("x", **good)
        with pytest.raises(TypeError, match=f"missing .*'{required[-1]}'"):
            make(**{name: "x" for name in required[:-1]})
        with pytest.raises(TypeError, match="argument"):
            make(*["x"] * (len(every) + 1))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_records_stay_frozen_comparable_and_picklable(cls: type) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    for make in _makers(cls):
        record = make(*(f"v{k}" for k in range(len(names))))
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, names[0], "changed")
        assert pickle.loads(pickle.dumps(record)) == record
        changed = dataclasses.replace(record, **{names[0]: "other"})
        assert getattr(changed, names[0]) == "other" and changed != record


def test_record_at_shares_the_content_and_the_memo() -> None:
    record = Record(title="Война и мир", year=1869, target_id="a", position=1)
    moved = record.at("b", 7)
    assert moved == dataclasses.replace(record, target_id="b", position=7)
    assert moved.derived is record.derived and record.derived.shared


def test_no_reference_is_lost_or_leaked() -> None:
    # a value's reference count is back where it was once the records made of it are gone:
    # the C code neither drops a reference it holds nor keeps one it took
    value = "".join(["a title of", " its own"])
    before = sys.getrefcount(value)
    for make in _makers(Record):
        kept = [make(title=value, place=value) for _ in range(100)]
        assert sys.getrefcount(value) == before + 200
        del kept
        assert sys.getrefcount(value) == before
    for fill in FILLS:
        holder = object.__new__(Contributor)
        fill(holder, slot_descriptors(Contributor, ("name",)), (value,))
        assert sys.getrefcount(value) == before + 1
        del holder
        assert sys.getrefcount(value) == before


def test_a_failed_call_leaves_nothing_behind() -> None:
    value = "".join(["only", " here"])
    before = sys.getrefcount(value)
    for make in _makers(Contributor):
        for _ in range(50):
            with pytest.raises(TypeError):
                make(value, nonesuch=value)
    gc.collect()
    assert sys.getrefcount(value) == before


@pytest.mark.parametrize("fill", FILLS)
def test_fill_checks_what_it_is_given(fill: Callable[..., None]) -> None:
    slots = slot_descriptors(Contributor, ("name", "role"))
    holder = object.__new__(Contributor)
    with pytest.raises(ValueError, match="2 descriptors but 1 values"):
        fill(holder, slots, ("x",))
    with pytest.raises(TypeError):  # a descriptor of another class does not apply
        fill(object.__new__(Holding), slots, ("x", "y"))
    with pytest.raises((TypeError, AttributeError)):
        fill(holder, (len, slots[1]), ("x", "y"))
    fill(holder, slots, ("x", "y"))
    assert (holder.name, holder.role) == ("x", "y")


@pytest.mark.skipif(not fastinit.NATIVE, reason="core._slots not built")
def test_the_c_maker_checks_how_it_is_made() -> None:
    maker = fastinit._native.Maker
    slots = slot_descriptors(Contributor, ("name",))
    with pytest.raises(ValueError):
        maker(Contributor, slots, ("name", "role"), ("",), dataclasses.MISSING)
    with pytest.raises(TypeError):
        maker(Contributor, (len,), ("name",), ("",), dataclasses.MISSING)
    with pytest.raises(TypeError):
        maker("Contributor", slots, ("name",), ("",), dataclasses.MISSING)
    made = maker(Contributor, slots, ("name",), (dataclasses.MISSING,), dataclasses.MISSING)
    assert "Contributor" in repr(made)
    assert made("Tolstoy").name == "Tolstoy"


def test_fast_init_takes_only_what_it_can_do_the_same() -> None:
    @dataclass(slots=True)
    class Mutable:
        x: int

    @dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class Factory:
        x: list[int] = field(default_factory=list)

    @dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        x: int

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        x: int
        y: InitVar[int] = 0

    for cls in (Mutable, NoSlots, Checked, Factory, KeywordOnly, WithInitVar):
        with pytest.raises(TypeError, match="fast_init"):
            fast_init(cls)
        with pytest.raises(TypeError, match="fast_init"):
            constructor(cls)


def test_the_pure_python_setting_runs_the_python_code() -> None:
    code = (
        "from core import fastinit, Record; from core.fastinit import constructor;"
        "print(fastinit.NATIVE);"
        "print(Record('War', year=1869) == constructor(Record)(title='War', year=1869));"
        "print(Record('War', year=1869))"
    )
    env = {k: v for k, v in os.environ.items() if k != "SVOD_PURE_PYTHON"}
    pure = subprocess.run(
        [sys.executable, "-c", code],
        env=env | {"SVOD_PURE_PYTHON": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    native, same, shown = pure.stdout.splitlines()
    assert (native, same) == ("False", "True")
    assert shown == repr(Record("War", year=1869))


def test_marc_records_read_by_the_fast_path_equal_those_built_by_hand() -> None:
    from normalizers.iso2709 import encode
    from normalizers.marc import read_iso2709

    data = encode(b"00000nam a2200000 a 4500", [("001", b"x1"), ("245", b"10\x1faWar")])
    read = read_iso2709(data)
    by_hand = MarcRecord(
        read.leader,
        (("001", "x1"),),
        (DataField("245", "1", "0", (("a", "War"),)),),
        read.charset,
        "marc21",
    )
    assert read == by_hand


@pytest.mark.parametrize("name", ["core.fastinit", "core.records"])
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted and result.failed == 0, f"{result.failed} of {result.attempted}"
