"""The C reader (``normalizers._marcread``) against the pure-Python code it stands in for.

Same frames, same fields, same records or the same error types: on arbitrary bytes and text,
on every real record at hand (tests/data, Debian's Zebra sample, ../shared when present) and
on real records with bytes changed. The NFC shortcut the C code takes is proven over every
pair of the characters it trusts. Both readers stay tested whichever one ``NATIVE`` picks.
"""

from __future__ import annotations

import gc
import gzip
import os
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import cache, partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demo.zebra import SAMPLE_MARC
from normalizers import iso2709, marc
from normalizers.charsets import nfc
from normalizers.iso2709 import encode, split_stream
from normalizers.marc import DataField, MarcRecord, read_iso2709

try:
    from normalizers import _marcread
except ImportError:
    _marcread = None  # type: ignore[assignment]

needs_c = pytest.mark.skipif(_marcread is None, reason="normalizers._marcread is not built")

ROOT = Path(__file__).parents[1]
DATA = Path(__file__).parent / "data"
SHARED = ROOT / ".." / "shared" / "data"


@cache
def corpus() -> tuple[bytes, ...]:
    """Every ISO 2709 record at hand, cut at record terminators."""
    files = sorted(DATA.rglob("*.mrc")) + sorted(DATA.rglob("*.iso"))
    for sub in ("marc21", "unimarc"):
        if (SHARED / sub).is_dir():
            files += [p for p in sorted((SHARED / sub).iterdir()) if p.suffix != ".xml"]
    blobs = [p.read_bytes() for p in files]
    if SAMPLE_MARC.exists():
        blobs.append(gzip.decompress(SAMPLE_MARC.read_bytes()))
    return tuple(chunk for blob in blobs for _, chunk in split_stream(blob))


def frame_c(data: bytes | bytearray | memoryview) -> tuple[bytes, list[str], bytes] | None:
    assert _marcread is not None
    return _marcread.frame(data)


def fields_c(tags: list[str], text: str) -> object:
    assert _marcread is not None
    return _marcread.fields(DataField, nfc, marc._code, tags, text)


@contextmanager
def reader(native: bool) -> Iterator[None]:
    """read_iso2709 with the C functions or with the pure-Python ones."""
    saved = iso2709.parse_contiguous, marc._fields
    if native:
        assert _marcread is not None
        iso2709.parse_contiguous = _marcread.frame
        marc._fields = partial(_marcread.fields, DataField, nfc, marc._code)
    else:
        iso2709.parse_contiguous = iso2709._parse_contiguous_py
        marc._fields = marc._fields_py
    try:
        yield
    finally:
        iso2709.parse_contiguous, marc._fields = saved


def outcome(data: bytes, charset: str = "") -> MarcRecord | type[BaseException]:
    try:
        return read_iso2709(data, charset)
    except Exception as exc:
        return type(exc)


def assert_same_reading(data: bytes, charset: str = "") -> None:
    with reader(native=False):
        expected = outcome(data, charset)
    with reader(native=True):
        got = outcome(data, charset)
    assert got == expected
    if isinstance(got, MarcRecord):
        assert all(type(f) is DataField for f in got.fields)


# -- real records -----------------------------------------------------------------------------


def test_the_corpus_is_big_enough_to_mean_something() -> None:
    records = corpus()
    assert len(records) >= 20
    assert sum(iso2709._parse_contiguous_py(r) is not None for r in records) >= 20


@needs_c
def test_every_real_record_frames_and_reads_the_same() -> None:
    for data in corpus():
        assert frame_c(data) == iso2709._parse_contiguous_py(data)
        assert_same_reading(data)


def stored_in_order(data: bytes, order: list[int]) -> bytes:
    """``data`` (a framed record) with its fields stored in ``order`` and its directory, in
    its own order, pointing at them: what IRBIS and the NLR export write."""
    framed = iso2709._parse_contiguous_py(data)
    assert framed is not None
    leader, tags, body = framed
    fields = body.split(b"\x1e")[: len(tags)]
    starts: dict[int, int] = {}
    area = b""
    for k in order:
        starts[k] = len(area)
        area += fields[k] + b"\x1e"
    directory = b"".join(
        tag.encode() + b"%04d%05d" % (len(fields[k]) + 1, starts[k]) for k, tag in enumerate(tags)
    )
    base = 24 + len(directory) + 1
    size = base + len(area) + 1
    head = b"%05d" % size + leader[5:12] + b"%05d" % base + leader[17:]
    return head + directory + b"\x1e" + area + b"\x1d"


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fields_stored_out_of_directory_order_read_as_in_order(data: st.DataObject) -> None:
    sound = [r for r in corpus() if iso2709._parse_contiguous_py(r) is not None]
    original = data.draw(st.sampled_from(sound))
    _, tags, body = iso2709._parse_contiguous_py(original)  # type: ignore[misc]
    order = data.draw(st.permutations(range(len(tags))))
    shuffled = stored_in_order(original, order)
    framed = iso2709._parse_contiguous_py(shuffled)
    assert framed is not None  # the fast path takes it, by the directory's offsets
    assert framed[1] == tags
    assert framed[2].split(b"\x1e")[: len(tags)] == body.split(b"\x1e")[: len(tags)]
    if _marcread is not None:
        assert frame_c(shuffled) == framed
    with reader(native=_marcread is not None):
        assert outcome(shuffled) == outcome(original)
    # and what the lenient reader makes of it is the same record
    saved = iso2709.parse_contiguous
    iso2709.parse_contiguous = lambda _: None
    try:
        assert outcome(shuffled) == outcome(original)
    finally:
        iso2709.parse_contiguous = saved


