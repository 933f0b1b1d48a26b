"""Duplicates in catalog files: the records of local files clustered as a search would.

``svod cluster FILE...`` calls this. Each file counts as one library (its path is the
records' ``target_id``); a record's position is its 1-based number in its file, counting
records that could not be decoded, so that a cataloger can find it. Files are read by
``federator.collection.read_records`` (ISO 2709 resynchronised on record terminators, or
MARCXML) and decoded by the normalizers (flavour and charset from each record).

>>> for line in cluster_files(["a.mrc", "b.xml"], level="manifestation"):  # doctest: +SKIP
...     print(line)
{'cluster': 'm1', 'level': 'manifestation', 'title': '...', 'members': [...]}
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core import RecordError
from core.clusters import Level
from dedup.cluster import Clusterer
from federator.collection import BadRecord, read_records
from normalizers import normalize

__all__ = ["ClusterReport", "cluster_files"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ClusterReport:
    """What reading the files gave: records clustered and records that could not be read."""

    records: int = 0
    bad: int = 0


def cluster_files(
    paths: Sequence[str],
    level: Level | str = Level.WORK,
    report: ClusterReport | None = None,
) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per cluster (clusters of one record included), in order of
    creation: ``{"cluster", "level", "title", "members": [{"file", "position"}]}``."""
    report = report if report is not None else ClusterReport()
    clusterer = Clusterer()
    for path in paths:
        position = 0
        for item in read_records(path, target_id=path):
            position += 1
            if isinstance(item, BadRecord):
                report.bad += 1
                continue
            raw = replace(item[1], position=position)
            try:
                record = normalize(raw)
            except RecordError as exc:
                log.info("%s record %d: %s", path, position, exc)
                report.bad += 1
                continue
            clusterer.add(record)
            report.records += 1
    lvl = Level(level)
    for cluster in clusterer.clusters(lvl):
        yield {
            "cluster": cluster.id,
            "level": lvl.value,
            "title": cluster.display.title,
            "members": [{"file": r.target_id, "position": r.position} for r in cluster.records],
        }
