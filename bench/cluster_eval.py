"""Clustering quality and speed: pairwise precision / recall / F1 on the labeled set, and
the time and memory to cluster 10,000 real records.

    .venv/bin/python bench/cluster_eval.py [BooksAll.2016.part01.utf8]

Quality: ``svod cluster``'s own code path (``federator.dedupfiles.cluster_files``) over the
four simulated libraries in ``tests/data/dedup/`` (see ``make_set.py`` there), compared
with the labels, pair by pair: a pair of records is *predicted* together when they land in
one cluster and *truly* together when their labels agree.

Speed: 10,000 records clustered by ``dedup.Clusterer`` on one core, normalization not
counted (it is the normalizers' cost, paid once per record anyway). The records are the
first 10,000 of the Library of Congress file in the pymarc 5.4.0 sdist when its path is
given, else the labeled set repeated with fresh positions (duplicates make it easier).
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from collections import defaultdict
from dataclasses import replace
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import RawRecord, Record  # noqa: E402
from dedup import Clusterer  # noqa: E402
from federator.dedupfiles import cluster_files  # noqa: E402
from normalizers import normalize  # noqa: E402
from normalizers.iso2709 import split_stream  # noqa: E402

DATA = ROOT / "tests" / "data" / "dedup"
FILES = ["lib-a.mrc", "lib-b.xml", "lib-c.mrc", "lib-d-rusmarc.iso"]


def labels(data: Path = DATA) -> dict[tuple[str, int], tuple[str, str, str]]:
    """(file name, position) -> (manifestation, work, kind)."""
    out = {}
    for line in (data / "labels.tsv").read_text("utf-8").splitlines()[1:]:
        name, pos, man, work, kind = line.split("\t")
        out[(name, int(pos))] = (man, work, kind)
    return out


def pairs(groups: list[list[tuple[str, int]]]) -> set[frozenset[tuple[str, int]]]:
    return {frozenset(p) for g in groups for p in combinations(g, 2)}


def score(
    predicted: list[list[tuple[str, int]]], truth: list[list[tuple[str, int]]]
) -> tuple[float, float, float, int, int]:
    p, t = pairs(predicted), pairs(truth)
    tp = len(p & t)
    precision = tp / len(p) if p else 1.0
    recall = tp / len(t) if t else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, len(p - t), len(t - p)


def predicted_groups(level: str, data: Path = DATA) -> list[list[tuple[str, int]]]:
    paths = [str(data / f) for f in FILES]
    out = []
    for line in cluster_files(paths, level):
        out.append([(Path(m["file"]).name, m["position"]) for m in line["members"]])
    return out


def true_groups(level: str, data: Path = DATA) -> list[list[tuple[str, int]]]:
    by: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for key, (man, work, _) in labels(data).items():
        by[man if level == "manifestation" else work].append(key)
    return list(by.values())


def quality(data: Path = DATA, what: str = "") -> dict[str, float]:
    n = len(labels(data))
    print(f"{what or 'labeled set'}: {n} records in {len(FILES)} libraries")
    out = {}
    for level in ("manifestation", "work"):
        p, r, f1, fp, fn = score(predicted_groups(level, data), true_groups(level, data))
        goal = 0.97 if level == "manifestation" else 0.90
        print(
            f"  {level:<14} precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f}"
            f"  (goal F1 >= {goal}; {fp} wrong pairs, {fn} missed pairs)"
        )
        out[level] = f1
    return out


def _records_from(path: Path, count: int) -> list[Record]:
    out: list[Record] = []
    for i, (_, chunk) in enumerate(split_stream(path.read_bytes())):
        if len(out) >= count:
            break
        try:
            out.append(normalize(RawRecord("loc", i + 1, "usmarc", chunk)))
        except Exception:
            continue
    return out


def _labeled_records(count: int) -> list[Record]:
    from federator.collection import BadRecord, read_records

    base: list[Record] = []
    for name in FILES:
        for item in read_records(str(DATA / name), target_id=name):
            if not isinstance(item, BadRecord):
                base.append(normalize(item[1]))
    return [
        replace(base[i % len(base)], target_id=f"copy{i // len(base)}", position=i)
        for i in range(count)
    ]


def speed(source: Path | None, count: int = 10_000) -> None:
    records = _records_from(source, count) if source else _labeled_records(count)
    what = f"first {len(records)} records of {source.name}" if source else "labeled set, repeated"
    from dedup.normalize import clear_caches

    times = []
    for _ in range(3):
        clear_caches()
        # fresh records: what the clusterer derives from a record is kept with it
        # (``Record.derived``), so the same objects would be matched warm the next time
        batch = [replace(r) for r in records]
        gc.collect()
        clusterer = Clusterer()
        start = time.perf_counter()
        clusterer.add_all(batch)
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f"clustering {len(records)} records ({what}), one core, caches cold:")
    print(
        f"  {best:.3f} s (best of 3; worst {max(times):.3f} s),"
        f" {best / len(records) * 1e6:.0f} us per record (goal < 1 s)"
    )
    print(f"  {len(clusterer.manifestations)} manifestations, {len(clusterer.works)} works")
    clear_caches()
    batch = [replace(r) for r in records]
    gc.collect()
    tracemalloc.start()
    clusterer = Clusterer()
    clusterer.add_all(batch)
    size, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  memory: {size / 2**20:.1f} MiB per {len(records)} records for clusters, match"
        " features, indexes and memoized skeletons (the Record objects not counted)"
    )


def held_out(seed: int = 7) -> None:
    """The same base cataloged again with another seed: variants the rules were not tuned on."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, str(DATA / "make_set.py"), "generate", str(seed), tmp],
            check=True,
            capture_output=True,
        )
        quality(Path(tmp), f"held-out set (seed {seed}, same base records)")


if __name__ == "__main__":
    quality(DATA, f"labeled set ({DATA.relative_to(ROOT)})")
    held_out()
    speed(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
