"""Bib-1 and SRU diagnostics: a code, its standard meaning, and the server's addinfo.

The meanings are data (``core/data/bib1-diagnostics.csv``, ``core/data/sru-diagnostics.csv``),
loaded once on first use.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Diagnostic", "diagnostic_meaning"]


@cache
def _table(diagset: str) -> dict[int, str]:
    name = {"bib-1": "bib1-diagnostics.csv", "sru": "sru-diagnostics.csv"}.get(diagset)
    if name is None:
        return {}
    text = resources.files("core").joinpath("data", name).read_text("utf-8")
    return {
        int(row[0]): row[1] for row in csv.reader(text.splitlines()) if row and row[0].isdigit()
    }


def diagnostic_meaning(diagset: str, code: int) -> str:
    """Standard text for a code: ``("bib-1", 114)`` -> "Unsupported Use attribute"."""
    return _table(diagset).get(code, f"{diagset} diagnostic {code}")


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A diagnostic from a Z39.50 (``bib-1``) or SRU (``sru``) server, or one we raise."""

    diagset: str
    code: int
    message: str = ""
    addinfo: str = ""

    @classmethod
    def of(cls, diagset: str, code: int, addinfo: str = "") -> Diagnostic:
        """Build a diagnostic with its standard meaning looked up from the tables."""
        return cls(diagset, code, diagnostic_meaning(diagset, code), addinfo)

    def __str__(self) -> str:
        text = self.message or diagnostic_meaning(self.diagset, self.code)
        extra = f": {self.addinfo}" if self.addinfo else ""
        return f"{self.diagset} {self.code} {text}{extra}"
