"""ISBD: a full stop is not doubled after an abbreviation when title parts are joined."""

from __future__ import annotations

from pathlib import Path

from federator.collection import read_records
from normalizers import normalize

COLLECTIONS = Path(__file__).parents[1] / "demo" / "data" / "collections"


def test_volume_titles_keep_one_full_stop_after_abbreviations() -> None:
    titles = []
    for item in read_records(str(COLLECTIONS / "oblsci-rusmarc-cp1251.iso"), flavour="rusmarc"):
        assert isinstance(item, tuple), item
        titles.append(normalize(item[1], flavour="rusmarc").title)
    volumes = [t for t in titles if "в 22 т." in t]
    assert volumes, "the demo library holds volumes of a 22-volume set"
    assert all(". Т." not in t.replace("т. Т.", "") for t in volumes)
    assert not [t for t in titles if ".." in t.replace("...", "")]
