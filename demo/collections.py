"""The offline demo federation: four libraries of one region, each a local collection.

The records are in ``demo/data/collections`` (written by ``make.py`` from ``books.yaml``;
see ``SOURCES.md``): a regional research library and a city library exporting RUSMARC from
IRBIS (windows-1251 and UTF-8, copies in field 910), a children's library exporting RUSMARC
with 899 locations, and a university library exporting MARC21 as MARCXML with 852/876
holdings. ``svod demo`` indexes them into a cache directory (once; again only when the files
change) and searches all four at once.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from core import HoldingStatus, Record, Target
from core.clusters import Cluster, Manifestation
from federator.collection import IndexProgress, IndexReport, ensure_collection, local_target

__all__ = [
    "DATA",
    "DemoLibrary",
    "demo_config",
    "demo_libraries",
    "demo_targets",
    "index_demo",
    "library_lines",
    "render_clusters",
]

DATA = Path(__file__).parent / "data" / "collections"

_STATUS_WORDS = {
    HoldingStatus.AVAILABLE: "available",
    HoldingStatus.ON_LOAN: "on loan",
    HoldingStatus.IN_LIBRARY_USE: "library use only",
    HoldingStatus.IN_TRANSIT: "in transit",
    HoldingStatus.ON_ORDER: "on order",
    HoldingStatus.UNAVAILABLE: "unavailable",
    HoldingStatus.LOST: "lost",
    HoldingStatus.WITHDRAWN: "withdrawn",
    HoldingStatus.UNKNOWN: "status unknown",
}


@dataclass(frozen=True, slots=True)
class DemoLibrary:
    """One demo library: its id, name, export file and how that file is encoded."""

    id: str
    name: str
    file: str
    flavour: str
    charset: str
    system: str


@cache
def demo_libraries() -> tuple[DemoLibrary, ...]:
    """The four demo libraries, as ``books.yaml`` describes them."""
    doc = yaml.safe_load((DATA / "books.yaml").read_text("utf-8"))
    return tuple(
        DemoLibrary(
            lib["id"], lib["name"], lib["file"], lib["flavour"], lib["charset"], lib["system"]
        )
        for lib in doc["libraries"].values()
    )


def demo_targets(cache_dir: Path) -> list[Target]:
    """Local-collection targets for the demo libraries, their indexes under ``cache_dir``."""
    return [
        local_target(
            lib.id,
            [DATA / lib.file],
            index_dir=cache_dir / lib.id,
            flavour=lib.flavour,
            charset=lib.charset,
            display_name=lib.name,
        )
        for lib in demo_libraries()
    ]


def index_demo(targets: list[Target], progress: IndexProgress | None = None) -> list[IndexReport]:
    """Build (or find up to date) the index of every demo library."""
    return [ensure_collection(t, progress=progress) for t in targets]


def demo_config(cache_dir: Path, targets: list[Target]) -> Path:
    """Write a targets file for the demo libraries, for ``svod --config FILE search``."""
    lines = [
        "# The offline demo federation written by `svod demo`: four local collections.",
        "targets:",
    ]
    for t in targets:
        lines += [
            f"  - id: {t.id}",
            f'    name: "{t.name}"',
            "    protocol: local",
            f"    files: [{', '.join(repr(f) for f in t.files)}]",
            f"    index_dir: {t.index_dir!r}",
            f"    flavour: {t.flavour}",
        ]
        if t.charset:
            lines.append(f"    charset: {t.charset}")
    path = cache_dir / "targets.yaml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _statuses(records: Sequence[Record]) -> str:
    counts = Counter(h.status for r in records for h in r.holdings for _ in range(max(h.copies, 1)))
    order = list(_STATUS_WORDS)
    parts = [
        f"{n} {_STATUS_WORDS[s]}"
        for s, n in sorted(counts.items(), key=lambda kv: order.index(kv[0]))
    ]
    return ", ".join(parts) or "no copy information"


def library_lines(records: Sequence[Record], names: dict[str, str]) -> list[str]:
    """One line per library among ``records``: its name and its copies' statuses.

    >>> from core import Holding
    >>> copy = Holding(status=HoldingStatus.ON_LOAN)
    >>> library_lines([Record(target_id="a", holdings=(copy, copy))], {"a": "City Library"})
    ['City Library: 2 on loan']
    """
    order = list(names)
    # in the federation's order, not the order the answers happened to arrive in
    ids = sorted(
        dict.fromkeys(r.target_id for r in records),
        key=lambda t: order.index(t) if t in order else len(order),
    )
    return [
        f"{names.get(t, t)}: {_statuses([r for r in records if r.target_id == t])}" for t in ids
    ]


def _edition(m: Manifestation, work_title: str) -> str:
    r = m.display
    title = f"{r.title} " if r.title != work_title else ""
    imprint = ", ".join(x for x in (r.edition, r.publisher, r.place) if x)
    return f"{r.year or '----'}  {title}{'— ' if title and imprint else ''}{imprint}"


def render_clusters(
    clusters: Sequence[Cluster], names: dict[str, str], width: int = 100
) -> list[str]:
    """The ranked works as text: each edition under its work, each library under its edition.

    A work's title line names its author and how many editions and libraries it has.
    """
    out: list[str] = []
    for n, cluster in enumerate(clusters, 1):
        r = cluster.display
        author = r.authors[0] if r.authors else ""
        editions = len(cluster.manifestations)
        count = f"{editions} edition{'s' if editions > 1 else ''}, " if editions > 1 else ""
        libs = len(cluster.libraries)
        tail = f"{count}{libs} librar{'ies' if libs > 1 else 'y'}"
        head = " — ".join(x for x in (r.title, author) if x)
        out.append(textwrap.shorten(f"{n:>3}. {head} ({tail})", width))
        for m in cluster.manifestations:
            out.append("       " + textwrap.shorten(_edition(m, r.title), width - 7))
            out += [f"             {line}" for line in library_lines(m.records, names)]
    held = {t for c in clusters for t in c.libraries}
    plural = "work" if len(clusters) == 1 else "works"
    out.append(f"\n{len(clusters)} {plural} from {len(held)} of {len(names)} libraries.")
    return out
