"""Incremental FRBR-style clustering: records arrive one at a time, from many libraries.

For each new record (see ``dedup/data/rules.yaml`` for every rule named here):

1. **Manifestation**: the clusters sharing one of its identifiers (valid ISBN-13, ISSN,
   LCCN, NBN) are candidates, confirmed unless a reject rule fires (a shared ISBN with a
   disagreeing title is a bad ISBN, not a match); then the clusters sharing a blocking key
   are compared field by field. The best candidate over the threshold takes the record;
   otherwise it starts a new manifestation. A record without identifiers and without
   enough evidence (a title and an author or publisher) never joins anyone.
2. **Work**: a new manifestation joins the work whose editions share its main author and
   its title proper or uniform title (blocked by author surname and by title head); or
   starts a new work. A record joining an existing edition may name the work anew (a
   uniform title that edition's other records lack): its work and the work so named are
   then merged, the older keeping its id.

Nothing is ever re-clustered: adding a record touches its blocks and one cluster, so the
cost of an addition does not grow with the list (blocks larger than ``max_block`` are
ignored as keys).

Libraries send the same records for many queries, and the engine hands out copies of the
record it decoded the first time (``Record.at``). What matching needs of a record is kept
with its content (``Record.derived``): each is analysed once, whatever the sessions. Merged
display records are remembered by the contents merged (``DISPLAY_CACHE_SIZE`` of them), so
a group met again is shown without merging it again.

>>> c = Clusterer()
>>> m1 = c.add(Record(title="War and peace", authors=("Tolstoy, Leo",), year=1982,
...                   uniform_title="Voĭna i mir. English", publisher="Penguin",
...                   target_id="a", position=1))
>>> m2 = c.add(Record(title="War and peace /", authors=("Tolstoi, L. N.",), year=1982,
...                   publisher="Penguin Books", target_id="b", position=7))
>>> m3 = c.add(Record(title="Война и мир", authors=("Толстой, Лев",), year=1957,
...                   target_id="c", position=2))
>>> m1 is m2, m1 is m3, m1.work is m3.work, m1.work.editions
(True, False, True, 2)
"""

from __future__ import annotations

import gc
import itertools
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from core import Record
from core.clusters import Cluster, Level, Manifestation, Work
from dedup.compare import same_manifestation, same_work
from dedup.keys import Features, block_keys, features
from dedup.merge import merge_records
from dedup.normalize import title_proper
from dedup.rules import Rules, default_rules

__all__ = ["Clusterer"]

#: keep at most this many distinct feature sets per work for comparing new editions
_WORK_SAMPLES = 12
#: merged display records remembered, by the contents and libraries of their records
DISPLAY_CACHE_SIZE = 16_384


@dataclass(frozen=True, slots=True)
class _Keys:
    """What the clusterer needs of one record content, computed once per content."""

    #: the rules they were computed by
    rules: Rules
    features: Features
    #: enough to match anything (identifiers, or fuzzy evidence)
    usable: bool
    blocks: tuple[str, ...]
    work_keys: tuple[str, ...]


#: the key of ``_Keys`` in ``Record.derived``
_KEYS = "dedup.keys"
#: (merge kind, then content and library of each record, by library) -> (rules, template):
#: the merged record is the template placed where its library's record is
_DISPLAYS: OrderedDict[tuple[object, ...], tuple[Rules, Record]] = OrderedDict()


def _library(r: Record) -> str:
    return r.target_id


def _place(r: Record) -> tuple[str, int]:
    return (r.target_id, r.position)


T = TypeVar("T")


