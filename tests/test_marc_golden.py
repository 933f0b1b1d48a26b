"""Golden records in every flavour and charset: ``tests/data/marc_golden/NAME.mrc`` ->
``NAME.expected.json``, written by hand for real books (see the folder's README) and framed
by YAZ, not by Svod. ``SVOD_UPDATE_GOLDEN=1`` rewrites the JSON after a deliberate change.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from core import HoldingStatus, RawRecord, Record
from normalizers import normalize
from normalizers.marc import read_iso2709
from normalizers.writers import canonical_dict, to_line

DATA = Path(__file__).parent / "data" / "marc_golden"
GOLDEN = sorted(DATA.glob("*.mrc"))

needs_marcdump = pytest.mark.skipif(
    shutil.which("yaz-marcdump") is None, reason="yaz-marcdump not installed (Debian 'yaz')"
)


def normalized(path: Path) -> Record:
    return normalize(RawRecord("golden", 1, "usmarc", path.read_bytes()))


def as_json(record: Record) -> dict[str, Any]:
    data = canonical_dict(record)
    data.pop("target_id")
    data.pop("position")
    return data


def test_golden_set_covers_every_flavour_and_charset() -> None:
    seen = {(normalized(p).flavour, normalized(p).charset) for p in GOLDEN}
    assert {f for f, _ in seen} == {"marc21", "unimarc", "rusmarc"}
    assert {c for _, c in seen} == {"utf-8", "cp1251", "koi8-r", "marc-8", "iso-5426"}


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden(path: Path) -> None:
    expected_path = path.with_name(path.name.removesuffix(".mrc") + ".expected.json")
    got = as_json(normalized(path))
    if os.environ.get("SVOD_UPDATE_GOLDEN"):
        text = json.dumps(got, ensure_ascii=False, indent=2) + "\n"
        expected_path.write_text(text, encoding="utf-8")
    assert got == json.loads(expected_path.read_text("utf-8"))
    assert not got["charset_suspect"]


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_our_line_format_gives_back_the_source_it_was_built_from(path: Path) -> None:
    """build.py made each .mrc with yaz-marcdump from a .line file: reading the .mrc and
    writing the line format must give that source again (leader lengths aside)."""
    stem = path.name.split(".")[0]
    source = path.with_name(stem + (".iso5426.line" if "iso5426" in path.name else ".line"))
    text = source.read_bytes().decode("utf-8" if "iso5426" not in path.name else "latin-1")
    ours = to_line(read_iso2709(path.read_bytes())).strip().splitlines()
    if "iso5426" in path.name:  # the source holds the ISO 5426 bytes themselves
        assert ours[6] == "200 1  $a \x98L'\x9cétranger $f Albert Camus"
        return
    expected = [unicodedata.normalize("NFC", line) for line in text.strip().splitlines()]
    assert ours[1:] == expected[1:]
    assert ours[0][5:12] == expected[0][5:12] and ours[0][17:] == expected[0][17:]


def test_one_record_in_cp1251_and_in_utf8_normalizes_the_same() -> None:
    cp1251 = normalized(DATA / "tolstoy-voina-i-mir.cp1251.mrc")
    utf8 = normalized(DATA / "tolstoy-voina-i-mir.utf8.mrc")
    # the UTF-8 copy still says "0189" (cp1251) in 100 $a: the bytes overrule it
    assert b"y0rusy0189" in (DATA / "tolstoy-voina-i-mir.utf8.mrc").read_bytes()
    assert (cp1251.charset, utf8.charset) == ("cp1251", "utf-8")
    assert dataclasses.replace(cp1251, charset="utf-8") == utf8
    assert utf8.title == "Война и мир : роман в четырех томах"
    assert utf8.authors == ("Толстой, Л. Н.",)


def test_koi8r_labelled_cp1251_is_read_as_koi8r() -> None:
    data = (DATA / "knuth-iskusstvo-programmirovaniya.koi8r.mrc").read_bytes()
    assert b"y0rusy0189" in data  # declared cp1251, wrongly
    record = normalize(RawRecord("golden", 1, "rusmarc", data))
    assert record.charset == "koi8-r" and not record.charset_suspect
    assert record.title == "Искусство программирования. Т. 1, Основные алгоритмы"
    forced = normalize(RawRecord("golden", 1, "rusmarc", data), charset="cp1251")
    assert forced.charset == "cp1251" and forced.title != record.title  # config wins


def test_holdings_and_their_statuses_from_every_source() -> None:
    def statuses(name: str) -> list[tuple[str, str]]:
        return [(h.status.value, h.barcode) for h in normalized(DATA / name).holdings]

    assert statuses("tolstoy-voina-i-mir.cp1251.mrc") == [  # 899, then IRBIS 910
        ("unknown", "0012345"),
        ("available", "0000012345"),
        ("on_loan", "0000012346"),
        ("lost", "12347"),
    ]
    assert statuses("hofstadter-geb.marc8.mrc") == [  # Koha 952
        ("available", "31000000001"),
        ("on_loan", "31000000002"),
        ("in_library_use", "31000000003"),
        ("lost", "31000000004"),
        ("on_order", "31000000005"),
    ]
    assert statuses("kernighan-ritchie-c.utf8.mrc") == [  # 852 + 876 items
        ("available", "31234000111111"),
        ("on_loan", "31234000111112"),
        ("lost", "31234000111113"),
    ]
    items = normalized(DATA / "kernighan-ritchie-c.utf8.mrc").holdings
    assert {(h.library, h.branch, h.location, h.call_number) for h in items} == {
        ("SVOD University Library", "Science", "Stacks", "QA76.73.C15 K47 1988")
    }
    geb = normalized(DATA / "hofstadter-geb.marc8.mrc").holdings
    assert geb[1].due == "2024-02-15" and geb[1].branch == "EAST"
    knuth = normalized(DATA / "knuth-iskusstvo-programmirovaniya.koi8r.mrc").holdings
    assert [(h.status, h.copies) for h in knuth] == [
        (HoldingStatus.AVAILABLE, 1),
        (HoldingStatus.UNAVAILABLE, 1),
        (HoldingStatus.AVAILABLE, 3),
    ]


CHARSET_OF = {
    "cp1251": "cp1251",
    "utf8": "utf-8",
    "koi8r": "koi8-r",
    "marc8": "MARC-8",
    "iso5426": "ISO5426",
}


@needs_marcdump
@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_decoding_agrees_with_yaz(path: Path) -> None:
    """yaz-marcdump told the charset decodes every golden record as we do (NFC)."""
    charset = CHARSET_OF[path.name.split(".")[-2]]
    done = subprocess.run(
        ["yaz-marcdump", "-f", charset, "-t", "UTF-8", str(path)],
        capture_output=True,
        check=True,
    )
    theirs = unicodedata.normalize("NFC", done.stdout.decode("utf-8")).strip().splitlines()
    ours = to_line(read_iso2709(path.read_bytes())).strip().splitlines()
    assert ours[1:] == theirs[1:]
