"""The field-map engine's fast paths against the plain definitions they stand for.

``normalizers.mapping`` compiles each field map into closures and ``normalizers.clean``
skips work where it can prove the result; the golden files show whole records come out the
same, and these tests pin each shortcut to its definition on generated text.
"""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import isbn as stdnum_isbn

from normalizers import mapping
from normalizers.clean import isbn13, trim, trim_end
from normalizers.mapping import to_record
from normalizers.marc import DataField, MarcRecord

# -- the definitions --------------------------------------------------------------------------

_ABBREVIATION = re.compile(
    r"(?:^|[\s.(-])(?:[A-ZА-ЯЁ][a-zа-яё]?|etc|al|др|т|с|л|г|гг|в|вв|вып|изд|ил|ред|сост|пер|прим)\.$"
)


def trim_by_definition(text: str, period: bool) -> str:
    s = " ".join(text.split())
    while s and (
        s[-1] in "/:;=,"
        or (period and s.endswith(".") and not s.endswith("..") and not _ABBREVIATION.search(s))
    ):
        s = s[:-1].rstrip()
    return s


# Text made of what trim looks at: marks, periods, blanks of every kind, abbreviations
_PIECES = st.sampled_from(
    [*"aZé.,;:/=()-[] \t\n\xa0\u2003\u0088", "etc", "Jr", "St", "сост", "т", "Ё", "U.S", "..."]
)
_TEXT = st.lists(_PIECES, max_size=12).map("".join)


@settings(max_examples=3000)
@given(_TEXT, st.booleans())
def test_trim_is_its_definition(text: str, period: bool) -> None:
    assert trim(text, period=period) == trim_by_definition(text, period)


@settings(max_examples=3000)
@given(_TEXT, st.booleans())
def test_trim_end_is_trim_of_collapsed_text(text: str, period: bool) -> None:
    collapsed = " ".join(text.split())
    assert trim_end(collapsed, period=period) == trim_by_definition(text, period)


def test_every_blank_but_space_is_unprintable() -> None:
    """What ``mapping._collapse`` relies on to skip the split."""
    blanks = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert [b for b in blanks if b.isprintable()] == [" "]


@settings(max_examples=3000)
@given(st.text(st.sampled_from([*"ab ", "\t", "\xa0", "\u2028", "\x1f", "\u0088", "я"])))
def test_collapse_is_split_and_join(text: str) -> None:
    assert mapping._collapse(text) == " ".join(text.split())


@settings(max_examples=2000)
@given(_TEXT, st.booleans())
def test_clean_is_trim_without_non_sort_markers_and_remembers_nothing_wrong(
    text: str, period: bool
) -> None:
    expected = trim_by_definition(re.sub("[\u0088\u0089\u0098\u009c]", "", text), period)
    assert mapping._clean(text, period) == expected
    assert mapping._clean(text, period) == expected  # the second answer comes from the memo
    assert all(len(memo) <= mapping._MEMO_MAX for memo in mapping._CLEANED)


# -- ISBNs ------------------------------------------------------------------------------------

_DIGITS = st.text(st.sampled_from("0123456789"), min_size=9, max_size=12)


@settings(max_examples=3000)
@given(_DIGITS, st.sampled_from([*"0123456789Xx"]), st.sampled_from(["", "-", " ", " (pbk.)"]))
def test_isbn13_agrees_with_python_stdnum(body: str, check: str, tail: str) -> None:
    value = body + check
    expected = stdnum_isbn.to_isbn13(value) if stdnum_isbn.is_valid(value) else None
    assert isbn13(value + tail) == (stdnum_isbn.compact(expected) if expected else None)


def isbn13_by_definition(value: str) -> str | None:
    """isbn13 as its docstring defines it, with a regular expression and python-stdnum."""
    match = re.match(r"\s*([0-9Xx][0-9Xx -]*)", value)
    token = match.group(1).replace(" ", "").replace("-", "") if match else ""
    if not stdnum_isbn.is_valid(token) or len(token) not in (10, 13):
        return None
    return stdnum_isbn.compact(stdnum_isbn.to_isbn13(token))