def _in_order(record: MarcRecord | type[BaseException]) -> object:
    """``record`` with ``order`` as the fast path writes it: empty when control fields come
    first (``_decode_fields`` spells that order out)."""
    if isinstance(record, MarcRecord) and record.order.lstrip("c").strip("d") == "":
        return replace(record, order="")
    return record


@contextmanager
def subfield_by_subfield() -> Iterator[None]:
    """read_iso2709 with stateful charsets decoded by ``_decode_fields`` alone."""
    saved = marc._BY_SUBFIELD
    marc._BY_SUBFIELD = ()
    try:
        yield
    finally:
        marc._BY_SUBFIELD = saved


@cache
def stateful_records() -> tuple[tuple[bytes, str], ...]:
    """Every record at hand that reads as MARC-8 or ISO 5426, and the charset."""
    found = []
    for data in corpus():
        got = outcome(data)
        if isinstance(got, MarcRecord) and got.charset in ("marc-8", "iso-5426"):
            found.append((data, got.charset))
    return tuple(found)


def test_stateful_charsets_read_the_same_stitched_as_subfield_by_subfield() -> None:
    records = stateful_records()
    assert len(records) >= 10
    for data, _ in records:
        with subfield_by_subfield():
            expected = _in_order(outcome(data))
        assert _in_order(outcome(data)) == expected


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_stateful_charsets_read_the_same_with_bytes_changed(data: st.DataObject) -> None:
    # changed bytes inside the data area: marks before delimiters, escapes cut short,
    # delimiters decoded out of odd bytes (the stitched text is then refused)
    records = stateful_records()
    original, charset = data.draw(st.sampled_from(records))
    base = int(original[12:17])
    position = data.draw(st.integers(base, len(original) - 2))
    byte = data.draw(st.sampled_from([0x1B, 0x1E, 0x1F, 0xE1, 0xE2, 0xC2, 0x28, 0x24, 0x7F]))
    changed = original[:position] + bytes([byte]) + original[position + 1 :]
    for given_charset in ("", charset):
        with subfield_by_subfield():
            expected = _in_order(outcome(changed, given_charset))
        assert _in_order(outcome(changed, given_charset)) == expected


@needs_c
def test_other_bytes_like_records_frame_as_their_bytes_do() -> None:
    for data in corpus()[:200]:
        expected = iso2709._parse_contiguous_py(data)
        copy = bytearray(data)
        assert frame_c(copy) == iso2709._parse_contiguous_py(copy)  # type: ignore[arg-type]
        assert frame_c(memoryview(data)) == expected
        if expected is not None:
            assert_same_reading(bytes(data))


@needs_c
def test_the_c_frame_and_fields_give_the_very_types_of_python() -> None:
    data = next(r for r in corpus() if iso2709._parse_contiguous_py(r) is not None)
    framed = frame_c(data)
    assert framed is not None
    leader, tags, body = framed
    assert type(leader) is bytes and type(body) is bytes and type(tags) is list
    assert all(type(t) is str for t in tags)
    got = fields_c(tags, body.decode("latin-1"))
    assert isinstance(got, tuple) and len(got) == 3
    control, fields, order = got
    assert type(control) is tuple and type(fields) is tuple and type(order) is str
    assert all(type(f) is DataField and f.values("a") is not None for f in fields)


@needs_c
def test_every_single_byte_change_to_a_leader_or_directory_frames_the_same() -> None:
    """Each framing rule in turn: length, base address, entry map, tags, lengths, starts."""
    records = [r for r in corpus() if iso2709._parse_contiguous_py(r) is not None][:6]
    for number, original in enumerate(records):
        base = int(original[12:17])
        for pos in range(min(base + 2, len(original))):
            for value in b"019a \x1d\x1e\xff":
                data = original[:pos] + bytes([value]) + original[pos + 1 :]
                assert frame_c(data) == iso2709._parse_contiguous_py(data), (pos, value)
                if number == 0:
                    assert_same_reading(data)


