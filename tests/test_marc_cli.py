"""The cataloger's commands: ``svod marc FILE...`` (like yaz-marcdump, with flavour and charset
detection) and ``svod search --format iso2709|marcxml|line [--prefer] [--convert-to] [-o]``
over three real Zebra libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from cli import main
from core import RecordError
from dedup.keys import normalize_text
from demo.zebra import Federation
from normalizers.mapping import to_record
from normalizers.marc import MarcRecord, read_file, read_marcxml

GOLDEN = Path(__file__).parent / "data" / "marc_golden"
TOLSTOY = GOLDEN / "tolstoy-voina-i-mir.cp1251.mrc"
KNR = GOLDEN / "kernighan-ritchie-c.utf8.mrc"


def run(*args: str) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout_bytes, result.stderr


def test_marc_line_output_with_detected_charsets() -> None:
    code, out, err = run("marc", str(TOLSTOY), str(GOLDEN / "hofstadter-geb.marc8.mrc"))
    assert (code, err) == (0, "")
    text = out.decode("utf-8")
    assert "200 1  $a Война и мир $e роман в четырех томах $f Лев Толстой\n" in text
    assert "245 10 $a Gödel, Escher, Bach : $b an eternal golden braid /" in text
    assert text.count("\n\n") == 2


def test_marc_canonical_prints_one_json_object_per_record() -> None:
    code, out, _ = run("marc", "--to", "canonical", *map(str, sorted(GOLDEN.glob("*.mrc"))))
    assert code == 0
    lines = out.decode("utf-8").splitlines()
    assert len(lines) == len(list(GOLDEN.glob("*.mrc")))
    for line in lines:
        data = json.loads(line)
        for key in ("title", "authors", "publisher", "year", "isbns", "languages", "subjects"):
            assert key in data
        assert {"flavour", "charset", "charset_suspect", "holdings"} <= set(data)
    tolstoy = json.loads(lines[-2])
    assert (tolstoy["title"], tolstoy["charset"]) == (
        "Война и мир : роман в четырех томах",
        "cp1251",
    )
    assert [h["status"] for h in tolstoy["holdings"]] == [
        "unknown",
        "available",
        "on_loan",
        "lost",
    ]


def test_marc_reports_broken_records_with_their_offset_and_prints_the_rest(
    tmp_path: Path,
) -> None:
    good = KNR.read_bytes()
    damaged = tmp_path / "damaged.mrc"
    damaged.write_bytes(good + b"01234nam  22BROKEN RECORD\x1d" + TOLSTOY.read_bytes())
    code, out, err = run("marc", "--to", "json", str(damaged))
    assert code == 1
    assert err == (f"{damaged}: record at byte {len(good)}: base address 'BROKE' is not a number\n")
    records = [json.loads(line) for line in out.decode().splitlines()]
    assert [r["fields"][0]["001"] for r in records] == [
        "svod-golden-0005",
        "RU\\SVOD\\golden\\0001",
    ]


def test_marc_iso2709_is_byte_exact_and_marcxml_parses(tmp_path: Path) -> None:
    target = tmp_path / "out.mrc"
    code, _, _ = run("marc", "--to", "iso2709", "-o", str(target), str(TOLSTOY), str(KNR))
    assert code == 0
    assert target.read_bytes() == TOLSTOY.read_bytes() + KNR.read_bytes()
    code, out, _ = run("marc", "--to", "marcxml", str(TOLSTOY), str(KNR))
    root = etree.fromstring(out)
    assert len(root) == 2 and root[0][0].text.startswith("00861nam0a")


def test_marc_convert_to_marc21_and_rusmarc() -> None:
    code, out, _ = run("marc", "--convert-to", "marc21", str(TOLSTOY))
    assert code == 0
    text = out.decode()
    assert "245 10 $a Война и мир : $b роман в четырех томах / $c Лев Толстой.\n" in text
    assert "100 1  $a Толстой, Л. Н. $q (Лев Николаевич), $d 1828-1910" in text
    code, out, _ = run("marc", "--convert-to", "rusmarc", "--to", "iso2709", str(KNR))
    (item,) = [r for _, r in read_file(out)]
    assert not isinstance(item, RecordError)
    assert item.flavour in ("rusmarc", "unimarc")  # an English book: nothing says Russian
    assert item.get("200")[0].subfields == (
        ("a", "The C programming language"),
        ("f", "Brian W. Kernighan, Dennis M. Ritchie"),
    )


def test_marc_charset_and_flavour_options() -> None:
    code, out, _ = run("marc", "--charset", "koi8-r", "--to", "canonical", str(TOLSTOY))
    data = json.loads(out)
    assert code == 0 and data["charset"] == "koi8-r" and data["title"] != "Война и мир"
    code, _, err = run("marc", "--charset", "klingon-8", str(TOLSTOY))
    assert code == 2 and "unknown character set 'klingon-8'" in err
    code, out, _ = run("marc", "--flavour", "unimarc", "--to", "canonical", str(TOLSTOY))
    assert json.loads(out)["flavour"] == "unimarc"


# -- svod search --format iso2709|marcxml|line, over real Zebra libraries -----------------------


def svod(*args: str, config: Path) -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, "-m", "cli", "--config", str(config), *args]
    return subprocess.run(cmd, capture_output=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def config(zebra_libraries: Federation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = ["targets:"]
    for lib in zebra_libraries:
        if lib.name == "lib3":
            lines.append(f"  - {{id: lib3, protocol: sru, url: '{lib.sru_url}'}}")
        else:
            lines.append(
                f"  - {{id: {lib.name}, protocol: z3950, host: 127.0.0.1, port: {lib.port},"
                f" database: {lib.database}, syntax: usmarc}}"
            )
    path = tmp_path_factory.mktemp("cfg") / "targets.yaml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


QUERY = "dc.title=computer"


KEY = 18  # the merged display title may be longer or shorter than one record's: its start


@pytest.fixture(scope="module")
def hits(config: Path) -> dict[str, list[str]]:
    """The hits of QUERY: the start of the normalized title -> libraries holding it."""
    result = svod("search", QUERY, "--format", "json", config=config)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]
    by_title = {normalize_text(str(h["title"]))[:KEY]: list(h["libraries"]) for h in hits}
    assert len(by_title) == len(hits) >= 3
    return by_title


def title_of(record: MarcRecord) -> str:
    return normalize_text(to_record(record).title)[:KEY]


def test_search_writes_one_iso2709_record_per_hit(
    config: Path, hits: dict[str, list[str]], tmp_path: Path
) -> None:
    target = tmp_path / "hits.mrc"
    result = svod("search", QUERY, "--format", "iso2709", "-o", str(target), config=config)
    assert result.returncode == 0, result.stderr
    records = [r for _, r in read_file(target.read_bytes())]
    assert len(records) == len(hits)
    for record in records:
        assert not isinstance(record, RecordError)
        owner = record.control_value("001").split("-")[0]  # lib2-<001>: whose copy it is
        assert owner in hits[title_of(record)]
    assert {title_of(r) for r in records if not isinstance(r, RecordError)} == set(hits)


def test_search_prefers_the_named_library(config: Path, hits: dict[str, list[str]]) -> None:
    result = svod("search", QUERY, "--format", "iso2709", "--prefer", "lib2", config=config)
    assert result.returncode == 0, result.stderr
    records = [r for _, r in read_file(result.stdout)]
    assert len(records) == len(hits)
    preferred = 0
    for record in records:
        assert not isinstance(record, RecordError)
        owner = record.control_value("001").split("-")[0]
        if "lib2" in hits[title_of(record)]:
            assert owner == "lib2"
            preferred += 1
    assert preferred >= 1


def test_search_line_format_converted_to_rusmarc(config: Path, hits: dict[str, list[str]]) -> None:
    result = svod("search", QUERY, "--format", "line", "--convert-to", "rusmarc", config=config)
    assert result.returncode == 0, result.stderr
    blocks = [b for b in result.stdout.decode("utf-8").split("\n\n") if b.strip()]
    assert len(blocks) == len(hits)
    for block in blocks:
        tags = [line[:3] for line in block.splitlines()[1:]]
        assert "200" in tags and "245" not in tags and "100" in tags
        assert block.splitlines()[0].endswith("450 ")


def test_search_marcxml(config: Path, hits: dict[str, list[str]]) -> None:
    result = svod("search", QUERY, "--format", "marcxml", config=config)
    assert result.returncode == 0, result.stderr
    root = etree.fromstring(result.stdout)
    assert len(root) == len(hits)
    titles = {title_of(read_marcxml(etree.tostring(record))) for record in root}
    assert titles == set(hits)
