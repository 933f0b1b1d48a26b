"""Real RUSMARC and UNIMARC records from ../shared/data (National Library of Russia, Tomsk
Polytechnic, Tver, Urait, an Italian library) and the IRBIS64 exemplar fields of a real
IRBIS database: flavour, charset, fields and holdings, each checked against the source."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from core import HoldingStatus, RawRecord, Record, RecordError
from normalizers import normalize
from normalizers.holdings import holdings_of
from normalizers.mapping import to_record
from normalizers.marc import DataField, MarcRecord, read_file, read_marcxml

SHARED = Path(__file__).parents[1] / ".." / "shared" / "data"


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (shared test data)")
    return path


def records(*parts: str) -> list[MarcRecord]:
    out = []
    for _, item in read_file(shared(*parts).read_bytes()):
        assert not isinstance(item, RecordError), item
        out.append(item)
    return out


def test_nlr_cp1251_records_and_their_899_holdings() -> None:
    marcs = records("unimarc", "nlr_rusmarc_cp1251.iso")
    assert len(marcs) == 81
    assert {(m.flavour, m.charset, m.charset_suspect) for m in marcs} == {
        ("rusmarc", "cp1251", False)
    }
    canon = [to_record(m) for m in marcs]
    with_899 = [m for m in marcs if m.get("899")]
    assert len(with_899) == 81
    for marc, record in zip(marcs, canon, strict=True):
        fields = marc.get("899")
        assert len(record.holdings) == len(fields)
        for field, holding in zip(fields, record.holdings, strict=True):
            assert holding.library == field.first("a").strip()
            assert holding.call_number.startswith(field.first("j").strip())
            assert holding.status is HoldingStatus.UNKNOWN  # 899 says where, not whether
    first = canon[0]  # a volume of a set: 461 embeds the set's 200
    assert first.title == "Задачи и этюды. Вып. 13"
    assert (first.year, first.isbns) == (1997, ("9785744300432",))
    assert ("legal-deposit", "RU 98-1576") in first.identifiers
    assert canon[1].classifications == (("bbk", "Ч515.815я43"),)
    assert canon[1].contributors[0].role == "editor"  # 702 $4 340


def test_tver_records_with_cyrillic_in_the_leader_and_two_copies() -> None:
    (one,) = records("unimarc", "tver_rusmarc_1.iso")
    assert (one.flavour, one.charset) == ("rusmarc", "cp1251")  # declared "0102"
    (two,) = records("unimarc", "tver_rusmarc_2.iso")
    assert two.leader[6] == "a"  # a Cyrillic "а" typed into the leader
    record = to_record(two)
    assert record.title.startswith("Электрические машины. Т. 1, Электромеханическое")
    assert record.authors == ("Иванов-Смоленский, А. В.",)  # from the set's 700
    assert (record.place, record.publisher, record.year) == (
        "Москва",
        "издательский дом МЭИ",
        2006,
    )
    assert [(h.library, h.branch, h.call_number, h.barcode) for h in record.holdings] == [
        ("ТВЕРСКАЯ ОУНБ", "ПТО", "31.26я7 И209", "000044716"),
        ("ТВЕРСКАЯ ОУНБ", "ПТО", "31.26я7 И209", "2043315"),
    ]
    assert record.pages == 651


def test_tomsk_rusmarc_marcxml_records() -> None:
    marcs = records("unimarc", "tpu_rusmarc_utf8_marcxml.xml")
    assert len(marcs) == 41
    assert {m.flavour for m in marcs} == {"rusmarc"}
    canon = [to_record(m) for m in marcs]
    assert canon[0].title.startswith("Известия Томского политехнического университета")
    assert canon[0].issns == ("1684-8519",)
    articles = canon[1:]
    assert all(r.links for r in articles)  # each article's PDF (856 $u)
    assert all(not r.title.startswith("Известия") for r in articles)  # analytics keep theirs
    classified = [m for m in marcs if m.get("675", "676", "680", "686")]
    assert sum(bool(r.classifications) for r in canon) == len(classified) >= 30


def test_one_tomsk_record_as_a_single_marcxml_record_normalizes_the_same() -> None:
    text = shared("unimarc", "tpu_rusmarc_utf8_marcxml.xml").read_text("utf-8")
    start, end = text.index("<record>"), text.index("</record>") + len("</record>")
    single = text[start:end].replace("<record>", '<record xmlns="http://www.loc.gov/MARC21/slim">')
    via_normalize = normalize(RawRecord("tpu", 1, "marcxml", single.encode()))
    assert via_normalize.flavour == "rusmarc"
    assert via_normalize.title == to_record(read_marcxml(single.encode())).title


def test_urait_publisher_record() -> None:
    (marc,) = records("unimarc", "urait_rusmarc_utf8.iso")
    record = to_record(marc)
    assert record.edition == "2-е изд., пер. и доп"
    assert record.series == ("Бакалавр и магистр. Модуль",)
    assert record.isbns == ("9785991616621",)
    assert len(record.subjects) == 6  # 610 keywords, one per $a
    assert record.links[0].startswith("http://www.biblio-online.ru/")


def test_italian_unimarc_record() -> None:
    (marc,) = records("unimarc", "italian_unimarc.dat")
    assert (marc.flavour, marc.charset) == ("unimarc", "utf-8")
    record = to_record(marc)
    assert record.title == "L'altra faccia della spirale"  # non-sort marks gone
    assert record.authors[0] == "Asimov, Isaac"  # "$a Asimov $b , Isaac"
    assert record.responsibility.startswith("Isaac Asimov ; traduzione di Cesare Scaglia")
    assert len(record.holdings) == len(marc.get("899")) > 20
    assert record.holdings[0].library == "AL0073"  # ICCU: the library code is in $1


# -- IRBIS64 exemplar field 910 -----------------------------------------------------------------

_IRBIS_FIELD = re.compile(r"^#(\d+): (.*)$")


def irbis_records(path: Path) -> list[MarcRecord]:
    """Records of an IRBIS text dump (``#tag: ^Avalue^Bvalue``, ``*****`` between records),
    with subfield codes in lower case as IRBIS servers send them over Z39.50 (a field
    without subfields, ``#675: 551.21``, becomes ``$a``)."""
    out: list[MarcRecord] = []
    fields: list[DataField] = []
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("*****"):
            out.append(MarcRecord("", (), tuple(fields), "utf-8", "rusmarc"))
            fields = []
            continue
        match = _IRBIS_FIELD.match(line)
        if match:
            value = match.group(2)
            parts = [p for p in value.split("^") if p]
            subs = tuple((p[0].lower(), p[1:]) for p in parts)
            if not value.startswith("^"):
                subs = (("a", value),)
            fields.append(DataField(match.group(1).zfill(3), " ", " ", subs))
    return out


def test_irbis_910_statuses_match_the_codes_in_the_database() -> None:
    marcs = irbis_records(shared("irbis", "istu_irbis64_dump_utf8.txt"))
    assert len(marcs) == 300
    codes: Counter[str] = Counter()
    statuses: Counter[HoldingStatus] = Counter()
    for marc in marcs:
        copies = marc.get("910")
        holdings = holdings_of(marc)
        assert len(holdings) == len(copies)
        for field, holding in zip(copies, holdings, strict=True):
            codes[field.first("a").lower()] += 1
            statuses[holding.status] += 1
            assert holding.barcode == (field.first("h") or field.first("b"))
            assert holding.location == field.first("d")
            if field.first("1").isdigit():
                assert holding.copies == int(field.first("1"))
    assert codes == Counter({"0": 545, "u": 46})
    assert statuses == Counter({HoldingStatus.AVAILABLE: 591})


def test_a_whole_irbis_record_maps_through_the_rusmarc_field_map() -> None:
    marc = irbis_records(shared("irbis", "istu_irbis64_dump_utf8.txt"))[0]
    record: Record = to_record(marc)
    assert record.title.startswith("Голоценовый вулканизм Срединного хребта Камчатки")
    assert record.authors == ("Певзнер, М. М.",)
    assert (record.place, record.publisher, record.year) == ("Москва", "Геос", 2015)
    assert ("udc", "551.21(571.66)") in record.classifications