@st.composite
def mutated_records(draw: st.DrawFn) -> bytes:
    """A real record with a few bytes set, deleted, inserted, or its tail cut off; half of
    the changes land in the leader and directory, where the framing decisions are."""
    record = bytearray(draw(st.sampled_from(corpus())))
    byte = st.sampled_from(b"\x1d\x1e\x1f 0459a\x00\x80\xc3\xd0\xff") | st.integers(0, 255)
    for _ in range(draw(st.integers(1, 4))):
        if not record:
            break
        head = min(len(record) - 1, 24 + 12 * 4)
        pos = draw(st.integers(0, head) | st.integers(0, len(record) - 1))
        change = draw(st.sampled_from(["set", "set", "delete", "insert", "cut"]))
        if change == "set":
            record[pos] = draw(byte)
        elif change == "delete":
            del record[pos]
        elif change == "insert":
            record.insert(pos, draw(byte))
        else:
            del record[pos:]
    return bytes(record)


@needs_c
@settings(max_examples=400, deadline=None)
@given(data=mutated_records())
def test_mutated_real_records_frame_and_read_the_same(data: bytes) -> None:
    assert frame_c(data) == iso2709._parse_contiguous_py(data)
    assert_same_reading(data)


@needs_c
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), charset=st.sampled_from(["", "utf-8", "cp1251", "marc-8"]))
def test_arbitrary_bytes_frame_and_read_the_same(data: bytes, charset: str) -> None:
    assert frame_c(data) == iso2709._parse_contiguous_py(data)
    assert_same_reading(data, charset)


# records that frame (no terminators inside fields) with arbitrary field bytes: every
# charset decision and the fields code behind it
field_bytes = st.binary(max_size=40) | st.sampled_from(
    [
        b"10\x1faWar and peace /\x1fcTolstoy",
        "1 \x1faВойна и мир".encode(),
        "1 \x1faВойна и мир".encode("cp1251"),
        b"  \x1fa20240101d2024    u  y0rusy0189    ca",
        "\x1fa\u0435\u0308\x1f\xe1b".encode(),
        b"0\x1f\x1fa\xe2etudes",
    ]
)
any_tag = st.sampled_from(["001", "005", "008", "100", "200", "245", "801", "00A", "9zz"])


@needs_c
@settings(max_examples=400, deadline=None)
@given(
    fields=st.lists(
        st.tuples(
            any_tag, field_bytes.map(lambda b: b.replace(b"\x1d", b"").replace(b"\x1e", b""))
        ),
        min_size=1,
        max_size=12,
    ),
    leader09=st.sampled_from([b"a", b" ", b"z"]),
    charset=st.sampled_from(["", "", "utf-8", "koi8-r", "iso-5426"]),
)
def test_generated_records_read_the_same(
    fields: list[tuple[str, bytes]], leader09: bytes, charset: str
) -> None:
    data = encode(b"00000nam" + leader09 + b"a2200000 a 4500", fields)
    assert frame_c(data) == iso2709._parse_contiguous_py(data) is not None
    assert_same_reading(data, charset)


# -- fields over arbitrary text ---------------------------------------------------------------

# delimiters, non-printables, the edges of the C code's NFC ranges, marks that compose,
# MARC-8 half marks, singletons, astral characters, a lone surrogate
SPECIAL = (
    "\x1e\x1f\x1d \x00\x7f\xa0a0#|é\u0130"
    "\u02ff\u0300\u0301\u0306\u0308\u03ff\u0400\u0418\u0419\u0482\u0483\u0489\u048a\u052f\u0530"
    "\u2000\u200f\u2010\u2116\u206f\u2070\u2126\u212b\ufe20\ufe21\ufe22\ufe23\uac00\u1161"
    "\U0001f600\U0001d15e\ud800"
)
texts = st.text(st.sampled_from(SPECIAL) | st.characters(), max_size=120)
tag_lists = st.lists(
    st.sampled_from(["001", "008", "00A", "0", "", "00", "245", "650", "abc"])
    | st.text(max_size=4),
    max_size=10,
)


@needs_c
@settings(max_examples=600, deadline=None)
@given(tags=tag_lists, text=texts)
def test_fields_of_arbitrary_text_are_the_same(tags: list[str], text: str) -> None:
    assert fields_c(tags, text) == marc._fields_py(tags, text)


