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
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

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
        self._manifestation_ids = itertools.count(1)
        self._work_ids = itertools.count(1)
        self._members: dict[str, list[Features]] = {}
        self._by_identifier: dict[str, list[Manifestation]] = {}
        self._blocks: dict[str, list[Manifestation]] = {}
        self._exact: dict[Features, Manifestation] = {}
        self._work_samples: dict[str, list[Features]] = {}
        self._work_blocks: dict[str, list[Work]] = {}
        #: works merged into another (a later record named them one work)
        self._absorbed: dict[str, Work] = {}
        self._manifestation_merge = self._merge_manifestation
        self._work_merge = self._merge_work

    # -- public -------------------------------------------------------------------------

    def add(self, record: Record) -> Manifestation:
        """Put ``record`` into its manifestation (and work); return the manifestation."""
        f = features(record, self.rules)
        usable = bool(f.identifiers) or f.evidence
        blocks: list[str] | None = None
        m = self._exact.get(f) if usable else None
        if m is None and usable:
            blocks = block_keys(f, self.rules.fuzzy.blocks)
            m = self._find_manifestation(f, blocks)
        if m is None:
            m = Manifestation(f"m{next(self._manifestation_ids)}", self._manifestation_merge)
            self.manifestations.append(m)
            work = self._find_work(f) if usable else None
            if work is None:
                work = Work(f"w{next(self._work_ids)}", self._work_merge)
                self.works.append(work)
            work.add(m)
            self._members[m.id] = []
            joined = False
        else:
            joined = True
        m.add(record)
        if self._register(m, f, usable, blocks) and joined:
            # a record that joined an edition may name the work anew (a uniform title):
            # then that edition's work and the one so named are one
            self._join_works(m, f)
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
        return sum(len(m.records) for m in self.manifestations)

    # -- matching -----------------------------------------------------------------------

    def _score(self, f: Features, m: Manifestation) -> float | None:
        best: float | None = None
        for g in self._members[m.id][: self.rules.fuzzy.max_members]:
            shared = bool(f.identifiers & g.identifiers)
            s = same_manifestation(f, g, self.rules, shared_id=shared)
            if s is not None and (best is None or s > best):
                best = s
                if s >= 1.0:
                    break
        return best

    def _find_manifestation(self, f: Features, blocks: list[str]) -> Manifestation | None:
        seen: set[str] = set()
        best: Manifestation | None = None
        best_score = 0.0
        candidates: list[Manifestation] = []
        for key in f.identifiers:
            candidates.extend(self._by_identifier.get(key, ()))
        limit = self.rules.fuzzy.max_block
        for key in blocks:
            block = self._blocks.get(key)
            if block and len(block) <= limit:
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

    def _find_work(self, f: Features, exclude: Work | None = None) -> Work | None:
        seen: set[str] = {exclude.id} if exclude is not None else set()
        best: Work | None = None
        best_score = 0.0
        limit = self.rules.work.max_block
        for key in self._work_keys(f):
            block = self._work_blocks.get(key, ())
            if len(block) > limit:
                continue
            for w in block:
                w = self._live(w)
                if w.id in seen:
                    continue
                seen.add(w.id)
                for g in self._work_samples[w.id]:
                    s = same_work(f, g, self.rules.work)
                    if s is not None and s > best_score:
                        best, best_score = w, s
        return best

    def _live(self, work: Work) -> Work:
        while work.id in self._absorbed:
            work = self._absorbed[work.id]
        return work

    def _join_works(self, m: Manifestation, f: Features) -> None:
        work = m.work
        if work is None:
            return
        other = self._find_work(f, exclude=work)
        if other is None:
            return
        # the older work stays, so that ids shown earlier stay valid
        keep, gone = sorted((work, other), key=lambda w: int(w.id[1:]))
        keep.absorb(gone)
        self.works.remove(gone)
        self._absorbed[gone.id] = keep
        samples = self._work_samples.setdefault(keep.id, [])
        samples.extend(self._work_samples.pop(gone.id, [])[: max(0, _WORK_SAMPLES - len(samples))])

    def _register(
        self, m: Manifestation, f: Features, usable: bool, blocks: list[str] | None
    ) -> bool:
        """Index a record's keys; True when it told the work something new."""
        members = self._members[m.id]
        if f in members:
            return False
        members.append(f)
        if not usable:
            return False
        self._exact.setdefault(f, m)
        for key in f.identifiers:
            block = self._by_identifier.setdefault(key, [])
            if m not in block:
                block.append(m)
        for key in blocks if blocks is not None else block_keys(f, self.rules.fuzzy.blocks):
            block = self._blocks.setdefault(key, [])
            if not block or block[-1] is not m:
                block.append(m)
        work = m.work
        if work is None:
            return False
        samples = self._work_samples.setdefault(work.id, [])
        if len(samples) >= _WORK_SAMPLES or any(
            s.work_titles == f.work_titles and s.author == f.author for s in samples
        ):
            return False
        samples.append(f)
        for key in self._work_keys(f):
            wblock = self._work_blocks.setdefault(key, [])
            if not wblock or wblock[-1] is not work:
                wblock.append(work)
        return True

    # -- display ------------------------------------------------------------------------

    def _merge_manifestation(self, records: list[Record]) -> Record:
        return merge_records(records, self.rules) if records else Record()

    def _merge_work(self, records: list[Record]) -> Record:
        if not records:
            return Record()
        if len(records) == 1 and title_proper(records[0].title) == records[0].title:
            return records[0]
        merged = merge_records(records, self.rules)
        # a work is shown by its most usual title proper, not one edition's subtitle
        propers = Counter(title_proper(r.title) for r in records if r.title)
        if not propers:
            return merged
        title = propers.most_common(1)[0][0]
        return replace(merged, title=title, subtitle="", edition="")
