"""Incremental merging of records into hits: each book once, with every library holding it."""

from __future__ import annotations

from collections.abc import Iterable

from core import Hit, Record
from dedup.keys import match_keys

__all__ = ["Merger"]


class Merger:
    """Adds records one at a time; a record joins the first hit sharing any of its keys.

    >>> m = Merger()
    >>> m.add(Record(title="War and peace", isbns=("9780140447934",), target_id="a")).key
    'isbn:9780140447934'
    """

    def __init__(self) -> None:
        self._by_key: dict[str, Hit] = {}
        self.hits: list[Hit] = []

    def add(self, record: Record) -> Hit:
        """Merge ``record`` into an existing hit, or start a new one."""
        keys = match_keys(record)
        hit = next((self._by_key[k] for k in keys if k in self._by_key), None)
        if hit is None:
            own = keys[0] if keys else f"rec:{record.target_id}:{record.position}"
            hit = Hit(key=own)
            self.hits.append(hit)
        hit.records.append(record)
        for k in keys:
            self._by_key.setdefault(k, hit)
        return hit

    def add_all(self, records: Iterable[Record]) -> None:
        """Merge many records."""
        for r in records:
            self.add(r)