@settings(max_examples=3000)
@given(st.text(st.sampled_from([*"0123456789Xx -", "\t", "\u3000", "\xa0", "(", "a", "٣"])))
def test_isbn13_reads_the_number_at_the_start_of_any_value(value: str) -> None:
    assert isbn13(value) == isbn13_by_definition(value)


@settings(max_examples=1000)
@given(st.text())
def test_isbn13_of_any_text_is_none_or_an_isbn(value: str) -> None:
    assert isbn13(value) == isbn13_by_definition(value)


# -- compiled rules on records ----------------------------------------------------------------


def marc21(*fields: DataField, leader: str = "00000nam a2200000 a 4500") -> MarcRecord:
    return MarcRecord(leader, (), fields, "utf-8", "marc21")


def test_subjects_come_in_record_order_across_6xx_tags() -> None:
    record = to_record(
        marc21(
            DataField("650", " ", "0", (("a", "Poetry."),)),
            DataField("600", "1", "0", (("a", "Tabb, John B."), ("x", "Criticism."))),
            DataField("650", " ", "0", (("a", "Poetry."),)),  # the same heading: once
            DataField("651", " ", "0", (("a", "Virginia"), ("z", "Richmond."))),
        )
    )
    assert record.subjects == ("Poetry", "Tabb, John B. -- Criticism", "Virginia -- Richmond")


def test_rda_publication_before_260_and_a_264_named_twice_counts_once() -> None:
    record = to_record(
        marc21(
            DataField("260", " ", " ", (("a", "London :"), ("b", "Old,"), ("c", "1901."))),
            DataField("264", " ", "1", (("a", "Boston :"), ("b", "New,"), ("c", "2001."))),
        )
    )
    assert (record.place, record.publisher, record.year) == ("Boston", "New", 2001)


def test_marc21_join_hands_a_skipped_subfields_mark_on() -> None:
    title = DataField(
        "245", "1", "0", (("a", "Règne Amour"), ("h", "[sound recording] :"), ("b", "love"))
    )
    assert to_record(marc21(title)).title == "Règne Amour : love"


def test_unimarc_mark_before_a_subfield_after_text_that_was_all_marks() -> None:
    title = DataField("200", "1", " ", (("a", ";"), ("e", "roman")))
    unimarc = MarcRecord("00000nam0 2200000   450 ", (), (title,), "utf-8", "unimarc")
    assert to_record(unimarc).title == ": roman"


def test_names_roles_from_terms_codes_and_defaults() -> None:
    record = to_record(
        marc21(
            DataField("100", "1", " ", (("a", "Tabb, John B.,"), ("d", "1845-1909."))),
            DataField("700", "1", " ", (("a", "Cox, Jerome R."), ("e", "ed."))),
            DataField("700", "1", " ", (("a", "Oberst, Bruce."), ("4", "trl"))),
            DataField("700", "1", " ", (("a", "Tabb, John B."), ("d", "1845-1909"))),
        )
    )
    assert record.authors == ("Tabb, John B.", "Cox, Jerome R.", "Oberst, Bruce")
    people = [(p.name, p.role, p.dates) for p in record.contributors]
    assert people == [
        ("Tabb, John B.", "author", "1845-1909"),
        ("Cox, Jerome R.", "editor", ""),
        ("Oberst, Bruce", "translator", ""),
    ]  # the last 700 names the author again, with no role: left out


def test_every_field_map_compiles_and_maps_an_empty_record() -> None:
    for flavour in ("marc21", "unimarc", "rusmarc"):
        empty = MarcRecord("", (), (), "utf-8", flavour)
        record = to_record(empty)
        assert (record.title, record.flavour, record.format, record.holdings) == (
            "",
            flavour,
            "book",
            (),
        )
