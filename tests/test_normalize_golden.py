"""Golden records: real MARC21 records from Debian's idzebra-2.0-examples, each beside the
canonical record it must normalize to (``NAME.expected.json``, checked by eye against
``yaz-marcdump``). Set ``SVOD_UPDATE_GOLDEN=1`` to rewrite the expected files after a
deliberate change, then review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core import RawRecord, Record
from normalizers import normalize

DATA = Path(__file__).parent / "data" / "normalize"
GOLDEN = sorted(p for p in DATA.iterdir() if p.suffix in (".mrc", ".xml"))
SYNTAX = {".mrc": "usmarc", ".xml": "marcxml"}

needs_marcdump = pytest.mark.skipif(
    shutil.which("yaz-marcdump") is None,
    reason="yaz-marcdump not installed (Debian package 'yaz')",
)


def as_json(record: Record) -> dict[str, Any]:
    """The canonical record as the JSON a reviewer reads (``raw`` left out)."""
    data = dataclasses.asdict(record)
    del data["raw"]
    result: dict[str, Any] = json.loads(json.dumps(data))  # tuples become lists, as in JSON
    return result


def normalized(path: Path) -> Record:
    return normalize(RawRecord("golden", 1, SYNTAX[path.suffix], path.read_bytes()))


def test_golden_set_is_varied() -> None:
    assert len(GOLDEN) >= 6
    assert {p.suffix for p in GOLDEN} == {".mrc", ".xml"}


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden(path: Path) -> None:
    expected_path = path.with_suffix(".expected.json")
    got = as_json(normalized(path))
    if os.environ.get("SVOD_UPDATE_GOLDEN"):
        text = json.dumps(got, ensure_ascii=False, indent=2) + "\n"
        expected_path.write_text(text, encoding="utf-8")
    expected = json.loads(expected_path.read_text("utf-8"))
    assert got == expected


def _marcdump(args: list[str], data: bytes) -> bytes:
    done = subprocess.run(
        ["yaz-marcdump", *args, "/dev/stdin"], input=data, capture_output=True, check=True
    )
    return done.stdout


@needs_marcdump
@pytest.mark.parametrize("path", [p for p in GOLDEN if p.suffix == ".xml"], ids=lambda p: p.name)
def test_marcxml_and_iso2709_of_one_record_normalize_equal(path: Path) -> None:
    iso = _marcdump(["-i", "marcxml", "-o", "marc", "-l", "9=97"], path.read_bytes())
    assert iso[9:10] == b"a"  # UTF-8 ISO2709
    from_iso = normalize(RawRecord("golden", 1, "usmarc", iso))
    assert from_iso == normalized(path)
    assert from_iso.title


@needs_marcdump
@pytest.mark.parametrize("path", [p for p in GOLDEN if p.suffix == ".mrc"], ids=lambda p: p.name)
def test_iso2709_and_its_marcxml_normalize_equal(path: Path) -> None:
    xml = _marcdump(["-o", "marcxml"], path.read_bytes())
    assert dataclasses.replace(normalized(path), charset="utf-8") == normalize(
        RawRecord("golden", 1, "marcxml", xml)
    )


@needs_marcdump
@pytest.mark.parametrize("name", ["aria-orfeia.xml", "alceste.xml", "regne-amour.xml"])
def test_marc8_decodes_like_utf8(name: str) -> None:
    """yaz-marcdump writes the record in MARC-8 (leader/09 blank); both must read the same.

    aria-orfeia has Cyrillic romanisation with ligature marks (MARC-8 EB/EC halves), alceste
    and regne-amour Latin diacritics that MARC-8 stores as combining marks before the letter.
    """
    utf8 = _marcdump(["-i", "marcxml", "-o", "marc", "-l", "9=97"], (DATA / name).read_bytes())
    marc8 = _marcdump(["-f", "UTF-8", "-t", "MARC-8", "-l", "9=32", "-o", "marc"], utf8)
    assert marc8[9:10] == b" " and marc8 != utf8
    from_utf8 = normalize(RawRecord("golden", 1, "usmarc", utf8))
    from_marc8 = normalize(RawRecord("golden", 1, "usmarc", marc8))
    assert from_marc8.charset == "marc-8" and from_utf8.charset == "utf-8"
    assert dataclasses.replace(from_marc8, charset="utf-8") == from_utf8
    assert any(ord(c) > 127 for c in from_utf8.title + from_utf8.publisher)
