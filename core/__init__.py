"""Canonical types shared by every layer of Svod. Imports nothing from the rest of Svod."""

from core.diagnostics import Diagnostic, diagnostic_meaning
from core.errors import (
    ConfigError,
    CQLSyntaxError,
    LocalProtocolError,
    QueryError,
    RecordError,
    RemoteProtocolError,
    SvodError,
    TargetDiagnostic,
    TargetError,
    TargetTimeout,
    TargetUnreachable,
    UnsupportedIndex,
)
from core.records import Contributor, Hit, Holding, HoldingStatus, RawRecord, Record
from core.status import TargetState, TargetStatus
from core.target import Target, Timeouts

__all__ = [
    "CQLSyntaxError",
    "ConfigError",
    "Contributor",
    "Diagnostic",
    "Hit",
    "Holding",
    "HoldingStatus",
    "LocalProtocolError",
    "QueryError",
    "RawRecord",
    "Record",
    "RecordError",
    "RemoteProtocolError",
    "SvodError",
    "Target",
    "TargetDiagnostic",
    "TargetError",
    "TargetState",
    "TargetStatus",
    "TargetTimeout",
    "TargetUnreachable",
    "Timeouts",
    "UnsupportedIndex",
    "diagnostic_meaning",
]
