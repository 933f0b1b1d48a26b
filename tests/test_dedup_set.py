"""The labeled set (tests/data/dedup, see make_set.py there): real LC and Debian records
cataloged again by four simulated libraries. Quality goals, the traps, `svod cluster`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import pytest

from core import RawRecord
from dedup.keys import features
from federator.dedupfiles import cluster_files
from normalizers import normalize
from normalizers.iso2709 import split_stream

DATA = Path(__file__).parent / "data" / "dedup"
FILES = ["lib-a.mrc", "lib-b.xml", "lib-c.mrc", "lib-d-rusmarc.iso"]
Key = tuple[str, int]


def _labels() -> dict[Key, tuple[str, str, str]]:
    out = {}
    for line in (DATA / "labels.tsv").read_text("utf-8").splitlines()[1:]:
        name, pos, man, work, kind = line.split("\t")
        out[(name, int(pos))] = (man, work, kind)
    return out


LABELS = _labels()


@pytest.fixture(scope="module")
def clusters() -> dict[str, dict[Key, str]]:
    """level -> record -> cluster id, as `svod cluster` computes them."""
    out: dict[str, dict[Key, str]] = {}
    for level in ("manifestation", "work"):
        of: dict[Key, str] = {}
        for line in cluster_files([str(DATA / f) for f in FILES], level):
            for m in line["members"]:
                of[(Path(m["file"]).name, m["position"])] = line["cluster"]
        out[level] = of
    return out


def _f1(predicted: dict[Key, str], truth: dict[Key, str]) -> tuple[float, float, float]:
    def pairs(of: dict[Key, str]) -> set[frozenset[Key]]:
        groups: dict[str, list[Key]] = defaultdict(list)
        for k, c in of.items():
            groups[c].append(k)
        return {frozenset(p) for g in groups.values() for p in combinations(g, 2)}

    p, t = pairs(predicted), pairs(truth)
    precision, recall = len(p & t) / len(p), len(p & t) / len(t)
    return precision, recall, 2 * precision * recall / (precision + recall)


def test_the_set_is_big_enough_real_and_labeled_for_every_record() -> None:
    assert len(LABELS) >= 500
    kinds = {k.split(";")[0] for _, _, k in LABELS.values()}
    assert kinds == {"base", "edition", "trap:bad-isbn", "trap:shared-isbn"}
    assert sum(";rusmarc" in k for _, _, k in LABELS.values()) >= 20
    # every labeled position is a record of its file, and nothing else is there
    for name in FILES:
        count = sum(1 for (f, _) in LABELS if f == name)
        positions = sorted(p for (f, p) in LABELS if f == name)
        assert positions == list(range(1, count + 1))
    base = [
        normalize(RawRecord("base", i, "usmarc", r))
        for i, (_, r) in enumerate(split_stream((DATA / "base.mrc").read_bytes()), 1)
    ]
    assert len(base) >= 200
    assert sum("rus" in r.languages for r in base) >= 30


def test_quality_goals(clusters: dict[str, dict[Key, str]]) -> None:
    truth = {
        "manifestation": {k: v[0] for k, v in LABELS.items()},
        "work": {k: v[1] for k, v in LABELS.items()},
    }
    assert set(clusters["manifestation"]) == set(LABELS)
    _, _, man_f1 = _f1(clusters["manifestation"], truth["manifestation"])
    _, _, work_f1 = _f1(clusters["work"], truth["work"])
    assert man_f1 >= 0.97
    assert work_f1 >= 0.90


def _records() -> dict[Key, object]:
    from federator.collection import BadRecord, read_records

    out: dict[Key, object] = {}
    for name in FILES:
        for pos, item in enumerate(read_records(str(DATA / name)), 1):
            assert not isinstance(item, BadRecord)
            out[(name, pos)] = normalize(item[1])
    return out


def test_traps_bad_shared_isbn_and_same_title_other_work(
    clusters: dict[str, dict[Key, str]],
) -> None:
    records = _records()
    feats = {k: features(r) for k, r in records.items()}  # type: ignore[arg-type]
    shared_isbn = same_title = 0
    for a, b in combinations(sorted(records), 2):
        fa, fb = feats[a], feats[b]
        if LABELS[a][0] != LABELS[b][0] and fa.isbns & fb.isbns:
            # a bad shared ISBN: one edition's number on another book
            shared_isbn += 1
            assert clusters["manifestation"][a] != clusters["manifestation"][b], (a, b)
        if LABELS[a][1] != LABELS[b][1] and fa.proper and fa.proper == fb.proper:
            # one title, two works (different authors)
            same_title += 1
            assert clusters["work"][a] != clusters["work"][b], (a, b)
    assert shared_isbn >= 10 and same_title >= 10


def test_cyrillic_rusmarc_copies_join_the_romanized_lc_records(
    clusters: dict[str, dict[Key, str]],
) -> None:
    joined = 0
    for key, (man, _, kind) in LABELS.items():
        if kind.endswith(";rusmarc"):
            others = [k for k, v in LABELS.items() if v[0] == man and k[0] != key[0]]
            joined += sum(
                clusters["manifestation"][k] == clusters["manifestation"][key] for k in others
            )
    assert joined >= 20


def test_the_committed_set_is_what_the_generator_makes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(DATA / "make_set.py"), "generate", "20261122", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in [*FILES, "labels.tsv"]:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_svod_cluster_prints_one_json_object_per_cluster() -> None:
    files = [str(DATA / "lib-a.mrc"), str(DATA / "lib-d-rusmarc.iso")]
    result = subprocess.run(
        [sys.executable, "-m", "cli", "cluster", *files, "--level", "manifestation"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(x) == {"cluster", "level", "title", "members"} for x in lines)
    assert {x["level"] for x in lines} == {"manifestation"}
    members = [(Path(m["file"]).name, m["position"]) for x in lines for m in x["members"]]
    expected = [k for k in LABELS if k[0] in ("lib-a.mrc", "lib-d-rusmarc.iso")]
    assert sorted(members) == sorted(expected)
    # each cluster holds one labeled edition, and copies in both files come together
    for x in lines:
        labels = {LABELS[(Path(m["file"]).name, m["position"])][0] for m in x["members"]}
        assert len(labels) == 1, x
    both = [x for x in lines if len({m["file"] for m in x["members"]}) == 2]
    assert len(both) >= 10  # a Russian book in Cyrillic and in LC romanization, one cluster
    works = subprocess.run(
        [sys.executable, "-m", "cli", "cluster", *files],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert works.returncode == 0
    assert len(works.stdout.splitlines()) < len(lines)  # editions of one work together