class _Postings(Generic[T]):
    """key -> items in order of addition (blocks, identifiers, a cluster's members).

    A key with one item holds it bare: most keys have one, and a list for each would be
    thousands of objects per search for the garbage collector to scan. Items are never
    lists.
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[Hashable, T | list[T]] = {}

    def get(self, key: Hashable) -> Sequence[T]:
        got = self._items.get(key)
        if got is None:
            return ()
        return got if isinstance(got, list) else (got,)

    def add(self, key: Hashable, item: T, *, unique: bool = False) -> bool:
        """Append ``item`` unless it is the last one (``unique``: unless it is there at
        all, by equality); True when appended."""
        got = self._items.get(key)
        if got is None:
            self._items[key] = item
            return True
        if isinstance(got, list):
            if (item in got) if unique else got[-1] is item:
                return False
            got.append(item)
            return True
        if got is item or (unique and got == item):
            return False
        self._items[key] = [got, item]
        return True

    def pop(self, key: Hashable) -> Sequence[T]:
        got = self._items.pop(key, None)
        if got is None:
            return ()
        return got if isinstance(got, list) else (got,)


class Clusterer:
    """Groups records into manifestations and works as they arrive.

    ``add(record)`` returns the record's manifestation (``.work`` is its work);
    ``works`` and ``manifestations`` are in order of creation; ``version`` grows with every
    addition, for callers that cache derived views.
    """

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules or default_rules()
        self.manifestations: list[Manifestation] = []
        self.works: list[Work] = []
        self.version = 0
        self._count = 0
        self._manifestation_ids = itertools.count(1)
        self._work_ids = itertools.count(1)
        #: manifestation id -> the distinct feature sets of its records
        self._members: _Postings[Features] = _Postings()
        self._by_identifier: _Postings[Manifestation] = _Postings()
        self._blocks: _Postings[Manifestation] = _Postings()
        self._exact: dict[Features, Manifestation] = {}
        #: work id -> feature sets its new editions are compared with
        self._work_samples: _Postings[Features] = _Postings()
        self._work_blocks: _Postings[Work] = _Postings()
        #: works merged into another (a later record named them one work)
        self._absorbed: dict[str, Work] = {}
        self._manifestation_merge = self._merge_manifestation
        self._work_merge = self._merge_work

    # -- public -------------------------------------------------------------------------

    def add(self, record: Record) -> Manifestation:
        """Put ``record`` into its manifestation (and work); return the manifestation."""
        keys = self._keys(record)
        f, usable = keys.features, keys.usable
        m = self._exact.get(f) if usable else None
        if m is None and usable:
            m = self._find_manifestation(f, keys.blocks)
        if m is None:
            m = Manifestation(f"m{next(self._manifestation_ids)}", self._manifestation_merge)
            self.manifestations.append(m)
            work = self._find_work(f, keys.work_keys) if usable else None
            if work is None:
                work = Work(f"w{next(self._work_ids)}", self._work_merge)
                self.works.append(work)
            work.add(m)
            joined = False
        else:
            joined = True
        m.add(record)
        self._count += 1
        if self._register(m, keys) and joined:
            # a record that joined an edition may name the work anew (a uniform title):
            # then that edition's work and the one so named are one
            self._join_works(m, keys)
        self.version += 1
        return m

    def add_all(self, records: Iterable[Record]) -> list[Manifestation]:
        """Add many records; return each one's manifestation.

        The cyclic garbage collector is paused meanwhile: a batch allocates many small
        long-lived objects (features, index entries) and would otherwise be rescanned
        over and over, which costs a third of the time for a large batch.
        """
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            return [self.add(r) for r in records]
        finally:
            if paused:
                gc.enable()

    def clusters(self, level: Level | str = Level.WORK) -> list[Cluster]:
        """Works, or manifestations, in order of creation."""
        if Level(level) is Level.WORK:
            return list(self.works)
        return list(self.manifestations)

    def __len__(self) -> int:
        return self._count

    def _keys(self, record: Record) -> _Keys:
        # records copied from one normalized record (``Record.at``) share ``derived``: a
        # library's record is analysed once, whatever the queries and sessions finding it
        memo = record.derived
        keys: _Keys | None = memo.get(_KEYS)
        if keys is not None and keys.rules is self.rules:
            return keys
        f = features(record, self.rules)
        usable = bool(f.identifiers) or f.evidence
        keys = _Keys(
            self.rules,
            f,
            usable,
            tuple(block_keys(f, self.rules.fuzzy.blocks)) if usable else (),
            tuple(self._work_keys(f)),
        )
        memo[_KEYS] = keys
        return keys

    # -- matching -----------------------------------------------------------------------

    def _score(self, f: Features, m: Manifestation) -> float | None:
        best: float | None = None
        for g in self._members.get(m.id)[: self.rules.fuzzy.max_members]:
            shared = bool(f.identifiers & g.identifiers)
            s = same_manifestation(f, g, self.rules, shared_id=shared)
            if s is not None and (best is None or s > best):
                best = s
                if s >= 1.0:
                    break
        return best

    def _find_manifestation(self, f: Features, blocks: Iterable[str]) -> Manifestation | None:
        seen: set[str] = set()
        best: Manifestation | None = None
        best_score = 0.0
        candidates: list[Manifestation] = []
        for key in f.identifiers:
            candidates.extend(self._by_identifier.get(key))
        limit = self.rules.fuzzy.max_block
        for key in blocks:
            block = self._blocks.get(key)
            if len(block) <= limit:
                candidates.extend(block)
        for m in candidates:
            if m.id in seen:
                continue
            seen.add(m.id)
            s = self._score(f, m)
            if s is not None and s > best_score:
                best, best_score = m, s
        return best

    def _work_keys(self, f: Features) -> list[str]:
        keys = [f"a:{f.author}"] if f.author else []
        keys += [f"t:{t.replace(' ', '')[:8]}" for t in f.work_titles]
        return keys

    def _find_work(
        self, f: Features, work_keys: Iterable[str], exclude: Work | None = None
    ) -> Work | None:
        seen: set[str] = {exclude.id} if exclude is not None else set()
        best: Work | None = None
        best_score = 0.0
        limit = self.rules.work.max_block
        for key in work_keys:
            block = self._work_blocks.get(key)
            if len(block) > limit:
                continue
            for w in block:
                w = self._live(w)
                if w.id in seen:
                    continue
                seen.add(w.id)
                for g in self._work_samples.get(w.id):
                    s = same_work(f, g, self.rules.work)
                    if s is not None and s > best_score:
                        best, best_score = w, s
        return best

    def _live(self, work: Work) -> Work:
        while work.id in self._absorbed:
            work = self._absorbed[work.id]
        return work

    def _join_works(self, m: Manifestation, keys: _Keys) -> None:
        work = m.work
        if work is None:
            return
        other = self._find_work(keys.features, keys.work_keys, exclude=work)
        if other is None:
            return
        # the older work stays, so that ids shown earlier stay valid
        keep, gone = sorted((work, other), key=lambda w: int(w.id[1:]))
        keep.absorb(gone)
        self.works.remove(gone)
        self._absorbed[gone.id] = keep
        room = _WORK_SAMPLES - len(self._work_samples.get(keep.id))
        for f in self._work_samples.pop(gone.id)[: max(0, room)]:
            self._work_samples.add(keep.id, f)

    def _register(self, m: Manifestation, keys: _Keys) -> bool:
        """Index a record's keys; True when it told the work something new."""
        f = keys.features
        if not self._members.add(m.id, f, unique=True):
            return False
        if not keys.usable:
            return False
        self._exact.setdefault(f, m)
        for key in f.identifiers:
            self._by_identifier.add(key, m, unique=True)
        for key in keys.blocks:
            self._blocks.add(key, m)
        work = m.work
        if work is None:
            return False
        samples = self._work_samples.get(work.id)
        if len(samples) >= _WORK_SAMPLES or any(
            s.work_titles == f.work_titles and s.author == f.author for s in samples
        ):
            return False
        self._work_samples.add(work.id, f)
        for key in keys.work_keys:
            self._work_blocks.add(key, work)
        return True

    # -- display ------------------------------------------------------------------------

    def _merge_manifestation(self, records: list[Record]) -> Record:
        if len(records) <= 1:
            return records[0] if records else Record()
        return self._remembered("manifestation", records, self._merge_records)

    def _merge_work(self, records: list[Record]) -> Record:
        if not records:
            return Record()
        if len(records) == 1:
            if title_proper(records[0].title) == records[0].title:
                return records[0]
            return self._merge_work_records(records)  # computed once per session: not kept
        return self._remembered("work", records, self._merge_work_records)

    def _remembered(
        self, kind: str, records: list[Record], merge: Callable[[list[Record]], Record]
    ) -> Record:
        """``merge(records)``, remembered across clusters and sessions (``_DISPLAYS``).

        A merge depends on the records' contents and on their order by library and
        position, not on their order of arrival; with one record per library, positions do
        not matter. So the same records met again (another query, another session) merge
        into a copy of the record merged then, placed where its record is now. A cluster's
        display is read after every change, in every session: this keeps that cheap.
        """
        ordered = sorted(records, key=_library)
        if len({r.target_id for r in ordered}) < len(ordered) or not all(
            r.derived.shared for r in ordered
        ):
            # positions order the merge, or contents met once (nothing decoded twice)
            return merge(records)
        parts: list[object] = [kind]
        for r in ordered:
            parts += (r.derived, r.target_id)
        key = tuple(parts)
        hit = _DISPLAYS.get(key)
        if hit is not None and hit[0] is self.rules:
            _DISPLAYS.move_to_end(key)
            template = hit[1]
            place = next(r for r in ordered if r.target_id == template.target_id)
            return template.at(place.target_id, place.position, place.raw)
        merged = merge(records)
        # the template without the bytes: the cache should not hold every record's MARC
        _DISPLAYS[key] = (self.rules, replace(merged, raw=None))
        if len(_DISPLAYS) > DISPLAY_CACHE_SIZE:
            _DISPLAYS.popitem(last=False)
        return merged

    def _merge_records(self, records: list[Record]) -> Record:
        return merge_records(records, self.rules)

    def _merge_work_records(self, records: list[Record]) -> Record:
        merged = merge_records(records, self.rules)
        # a work is shown by its most usual title proper, not one edition's subtitle (a
        # tie goes to the first library's, as merging does: arrival order does not count)
        ordered = sorted(records, key=_place)
        propers = Counter(title_proper(r.title) for r in ordered if r.title)
        if not propers:
            return merged
        title = propers.most_common(1)[0][0]
        return replace(merged, title=title, subtitle="", edition="")
