"""Canonical values that flow through the engine.

RawRecord  bytes as one library sent them (kept for export)
Record     the canonical bibliographic record a normalizer makes of a RawRecord
Hit        one merged entry of the union catalog: the records that describe one book
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "RICH_FIELDS",
    "Contributor",
    "Hit",
    "Holding",
    "HoldingStatus",
    "RawRecord",
    "Record",
    "richness",
]


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


@dataclass(frozen=True, slots=True)
class Contributor:
    """A person or body responsible for the work, with role and dates when the record has them."""

    name: str
    role: str = ""
    dates: str = ""
    kind: str = "person"  # person | corporate | meeting


@dataclass(frozen=True, slots=True)
class Record:
    """The canonical bibliographic record: what every normalizer produces.

    >>> Record(title="War and peace", authors=("Tolstoy, Leo",), year=1869).title
    'War and peace'
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


def richness(record: Record) -> int:
    """How many of ``RICH_FIELDS`` are filled in: picks the record to show or export."""
    return sum(bool(getattr(record, name)) for name in RICH_FIELDS)
