"""Per-target status of a search: a target's failure is a status, not an exception."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.diagnostics import Diagnostic

__all__ = ["TargetState", "TargetStatus"]


class TargetState(StrEnum):
    """Lifecycle of one target inside one search."""

    IDLE = "idle"
    CONNECTING = "connecting"
    SEARCHING = "searching"
    PRESENTING = "presenting"
    DONE = "done"
    ERROR = "error"
    TIMEOUT = "timeout"

    @property
    def finished(self) -> bool:
        return self in (TargetState.DONE, TargetState.ERROR, TargetState.TIMEOUT)


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """What one library did in one search: state, hit count, records fetched, why it failed."""

    target_id: str
    state: TargetState = TargetState.IDLE
    hits: int = 0
    records: int = 0
    message: str = ""
    diagnostic: Diagnostic | None = None
    elapsed: float = 0.0
