"""A library as Svod sees it: one frozen, validated entry of ``targets.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Auth", "AuthMethod", "HTTPMethod", "Packing", "Protocol", "Target", "Timeouts"]

Protocol = Literal["z3950", "sru", "local"]
HTTPMethod = Literal["get", "post"]
Packing = Literal["xml", "string"]
AuthMethod = Literal["open", "idpass"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed for each phase of talking to one target."""

    connect: float = 5.0
    search: float = 10.0
    present: float = 10.0


@dataclass(frozen=True, slots=True)
class Auth:
    """Where a Z39.50 target's credentials are: the *names* of environment variables.

    The secrets themselves never enter the configuration, a ``Target`` or a log line; the
    connector reads the variables when it opens a connection. ``method`` ``open`` sends
    ``user/password`` as one string, ``idpass`` sends user, group and password apart.
    """

    user_env: str
    password_env: str = ""
    group_env: str = ""
    method: AuthMethod = "idpass"


@dataclass(frozen=True, slots=True)
class Target:
    """One library catalog.

    Z39.50 targets use ``host``/``port``/``database``/``syntax``; SRU targets use ``url``,
    ``version``, ``schema``, ``method`` (HTTP GET or POST) and ``packing`` (records as
    ``xml`` or escaped ``string``). ``index_map`` renames CQL indexes: to Bib-1 attributes
    (``"1=4 4=1"``) for Z39.50, to the server's own CQL index names for SRU;
    ``index_map_auto`` (``index_map: auto``) derives an SRU target's renames from its
    explain record instead. Local collections use ``files`` (absolute paths of ISO2709 or
    MARCXML files) and ``index_dir`` (empty: a directory in Svod's cache). ``charset``
    empty means "decide from the record" (MARC21 leader/09).

    Z39.50 targets may also set ``auth`` (credentials from environment variables),
    ``negotiate_charset`` (the character set proposed at Init, empty: no negotiation),
    ``element_set`` (``F``, ``B``; empty: none sent), ``piggyback`` (records in the search
    response), ``batch_size`` (records per Present), the Init message sizes, and the
    connection pool's ``pool_size`` (open connections kept, 0: none) and ``pool_idle``
    (seconds an idle connection is kept).
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
    flavour: str = ""  # empty: decide from the record (tags, 100$a)
    charset: str = ""
    index_map: dict[str, str] = field(default_factory=dict, hash=False)
    timeouts: Timeouts = Timeouts()
    max_records: int = 20
    files: tuple[str, ...] = ()
    index_dir: str = ""
    index_map_auto: bool = False
    method: HTTPMethod = "get"
    packing: Packing = "xml"
    # Z39.50 only: how the association is set up and records are asked for
    auth: Auth | None = None
    negotiate_charset: str = ""
    element_set: str = ""
    piggyback: bool = True
    batch_size: int = 25
    preferred_message_size: int = 8 * 1024 * 1024
    max_record_size: int = 8 * 1024 * 1024
    pool_size: int = 2
    pool_idle: float = 60.0

    @property
    def address(self) -> str:
        """Where the target lives, for status lines: ``host:port/db`` or the SRU base URL."""
        if self.protocol == "sru":
            return self.url
        if self.protocol == "local":
            more = f" (+{len(self.files) - 1})" if len(self.files) > 1 else ""
            return f"file:{self.files[0] if self.files else ''}{more}"
        return f"{self.host}:{self.port}/{self.database}"