@needs_c
@settings(max_examples=300, deadline=None)
@given(
    tags=st.lists(st.sampled_from(["001", "245", "650"]), min_size=1, max_size=8),
    parts=st.lists(texts, min_size=1, max_size=8),
)
def test_fields_of_field_shaped_text_are_the_same(tags: list[str], parts: list[str]) -> None:
    text = "\x1e".join("1 \x1f" + p for p in parts) + "\x1e\x1d"
    got = fields_c(tags, text)
    assert got == marc._fields_py(tags, text)
    if got is not None:
        assert isinstance(got, tuple)
        assert all(type(f) is DataField for f in got[1])


@needs_c
def test_the_nfc_shortcut_holds_for_every_pair_of_trusted_characters() -> None:
    """Text made only of these characters is NFC whatever their order: each is a starter,
    NFC by itself, decomposes (if at all) to a starter first, and no two of them compose."""
    assert _marcread is not None
    trusted = [chr(c) for start, stop in _marcread.NFC_STABLE for c in range(start, stop)]
    assert len(trusted) > 1000
    for char in trusted:
        assert unicodedata.combining(char) == 0, hex(ord(char))
        assert unicodedata.is_normalized("NFC", char), hex(ord(char))
        assert unicodedata.combining(unicodedata.normalize("NFD", char)[0]) == 0
    normalize = unicodedata.normalize
    for second in trusted:
        for first in trusted:
            pair = first + second
            assert normalize("NFC", pair) == pair, (hex(ord(first)), hex(ord(second)))


def test_the_nfc_shortcut_would_be_wrong_just_outside_its_ranges() -> None:
    """What the pair test would catch: a mark that composes, a singleton."""
    assert nfc("e\u0301") == "é" and nfc("\u2126") == "\u03a9"


# -- the C functions' own contract -----------------------------------------------------------


@needs_c
def test_fields_keep_their_own_copy_of_the_tags_while_python_runs() -> None:
    tags = ["245", "650"]

    def meddling_nfc(text: str) -> str:
        tags.clear()  # nfc() may run any code: the C side must not read the shrunk list
        gc.collect()
        for obj in gc.get_objects():  # nothing half-built is reachable
            if type(obj) is tuple:
                list(obj)
        return nfc(text)

    assert _marcread is not None
    got = _marcread.fields(DataField, meddling_nfc, marc._code, tags, "1 \x1fae\u0301\x1e  \x1fbx")
    assert got == (
        (),
        (DataField("245", "1", " ", (("a", "é"),)), DataField("650", " ", " ", (("b", "x"),))),
        "",
    )


@needs_c
@pytest.mark.parametrize(
    "args",
    [
        (DataField, nfc, marc._code, ["245"], b"1 \x1fa"),  # bytes, not text
        (DataField, nfc, marc._code, "245", "1 \x1fa"),  # tags not a list
        (DataField, nfc, marc._code, [b"245"], "1 \x1fa"),
        (MarcRecord, nfc, marc._code, ["245"], "1 \x1fa"),  # not a tuple type
        (DataField, None, marc._code, ["245"], "1 \x1fa"),
        (DataField, lambda s: 1, marc._code, ["245"], "1 \x1fae\u0301"),  # nfc gives no str
        (DataField, nfc, lambda s: None, ["245"], "1 \x1f\xe1b"),  # nor does code
    ],
)
def test_fields_refuses_what_it_cannot_use(args: tuple[object, ...]) -> None:
    assert _marcread is not None
    fields: Callable[..., object] = _marcread.fields
    with pytest.raises(TypeError):
        fields(*args)


@needs_c
def test_an_error_inside_nfc_comes_out_unchanged() -> None:
    def failing(text: str) -> str:
        raise ZeroDivisionError(text)

    assert _marcread is not None
    with pytest.raises(ZeroDivisionError):
        _marcread.fields(DataField, failing, marc._code, ["245"], "1 \x1fa\u0301")


@needs_c
def test_frame_wants_bytes() -> None:
    assert _marcread is not None
    frame: Callable[..., object] = _marcread.frame
    with pytest.raises(TypeError):
        frame("00000nam")


# -- which reader runs ------------------------------------------------------------------------


def _native_in_subprocess(**env: str) -> str:
    code = "from normalizers import iso2709; print(iso2709.NATIVE)"
    environ = {k: v for k, v in os.environ.items() if k != "SVOD_PURE_PYTHON"} | env
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_svod_pure_python_forces_the_python_reader() -> None:
    assert _native_in_subprocess(SVOD_PURE_PYTHON="1") == "False"


@needs_c
def test_the_c_reader_is_used_when_built() -> None:
    assert _native_in_subprocess() == "True"
