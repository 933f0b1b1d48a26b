"""Canonical values that flow through the engine.

RawRecord  bytes as one library sent them (kept for export)
Record     the canonical bibliographic record a normalizer makes of a RawRecord
Hit        one merged entry of the union catalog: the records that describe one book
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter
from typing import Any

from core.fastinit import fast_init, fill, slot_descriptors

__all__ = [
    "RICH_FIELDS",
    "Contributor",
    "Derived",
    "Hit",
    "Holding",
    "HoldingStatus",
    "RawRecord",
    "Record",
    "richness",
]


@fast_init
@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record exactly as a target sent it.

    ``syntax`` says how to read ``data``: ``usmarc``, ``unimarc``, ``rusmarc`` (ISO2709),
    ``marcxml`` (MARCXML ``<record>``), ``opac``, ``sutrs``, ``xml``.
    ``position`` is the 1-based position in the target's result set. ``charset`` is set
    when the connector knows better than the record (Z39.50 character-set negotiation:
    Zebra converts records without fixing leader/09); ``holdings`` come from outside the
    record (Z39.50 OPAC holdings and circulation data).
    """

    target_id: str
    position: int
    syntax: str
    data: bytes
    charset: str = ""
    holdings: tuple[Holding, ...] = ()


class HoldingStatus(StrEnum):
    """Whether a copy can be had now; what a reader asks first."""

    AVAILABLE = "available"
    ON_LOAN = "on_loan"
    IN_LIBRARY_USE = "in_library_use"
    IN_TRANSIT = "in_transit"
    ON_ORDER = "on_order"
    UNAVAILABLE = "unavailable"  # bindery, reserve, temporarily withdrawn
    LOST = "lost"
    WITHDRAWN = "withdrawn"
    UNKNOWN = "unknown"


@fast_init
@dataclass(frozen=True, slots=True)
class Holding:
    """One copy (or a group of copies) of a book in one library.

    ``library`` is the holding institution as the record names it (MARC21 852$a, RUSMARC
    899$a, ...); ``due`` is an ISO date when the copy is on loan and the date is known.
    """

    library: str = ""
    branch: str = ""
    location: str = ""
    call_number: str = ""
    barcode: str = ""
    status: HoldingStatus = HoldingStatus.UNKNOWN
    due: str = ""
    copies: int = 1
    note: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class Contributor:
    """A person or body responsible for the work, with role and dates when the record has them."""

    name: str
    role: str = ""
    dates: str = ""
    kind: str = "person"  # person | corporate | meeting


class Derived(dict[str, Any]):
    """Values computed from a record's content, kept with it: ``Record.derived``.

    A dict (name keys by module: ``"dedup.keys"``) that is equal only to itself and hashed
    by identity, so that it can stand for the record's content in a key (dedup keys its
    merged display records by the contents merged).
    """

    __slots__ = ("shared",)
    __hash__ = object.__hash__  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        #: True once a copy shares it (``Record.at``): the content was met more than once
        self.shared = False

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other


class _Memo:
    # one slot outside the dataclass fields: not compared, shown, exported nor pickled
    __slots__ = ("_derived",)
    _derived: Derived


