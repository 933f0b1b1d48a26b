"""The one exception root of Svod.

    SvodError
    ├── ConfigError            a targets file is wrong (names file, target, key)
    ├── QueryError             the user's query cannot be parsed or translated
    │   ├── CQLSyntaxError     malformed CQL (SRU diagnostic 10)
    │   └── UnsupportedIndex   a target cannot search an index (bib-1 114 / SRU 16)
    ├── RecordError            a record cannot be decoded (broken ISO2709, bad XML)
    ├── LocalProtocolError     we were asked to send something the protocol forbids
    └── TargetError            something went wrong talking to one library
        ├── TargetUnreachable  connection refused / reset / DNS
        ├── TargetTimeout      a phase (connect, search, present) took too long
        ├── RemoteProtocolError  the library sent bytes we cannot parse (bad BER, non-XML)
        └── TargetDiagnostic   the library answered with a diagnostic (bib-1 or SRU)

Front ends map these mechanically: a ``TargetError`` becomes that target's status,
``QueryError`` and ``ConfigError`` exit 2 in the CLI, and each class that has a wire
code carries it in ``diagnostic``.
"""

from __future__ import annotations

from core.diagnostics import Diagnostic

__all__ = [
    "CQLSyntaxError",
    "ConfigError",
    "LocalProtocolError",
    "QueryError",
    "RecordError",
    "RemoteProtocolError",
    "SvodError",
    "TargetDiagnostic",
    "TargetError",
    "TargetTimeout",
    "TargetUnreachable",
    "UnsupportedIndex",
]


class SvodError(Exception):
    """Root of every error Svod raises on purpose."""

    diagnostic: Diagnostic | None = None


class ConfigError(SvodError):
    """A configuration file is invalid; the message names file, target and key."""


class QueryError(SvodError):
    """The query cannot be parsed or cannot be sent to a target."""

    @staticmethod
    def sru(code: int, message: str, addinfo: str = "") -> QueryError:
        """A ``QueryError`` carrying SRU diagnostic ``code`` (19 relation, 28 masking, ...)."""
        err = QueryError(message)
        err.diagnostic = Diagnostic.of("sru", code, addinfo)
        return err


class CQLSyntaxError(QueryError):
    """Malformed CQL; ``position`` is the 0-based character offset of the problem."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position
        self.diagnostic = Diagnostic("sru", 10, "Query syntax error", message)


class UnsupportedIndex(QueryError):
    """A target has no mapping for an index used in the query."""

    def __init__(self, index: str, target_id: str | None = None) -> None:
        where = f" by '{target_id}'" if target_id else ""
        super().__init__(f"index {index} not supported{where}")
        self.index = index
        self.diagnostic = Diagnostic("sru", 16, "Unsupported index", index)


class RecordError(SvodError):
    """A record cannot be decoded; ``offset`` is its byte offset in a stream, if known."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


class LocalProtocolError(SvodError):
    """We tried to encode or send something the protocol does not allow."""


class TargetError(SvodError):
    """A failure talking to one library. It becomes that library's status, never a crash."""

    state = "error"


class TargetUnreachable(TargetError):
    """The library's server could not be reached (refused, reset, unknown host)."""


class TargetTimeout(TargetError):
    """A protocol phase took longer than the target's configured timeout."""

    state = "timeout"

    def __init__(self, phase: str, seconds: float) -> None:
        super().__init__(f"timeout after {seconds:g} s ({phase})")
        self.phase = phase
        self.seconds = seconds


class RemoteProtocolError(TargetError):
    """The library sent something that violates the protocol (bad BER, non-XML body, ...)."""


class TargetDiagnostic(TargetError):
    """The library answered with a diagnostic instead of results."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic
