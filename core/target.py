"""A library as Svod sees it: one frozen, validated entry of ``targets.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Protocol", "Target", "Timeouts"]

Protocol = Literal["z3950", "sru"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed for each phase of talking to one target."""

    connect: float = 5.0
    search: float = 10.0
    present: float = 10.0


@dataclass(frozen=True, slots=True)
class Target:
    """One library catalog.

    Z39.50 targets use ``host``/``port``/``database``/``syntax``; SRU targets use ``url``,
    ``version`` and ``schema``. ``index_map`` renames CQL indexes: to Bib-1 attributes
    (``"1=4 4=1"``) for Z39.50, to the server's own CQL index names for SRU. ``charset``
    empty means "decide from the record" (MARC21 leader/09).
    """

    id: str
    name: str
    protocol: Protocol
    host: str = ""
    port: int = 210
    database: str = "Default"
    url: str = ""
    version: str = "1.2"
    syntax: str = "usmarc"
    schema: str = "marcxml"
    flavour: str = "marc21"
    charset: str = ""
    index_map: dict[str, str] = field(default_factory=dict, hash=False)
    timeouts: Timeouts = Timeouts()
    max_records: int = 20

    @property
    def address(self) -> str:
        """Where the target lives, for status lines: ``host:port/db`` or the SRU base URL."""
        if self.protocol == "sru":
            return self.url
        return f"{self.host}:{self.port}/{self.database}"
