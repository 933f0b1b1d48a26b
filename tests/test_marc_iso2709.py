"""ISO 2709 framing: the file reader resynchronises after a broken record and says where it
was; the record reader raises only ``core.RecordError``; encode and parse are inverses."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import RecordError
from normalizers.iso2709 import encode, parse, parse_contiguous, split_stream
from normalizers.marc import MarcRecord, read_file, read_iso2709

GOLDEN = Path(__file__).parent / "data" / "marc_golden"
FILES = sorted(GOLDEN.glob("*.mrc"))
SHARED = Path(__file__).parents[1] / ".." / "shared" / "data" / "marc21"


def records_of(data: bytes) -> list[tuple[int, MarcRecord | RecordError]]:
    return list(read_file(data))


def test_split_stream_gives_every_record_with_its_offset() -> None:
    parts = [p.read_bytes() for p in FILES]
    stream = b"".join(parts)
    got = list(split_stream(stream))
    offsets = [sum(len(p) for p in parts[:i]) for i in range(len(parts))]
    assert [o for o, _ in got] == offsets
    assert [c for _, c in got] == parts


def test_newlines_between_records_are_skipped() -> None:
    parts = [p.read_bytes() for p in FILES[:3]]
    stream = b"\n".join(parts) + b"\r\n"
    assert [c for _, c in split_stream(stream)] == parts


def test_a_truncated_record_is_reported_at_its_offset_and_the_next_one_still_read() -> None:
    first, second, third = (p.read_bytes() for p in FILES[:3])
    cut = first[: len(first) // 2]  # no terminator: the next leader starts inside its chunk
    stream = cut + second + third
    got = records_of(stream)
    assert len(got) == 3
    (offset, error), (o2, r2), (o3, r3) = got
    assert offset == 0 and isinstance(error, RecordError)
    assert error.offset == 0 and str(error).startswith("record at byte 0: ")
    assert (o2, o3) == (len(cut), len(cut) + len(second))
    assert r2 == read_iso2709(second) and r3 == read_iso2709(third)


def test_a_record_with_a_wrong_length_is_still_cut_at_its_terminator() -> None:
    first, second = (p.read_bytes() for p in FILES[:2])
    wrong = b"99999" + first[5:]  # the length lies; the terminator does not
    got = records_of(wrong + second)
    assert [o for o, _ in got] == [0, len(first)]
    assert isinstance(got[0][1], MarcRecord) and got[0][1].leader.startswith("99999")
    assert got[0][1].fields == read_iso2709(first).fields
    assert got[1][1] == read_iso2709(second)


def test_garbage_between_records_is_one_error_then_reading_goes_on() -> None:
    first, second = (p.read_bytes() for p in FILES[:2])
    stream = first + b"GARBAGE\x1d" + second
    got = records_of(stream)
    assert [type(r).__name__ for _, r in got] == ["MarcRecord", "RecordError", "MarcRecord"]
    error = got[1][1]
    assert isinstance(error, RecordError) and error.offset == len(first)
    assert "shorter than its 24-byte leader" in str(error)


def test_the_pymarc_bad_records_file_gives_three_records_and_five_errors() -> None:
    path = SHARED / "edsu_pymarc__bad_records.mrc"
    if not path.exists():
        pytest.skip(f"{path} not present (shared test data)")
    got = records_of(path.read_bytes())
    errors = [(o, str(r)) for o, r in got if isinstance(r, RecordError)]
    good = [r for _, r in got if not isinstance(r, RecordError)]
    assert len(good) == 3 and len(errors) == 5
    assert [o for o, _ in errors] == [127, 254, 509, 637, 764]


def test_wrong_directory_lengths_are_repaired_from_the_field_terminators() -> None:
    original = FILES[0].read_bytes()
    data = bytearray(original)
    data[24 + 3 : 24 + 7] = b"9999"  # the first two entries' lengths point past the end
    data[24 + 12 + 3 : 24 + 12 + 7] = b"9999"
    assert read_iso2709(bytes(data)).fields == read_iso2709(original).fields


def test_a_directory_that_neither_offsets_nor_terminators_explain_is_an_error() -> None:
    data = bytearray(FILES[0].read_bytes())
    data[24 + 3 : 24 + 7] = b"9999"
    base = int(data[12:17])
    data[data.index(b"\x1e", base)] = ord("x")  # and one field terminator is gone
    with pytest.raises(RecordError, match="invalid directory"):
        read_iso2709(bytes(data))


def test_parse_and_its_fast_path_agree_on_every_golden_record() -> None:
    for path in FILES:
        data = path.read_bytes()
        fast = parse_contiguous(data)
        assert fast is not None
        leader, tags, body = fast
        slow_leader, fields = parse(data)
        assert leader == slow_leader
        assert tags == [t for t, _ in fields]
        assert body.split(b"\x1e")[: len(tags)] == [v for _, v in fields]


def test_fields_stored_out_of_directory_order_are_read_by_their_offsets() -> None:
    leader, fields = parse(FILES[0].read_bytes())
    data = encode(leader, fields)
    base = int(data[12:17])
    entries = [data[24 + 12 * i : 36 + 12 * i] for i in range((base - 25) // 12)]
    swapped = entries[1] + entries[0] + b"".join(entries[2:])
    shuffled = data[:24] + swapped + data[base - 1 :]
    _, got = parse(shuffled)
    assert got == [fields[1], fields[0], *fields[2:]]
    # the fast path reads them the same, by their offsets, into a data area in directory order
    fast = parse_contiguous(shuffled)
    assert fast is not None
    assert fast[1] == [tag for tag, _ in got]
    assert fast[2] == b"".join(value + b"\x1e" for _, value in got)


def test_a_field_holding_a_field_terminator_leaves_the_fast_path_and_keeps_its_tag() -> None:
    data = encode(
        b"00000nam a2200000 a 4500",
        [("001", b"x1"), ("245", b"10\x1faWar\x1eX"), ("650", b" 0\x1faPeace")],
    )
    assert parse_contiguous(data) is None
    record = read_iso2709(data)
    assert record.control == (("001", "x1"),)
    assert [(f.tag, f.subfields) for f in record.fields] == [
        ("245", (("a", "War\x1eX"),)),
        ("650", (("a", "Peace"),)),
    ]


field_values = st.binary(max_size=60).map(lambda b: b.replace(b"\x1d", b"").replace(b"\x1e", b""))


@settings(max_examples=200, deadline=None)
@given(
    fields=st.lists(
        st.tuples(st.from_regex(r"[0-9]{3}", fullmatch=True), field_values), max_size=20
    )
)
def test_encode_then_parse_gives_the_fields_back(fields: list[tuple[str, bytes]]) -> None:
    data = encode(b"00000nam a2200000 a 4500", fields)
    if not fields:
        with pytest.raises(RecordError, match="no fields"):
            parse(data)
        return
    leader, got = parse(data)
    assert got == fields
    assert leader[:5] == b"%05d" % len(data) and data.endswith(b"\x1e\x1d")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=3000))
def test_the_file_reader_raises_nothing_on_arbitrary_bytes(data: bytes) -> None:
    for offset, item in read_file(data):
        assert isinstance(item, MarcRecord | RecordError)
        if isinstance(item, RecordError) and not data.lstrip().startswith(b"<"):
            assert item.offset == offset  # ISO 2709: the byte offset of the broken record


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(0, len(FILES) - 1),
    edits=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=6),
)
def test_damaged_golden_records_give_records_or_record_errors(
    index: int, edits: list[tuple[int, int]]
) -> None:
    data = bytearray(FILES[index].read_bytes() + FILES[(index + 1) % len(FILES)].read_bytes())
    for offset, value in edits:
        data[offset % len(data)] = value
    got = list(read_file(bytes(data)))
    assert got  # something is always reported
    for _, item in got:
        assert isinstance(item, MarcRecord | RecordError)