@fast_init
@dataclass(frozen=True, slots=True)
class Record(_Memo):
    """The canonical bibliographic record: what every normalizer produces.

    >>> Record(title="War and peace", authors=("Tolstoy, Leo",), year=1869).title
    'War and peace'

    The fields up to ``holdings`` are the record's *content*; ``target_id``, ``position``
    and ``raw`` say where this copy of it came from. ``at`` makes another copy of the same
    content, cheaply, sharing ``derived`` (what matching and merging computed from the
    content): a library sends the same records for many queries.
    """

    title: str = ""
    responsibility: str = ""
    authors: tuple[str, ...] = ()
    publisher: str = ""
    place: str = ""
    year: int | None = None
    edition: str = ""
    isbns: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    flavour: str = "marc21"
    charset: str = "utf-8"
    charset_suspect: bool = False
    subtitle: str = ""
    parallel_titles: tuple[str, ...] = ()
    uniform_title: str = ""
    contributors: tuple[Contributor, ...] = ()
    extent: str = ""
    pages: int | None = None
    series: tuple[str, ...] = ()
    issns: tuple[str, ...] = ()
    #: other identifiers as (scheme, value): ("lccn", ...), ("035", ...), ("nbn", ...)
    identifiers: tuple[tuple[str, str], ...] = ()
    #: classifications as (scheme, value): ("udc", ...), ("bbk", ...), ("ddc", ...), ("lcc", ...)
    classifications: tuple[tuple[str, str], ...] = ()
    #: book | serial | e-resource | map | score | sound | video | other
    format: str = "book"
    links: tuple[str, ...] = ()
    holdings: tuple[Holding, ...] = ()
    target_id: str = ""
    position: int = 0
    raw: RawRecord | None = field(default=None, repr=False, compare=False)

    @property
    def derived(self) -> Derived:
        """Memo of values computed from the content (every field but ``target_id``,
        ``position`` and ``raw``); shared by the copies ``at`` makes, fresh for any other
        record (``dataclasses.replace`` included).

        >>> from dataclasses import replace
        >>> r = Record(title="War and peace", target_id="a", position=1)
        >>> r.at("b", 7).derived is r.derived, replace(r, title="War").derived is r.derived
        (True, False)
        """
        try:
            return self._derived
        except AttributeError:
            memo = Derived()
            object.__setattr__(self, "_derived", memo)
            return memo

    def at(self, target_id: str, position: int, raw: RawRecord | None = None) -> Record:
        """This content as held by ``target_id`` at ``position`` (``raw`` its bytes there):
        ``replace(self, target_id=..., position=..., raw=...)`` without its cost.

        >>> from dataclasses import replace
        >>> r = Record(title="War and peace", year=1869, target_id="a", position=1)
        >>> r.at("b", 7) == replace(r, target_id="b", position=7)
        True
        """
        derived = self.derived
        derived.shared = True
        new: Record = _new(Record)
        fill(new, _AT_SLOTS, (*_content(self), target_id, position, raw, derived))
        return new


@dataclass(slots=True)
class Hit:
    """One entry of the merged list: every record (from every library) of one book."""

    key: str
    records: list[Record] = field(default_factory=list)
    score: float = 0.0
    #: the merged display record (dedup's per-field policy), when the hit comes from a cluster
    merged: Record | None = None
    #: how many editions (manifestations) the hit groups; 1 for a single edition
    editions: int = 1

    @property
    def display(self) -> Record:
        """The record to show: the merged one when there is one, else ``best``."""
        return self.merged if self.merged is not None else self.best

    @property
    def available(self) -> list[str]:
        """Libraries with a copy on the shelf now (holdings say ``available``), each once."""
        return list(
            dict.fromkeys(
                h.library or r.target_id
                for r in self.records
                for h in r.holdings
                if h.status is HoldingStatus.AVAILABLE
            )
        )

    @property
    def holdings_known(self) -> bool:
        """True when some record tells its copies' status."""
        return any(h.status is not HoldingStatus.UNKNOWN for r in self.records for h in r.holdings)

    @property
    def best(self) -> Record:
        """The record shown for the hit: the one with the most filled-in fields."""
        return max(self.records, key=richness)

    @property
    def libraries(self) -> list[str]:
        """Target ids holding the book, in order of arrival, each once."""
        return list(dict.fromkeys(r.target_id for r in self.records))


# ``Record.at`` fills the slots of a new record: the content fields, then where it is held
_new = object.__new__
_CONTENT_NAMES = tuple(
    f.name for f in fields(Record) if f.name not in ("target_id", "position", "raw")
)
_content = attrgetter(*_CONTENT_NAMES)
_AT_SLOTS = slot_descriptors(Record, (*_CONTENT_NAMES, "target_id", "position", "raw", "_derived"))


#: the descriptive fields whose presence makes one record of a book richer than another
RICH_FIELDS = (
    "title",
    "responsibility",
    "authors",
    "publisher",
    "place",
    "year",
    "edition",
    "isbns",
    "languages",
    "subjects",
    "extent",
    "uniform_title",
    "series",
    "classifications",
    "holdings",
)


_rich_fields = attrgetter(*RICH_FIELDS)


def richness(record: Record) -> int:
    """How many of ``RICH_FIELDS`` are filled in: picks the record to show or export."""
    return sum(map(bool, _rich_fields(record)))
