"""The load report: what a load read, stored, merged, skipped and quarantined, and why.

Every row read ends in exactly one bucket: loaded (new), merged (changed a stored row),
unchanged (identical to what was stored), duplicate (an exact repeat, or a repeated
``messageId``) or quarantined. :meth:`LoadReport.balanced` checks that nothing was lost.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["FileReport", "LoadReport", "TableCounts"]


@dataclass(slots=True)
class FileReport:
    """One file of a load."""

    path: str
    sha256: str
    bytes: int
    encoding: str
    had_bom: bool
    rows_read: int = 0
    exact_reader: bool = False


@dataclass(slots=True)
class TableCounts:
    """What a load did to one canonical table."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(slots=True)
class LoadReport:
    """Counts of one load, returned by :func:`aftersale.ingest` and printed by the CLI."""

    load_id: str
    kind: str
    source_format: str
    started_at: datetime
    finished_at: datetime | None = None
    files: list[FileReport] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_merged: int = 0
    rows_unchanged: int = 0
    rows_duplicate: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    tables: dict[str, TableCounts] = field(default_factory=dict)
    notes: Counter[str] = field(default_factory=Counter)

    @property
    def rows_quarantined(self) -> int:
        """Rows sent to quarantine, all reasons together."""
        return sum(self.quarantined.values())

    def balanced(self) -> bool:
        """True when every row read is accounted for in exactly one bucket."""
        return self.rows_read == (
            self.rows_loaded
            + self.rows_merged
            + self.rows_unchanged
            + self.rows_duplicate
            + self.rows_quarantined
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (timestamps as RFC 3339)."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        data["quarantined"] = dict(sorted(self.quarantined.items()))
        data["rows_quarantined"] = self.rows_quarantined
        data["notes"] = dict(sorted(self.notes.items()))
        data["balanced"] = self.balanced()
        return data

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)
