"""Run SQL text that aftersale compiled itself, without Ibis parsing it again.

The decision engine compiles its queries once (Ibis → SQL) and reuses the text for every
real-time pass; handing that text back to Ibis would re-parse it with SQLGlot each time
(hundreds of milliseconds). DuckDB runs it directly; other backends go through Ibis.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = ["fetch_arrow"]


def fetch_arrow(backend: Any, sql: str) -> pa.Table:
    """The result of ``sql`` on an Ibis backend as an Arrow table."""
    if getattr(backend, "name", None) == "duckdb":
        return backend.con.execute(sql).fetch_arrow_table()
    return backend.sql(sql).to_pyarrow()
