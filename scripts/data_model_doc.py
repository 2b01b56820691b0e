"""Write docs/DATA_MODEL.md from aftersale.domain.tables (a test checks it is up to date)."""

from __future__ import annotations

from pathlib import Path

from aftersale.domain.tables import CANONICAL_TABLES

DOC = Path(__file__).resolve().parents[1] / "docs" / "DATA_MODEL.md"

_TYPES = {
    "string": "text",
    "int64": "integer (64-bit)",
    "float64": "float",
    "bool": "boolean",
    "timestamp": "timestamp (UTC)",
    "json": "JSON text",
}

_INTRO = """\
# Data model

Generated from `src/aftersale/domain/tables.py` by `uv run python scripts/data_model_doc.py`;
a test fails when the two disagree.

Conventions that hold in every table:

- **Money** is an integer count of the currency's minor unit (`*_minor`) next to an ISO 4217
  `currency`; the exponent is the currency's own (EUR 2 digits, JPY none, KWD 3).
- **Time** is a timestamp in UTC. A customer's own IANA time zone is kept on the customer.
- **Keys**: every table has one natural-key column; loads merge on it, so loading the same data
  twice changes nothing.
- **Lineage**: `source` (the source system), `source_file` (the file or batch that last wrote the
  row) and `loaded_at` (when aftersale wrote it) are on every table.
- **JSON** columns hold JSON text, so every warehouse backend can store them.
- Text that looks like a spreadsheet formula is stored as it came; exports neutralise it.
"""


def render() -> str:
    """Return the Markdown document."""
    parts = [_INTRO]
    for table in CANONICAL_TABLES.values():
        parts.append(f"\n## `{table.name}`\n\n{table.description} Key: `{table.key}`.\n\n")
        parts.append("| column | type | unit | required | meaning |\n|---|---|---|---|---|\n")
        for col in table.columns:
            required = "yes" if not col.nullable else ""
            parts.append(
                f"| `{col.name}` | {_TYPES[col.type]} | {col.unit} | {required} "
                f"| {col.description} |\n"
            )
    return "".join(parts)


if __name__ == "__main__":
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
