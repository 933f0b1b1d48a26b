"""Which stemmer ranks with: PyStemmer (Snowball in C) or whoosh-reloaded's analyzers.

    .venv/bin/python bench/rank_stemmers.py

Both implement the Snowball algorithms for Russian and English, so they must agree on the
stems (checked here on every word of the labeled deduplication set, Russian and English);
the choice is then speed, measured on the same words, per word, cold (no memo).

Then PyStemmer's two calls: ``stemWord`` word by word (what ``rank.stem`` does, behind
its memo) against ``stemWords`` on one batch per language (the words split by script
first, as a field can mix both).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import Stemmer  # type: ignore[import-not-found]
from whoosh.lang import stemmer_for_language  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dedup.keys import normalize_text  # noqa: E402

DATA = ROOT / "tests" / "data" / "dedup"
_CYRILLIC = re.compile("[\u0400-\u04ff]")


def words() -> list[str]:
    """Every word of every title, author and subject of the labeled set."""
    from federator.collection import BadRecord, read_records
    from normalizers import normalize

    out: list[str] = []
    for name in ("lib-a.mrc", "lib-b.xml", "lib-c.mrc", "lib-d-rusmarc.iso"):
        for item in read_records(str(DATA / name)):
            if isinstance(item, BadRecord):
                continue
            r = normalize(item[1])
            text = " ".join([r.title, *r.authors, *r.subjects, r.publisher])
            out += normalize_text(text).split()
    return out


def main() -> None:
    ws = words()
    ru = [w for w in ws if _CYRILLIC.search(w)]
    en = [w for w in ws if not _CYRILLIC.search(w)]
    print(f"{len(ws)} words ({len(ru)} Cyrillic, {len(en)} Latin) from the labeled set")
    py = {"ru": Stemmer.Stemmer("russian"), "en": Stemmer.Stemmer("english")}
    wh = {"ru": stemmer_for_language("ru"), "en": stemmer_for_language("en")}
    rounds = 5
    results = {}
    for name, stem in (
        ("PyStemmer", lambda lang, w: py[lang].stemWord(w)),
        ("whoosh-reloaded", lambda lang, w: wh[lang](w)),
    ):
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            stems = [stem("ru", w) for w in ru] + [stem("en", w) for w in en]
            best = min(best, time.perf_counter() - start)
        results[name] = (best, stems)
        print(f"  {name:<16} {best * 1e3:7.1f} ms  {best / len(ws) * 1e6:6.2f} us per word")
    a, b = results["PyStemmer"][1], results["whoosh-reloaded"][1]
    same = sum(x == y for x, y in zip(a, b, strict=True))
    print(f"  same stem for {same} of {len(a)} words ({100 * same / len(a):.1f}%)")
    ratio = results["whoosh-reloaded"][0] / results["PyStemmer"][0]
    print(f"  PyStemmer is {ratio:.1f}x faster: federator/rank.py uses it")
    batch(ws, rounds)


def batch(ws: list[str], rounds: int) -> None:
    """PyStemmer word by word against one ``stemWords`` call per language."""

    def one_by_one() -> list[str]:
        py = {"ru": Stemmer.Stemmer("russian"), "en": Stemmer.Stemmer("english")}
        return [py["ru" if _CYRILLIC.search(w) else "en"].stemWord(w) for w in ws]

    def batched() -> list[str]:
        py = {"ru": Stemmer.Stemmer("russian"), "en": Stemmer.Stemmer("english")}
        cyrillic = [bool(_CYRILLIC.search(w)) for w in ws]
        ru = iter(py["ru"].stemWords([w for w, c in zip(ws, cyrillic, strict=True) if c]))
        en = iter(py["en"].stemWords([w for w, c in zip(ws, cyrillic, strict=True) if not c]))
        return [next(ru) if c else next(en) for c in cyrillic]

    times = {}
    for name, run in (("stemWord", one_by_one), ("stemWords", batched)):
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            stems = run()
            best = min(best, time.perf_counter() - start)
        times[name] = (best, stems)
        print(f"  {name:<16} {best * 1e3:7.1f} ms  {best / len(ws) * 1e6:6.2f} us per word")
    assert times["stemWord"][1] == times["stemWords"][1]
    ratio = times["stemWord"][0] / times["stemWords"][0]
    print(f"  batches are {ratio:.2f}x as fast; either way a field's stems are memoized")


if __name__ == "__main__":
    main()
